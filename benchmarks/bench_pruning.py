"""The default study with and without pruning: epochs trained, wall time, best validation accuracy.

Usage: python benchmarks/bench_pruning.py [--trials 100] [--epochs 50] [--samples 500] [--jobs 2] [--seeds 0]
                                          [--strategy random]

Each seed runs the same study three times in one process: without pruning (the baseline), with
``--prune halving`` and with ``--prune hyperband`` (min 5 epochs, eta 3), and prints each one's
figures and their ratios to the baseline of the same run. The studies draw no figures: the wall
time is the search's, not the same fixed second of figures added to each.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import _common  # noqa: F401
from _common import emit, load_note, machine

from hpsearch import Study
from hpsearch.builtin.config import TrainConfig


def run(prune: str, args: argparse.Namespace, seed: int, directory: str) -> dict:
    study = Study(f"{prune}-{seed}", strategy=args.strategy, n_trials=args.trials, n_jobs=args.jobs,
                  seed=seed, config=TrainConfig(epochs=args.epochs, samples=args.samples), directory=directory,
                  progress=False, prune=prune, figures=False)
    start = time.perf_counter()
    study.optimize()
    wall = time.perf_counter() - start
    best = study.best_trial
    return {
        "prune": prune,
        "seed": seed,
        "epochs_trained": sum(t.epochs for t in study.trials),
        "epochs_unpruned": len(study.trials) * args.epochs,
        "wall_s": wall,
        "best_val_acc": best.val_acc if best else None,
        "best_trial": best.number if best else None,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--samples", type=int, default=500, help="images, 80%% trained (default 500)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--strategy", default="random", choices=("random", "grid", "bayes"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args(argv)
    print(f"{args.strategy} study, {args.trials} trials, {args.epochs} epochs, --jobs {args.jobs}; "
          f"{machine()}; {load_note()}")
    with tempfile.TemporaryDirectory() as directory:
        for seed in args.seeds:
            base = run("none", args, seed, directory)
            for result in (base, run("halving", args, seed, directory), run("hyperband", args, seed, directory)):
                share = result["epochs_trained"] / base["epochs_trained"]
                speed = base["wall_s"] / result["wall_s"]
                print(f"seed {seed} {result['prune']:>9}: {result['epochs_trained']:5d} epochs "
                      f"({share:4.0%} of unpruned), {result['wall_s']:6.1f} s wall ({speed:.2f}x), "
                      f"best val_acc {result['best_val_acc']:.3f} (trial {result['best_trial']}; "
                      f"unpruned {base['best_val_acc']:.3f})")
                emit("pruning", **result, epochs_ratio=share, wall_speedup=speed,
                     best_minus_unpruned=result["best_val_acc"] - base["best_val_acc"])


if __name__ == "__main__":
    main()
