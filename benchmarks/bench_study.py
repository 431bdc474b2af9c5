"""The default random study: n_jobs=1 vs n_jobs=2, and the book's code run sequentially.

Usage: python benchmarks/bench_study.py [--trials 100] [--book-trials 20] [--epochs 50] [--rounds 1]
       [--confirm 0]

The studies run without a confirm stage unless ``--confirm`` says otherwise (the search alone is
what the book's program does).

The book baseline runs ``--book-trials`` of the study's own trials (same params) one after the
other on one BLAS thread; its time for ``--trials`` is extrapolated from them (said in output).
With ``--rounds N`` the three measurements alternate N times and the medians are reported, which
steadies the figures on a machine whose load changes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import _common  # noqa: F401
from _common import emit, load_note, machine
from book_baseline import book_trial
from threadpoolctl import threadpool_limits

from hpsearch import Study
from hpsearch.builtin.config import TrainConfig
from hpsearch.data.split import make_split


def run_study(n_jobs: int, trials: int, config: TrainConfig, directory: str, name: str,
              confirm: int = 0) -> tuple[float, Study]:
    study = Study(name, strategy="random", n_trials=trials, n_jobs=n_jobs, seed=0,
                  config=config, directory=directory, progress=False, confirm=confirm)
    t = time.perf_counter()
    study.optimize()
    return time.perf_counter() - t, study


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--book-trials", type=int, default=20, help="book-code trials actually run (0: all)")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=1, help="alternate the measurements this many times (medians)")
    ap.add_argument("--confirm", type=int, default=0, help="the studies' confirm stage (default 0: search only)")
    args = ap.parse_args(argv)
    config = TrainConfig(epochs=args.epochs)
    print(f"random study, {args.trials} trials, {args.epochs} epochs; {machine()}; {load_note()}")

    n_book = args.trials if args.book_trials <= 0 else min(args.book_trials, args.trials)
    split = make_split(config.dataset, config.samples, config.val_ratio, 0, "float32")
    walls1, walls2, books = [], [], []
    same = True
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            wall1, s1 = run_study(1, args.trials, config, tmp, f"bench-jobs1-{r}", args.confirm)
            wall2, s2 = run_study(2, args.trials, config, tmp, f"bench-jobs2-{r}", args.confirm)
            same = same and [t.val_acc for t in s1.trials] == [t.val_acc for t in s2.trials]
            with threadpool_limits(limits=1):
                t = time.perf_counter()
                for trial in s1.trials[:n_book]:
                    book_trial(split, trial.params["lr"], trial.params["weight_decay"], seed=trial.number,
                               epochs=args.epochs)
                book_measured = time.perf_counter() - t
            walls1.append(wall1)
            walls2.append(wall2)
            books.append(book_measured * args.trials / n_book)
            if args.rounds > 1:
                print(f"  round {r + 1}: jobs=1 {wall1:.2f} s, jobs=2 {wall2:.2f} s, book {books[-1]:.2f} s")
    wall1, wall2, book_wall = (statistics.median(w) for w in (walls1, walls2, books))
    book_measured = book_wall * n_book / args.trials
    extrapolated = n_book < args.trials

    tp1, tp2, tpb = args.trials / wall1, args.trials / wall2, args.trials / book_wall
    in1, in2 = sum(t.seconds for t in s1.trials), sum(t.seconds for t in s2.trials)
    if args.rounds > 1:
        print(f"medians of {args.rounds} rounds; the sums of trial seconds are the last round's")
    print(f"hpsearch n_jobs=1 : {wall1:7.2f} s wall, {tp1:.2f} trials/s (sum of trial seconds {in1:.2f})")
    print(f"hpsearch n_jobs=2 : {wall2:7.2f} s wall, {tp2:.2f} trials/s (sum of trial seconds {in2:.2f})")
    print("  (wall time includes the study's pool start-up, log and reports: CSV + plots)")
    print(f"scaling jobs=2 / jobs=1      : {tp2 / tp1:.2f}x (target >= 1.8x); identical results: {same}")
    print(f"book baseline, sequential    : {book_wall:7.2f} s for {args.trials} trials"
          + (f" (extrapolated from {n_book} trials run in {book_measured:.2f} s)" if extrapolated else "")
          + f", {tpb:.3f} trials/s")
    print(f"throughput jobs=2 / book     : {tp2 / tpb:.2f}x (target >= 9x)")
    print(f"throughput jobs=1 / book     : {tp1 / tpb:.2f}x")
    emit("study", what="wall_seconds", trials=args.trials, epochs=args.epochs, jobs1=wall1, jobs2=wall2,
         book=book_wall, book_trials_run=n_book, book_extrapolated=extrapolated, rounds=args.rounds,
         jobs1_all=walls1, jobs2_all=walls2, book_all=books,
         trial_seconds_sum_jobs1=in1, trial_seconds_sum_jobs2=in2)
    emit("study", what="throughput_ratio", scaling_jobs2_over_jobs1=tp2 / tp1, jobs2_over_book=tp2 / tpb,
         jobs1_over_book=tp1 / tpb, trials_per_s_jobs1=tp1, trials_per_s_jobs2=tp2, trials_per_s_book=tpb,
         identical_results=same)


if __name__ == "__main__":
    main()
