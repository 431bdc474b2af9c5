"""The confirm stage on the default study: what it costs, and whether its headline holds up.

Usage: python benchmarks/bench_confirm.py [--rounds 3] [--jobs 2] [--seed 0] [--retrain 10]
       [--trials 100] [--epochs 50]

1. Cost: the default study (100 random trials of the seed experiment) run with --confirm 0 and
   with the default confirm stage (top 5 configurations x 3 repeats), alternated --rounds
   times; reports the median wall times and their ratio (target: at most 1.25).
2. Does the headline hold on data it was not chosen on? The chosen configuration is trained
   --retrain more times with repeat indices the study never used (other seeds) and scored on
   the same test images; reports the headline's test mean, the retrain's mean and their
   difference (target: within 0.02).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import _common  # noqa: F401  (puts benchmarks/ on sys.path)
from _common import emit, load_note, machine

from hpsearch import Study, TrainConfig
from hpsearch.execution.pool import Pool
from hpsearch.execution.workers import Task


def timed_study(folder: str, name: str, args: argparse.Namespace, confirm: int) -> tuple[float, Study]:
    start = time.perf_counter()
    study = Study(name, directory=folder, n_trials=args.trials, n_jobs=args.jobs, seed=args.seed, confirm=confirm,
                  repeats=3, config=TrainConfig(epochs=args.epochs), progress=False)
    study.optimize()
    return time.perf_counter() - start, study


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--retrain", type=int, default=10, help="independent runs of the chosen configuration")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=50)
    args = ap.parse_args(argv)
    print(f"default study ({args.trials} trials of {args.epochs} epochs), --jobs {args.jobs}, seed {args.seed}; "
          f"{machine()}; {load_note()}")

    without, with_confirm = [], []
    study = None
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.rounds):  # alternated, so that load changes hit both alike
            t0, _ = timed_study(folder, f"plain-{r}", args, 0)
            t1, study = timed_study(folder, f"confirmed-{r}", args, 5)
            without.append(t0)
            with_confirm.append(t1)
            print(f"round {r}: search only {t0:.1f} s, with confirm stage {t1:.1f} s, ratio {t1 / t0:.3f}")
        a, b = statistics.median(without), statistics.median(with_confirm)
        print(f"median: search only {a:.1f} s, with confirm stage {b:.1f} s, ratio {b / a:.3f} (target <= 1.25)")
        emit("confirm_cost", search_s=a, confirmed_s=b, ratio=b / a, rounds=args.rounds)

        chosen = study.chosen_trial
        runs = [r for r in study.repeats_done if r.number == chosen.number and not r.refit]
        headline = statistics.fmean(r.test_acc for r in runs)
        # Repeat indices 1000.. were never used by the study: other initial weights and batch orders.
        with Pool(study._session._runner(), study.settings, study.seed, "loky", args.jobs) as pool:
            for i in range(args.retrain):
                pool.submit(Task(chosen.number, chosen.params, repeat=1000 + i))
            retrained = [record.test_acc for _, record, _ in pool.results()]
        mean, sd = statistics.fmean(retrained), statistics.stdev(retrained)
        print(f"chosen trial {chosen.number} {chosen.params}: search val_acc {chosen.val_acc:.2f}; headline test "
              f"{headline:.3f} over {len(runs)} repeats; {args.retrain} independent retrains: test {mean:.3f} ± "
              f"{sd:.3f} on {runs[0].n_test} images; difference {headline - mean:+.3f} (target within 0.02)")
        emit("confirm_holds", chosen=chosen.number, search_val=chosen.val_acc, headline_test=headline,
             retrain_test_mean=mean, retrain_test_sd=sd, difference=headline - mean, n_test=runs[0].n_test)


if __name__ == "__main__":
    main()
