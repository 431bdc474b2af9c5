"""One trial of the seed experiment: hpsearch's train_trial vs the book's code, on one core.

Usage: python benchmarks/bench_trial.py [--repeats 9] [--seeds 3] [--epochs 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common  # noqa: F401  (puts benchmarks/ on sys.path)
from _common import emit, load_note, machine
from book_baseline import book_trial
from threadpoolctl import threadpool_limits

from hpsearch.builtin.config import TrainConfig
from hpsearch.builtin.objective import train_trial
from hpsearch.data.split import make_split


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=9, help="timed runs of each (median reported)")
    ap.add_argument("--seeds", type=int, default=3, help="trial seeds for the accuracy comparison")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--weight-decay", type=float, default=1e-6)
    args = ap.parse_args(argv)

    config = TrainConfig(epochs=args.epochs)
    params = {"lr": args.lr, "weight_decay": args.weight_decay}
    split = make_split(config.dataset, config.samples, config.val_ratio, 0, "float32")
    print(f"seed-experiment trial: 500 images, 20% val, 784-100x6-10, {args.epochs} epochs, batch 100, "
          f"lr={args.lr:g}, weight_decay={args.weight_decay:g}; one BLAS thread; {machine()}; {load_note()}")

    with threadpool_limits(limits=1):
        train_trial(config, params, 0, 0)  # warm-up: data loading and caches
        book_trial(split, args.lr, args.weight_decay, seed=0, epochs=1)
        hp_times, book_times = [], []
        for r in range(args.repeats):  # interleaved, so that load changes hit both alike
            t = time.perf_counter()
            train_trial(config, params, 0, r)
            hp_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            book_trial(split, args.lr, args.weight_decay, seed=r, epochs=args.epochs)
            book_times.append(time.perf_counter() - t)
        hp_acc, book_acc = [], []
        for s in range(args.seeds):
            hp_acc.append(train_trial(config, params, 0, 100 + s).val_acc)
            book_acc.append(float(book_trial(split, args.lr, args.weight_decay, seed=100 + s, epochs=args.epochs)[0][-1]))

    hp, book = statistics.median(hp_times), statistics.median(book_times)
    print(f"hpsearch train_trial : {hp:.3f} s/trial (median of {args.repeats}; all: "
          + ", ".join(f"{t:.3f}" for t in hp_times) + ")")
    print(f"book baseline        : {book:.3f} s/trial (median of {args.repeats}; all: "
          + ", ".join(f"{t:.3f}" for t in book_times) + ")")
    print(f"speed-up             : {book / hp:.2f}x (target >= 5x)")
    # Each repeat ran both codes back to back, so its ratio shows how much the machine's load
    # moved the figure during this run.
    pairs = sorted(b / h for h, b in zip(hp_times, book_times))
    print("  per-repeat ratios    : " + ", ".join(f"{r:.2f}" for r in pairs)
          + f" (median {statistics.median(pairs):.2f}x)")
    print(f"validation accuracy over {args.seeds} seeds: hpsearch {statistics.mean(hp_acc):.3f} "
          f"{[round(a, 3) for a in hp_acc]}, book {statistics.mean(book_acc):.3f} {[round(a, 3) for a in book_acc]}")
    emit("trial", what="seconds_per_trial", hpsearch=hp, book=book, ratio=book / hp, pair_ratios=pairs,
         repeats=args.repeats, epochs=args.epochs, hpsearch_all=hp_times, book_all=book_times)
    emit("trial", what="val_acc", hpsearch_mean=statistics.mean(hp_acc), book_mean=statistics.mean(book_acc),
         hpsearch=hp_acc, book=book_acc, seeds=args.seeds, lr=args.lr, weight_decay=args.weight_decay)


if __name__ == "__main__":
    main()
