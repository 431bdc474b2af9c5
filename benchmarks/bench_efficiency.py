"""Sample efficiency: best validation accuracy after 15, 30 and 60 trials, random vs bayes vs grid.

Usage: python benchmarks/bench_efficiency.py [--seeds 5] [--epochs 50] [--checkpoints 15,30,60]
                                             [--grid 16,64] [--jobs 2]

Each study seed runs one random study and one bayes study of max(checkpoints) trials on the
default seed experiment (the best after k trials is the best of trial numbers < k), and one grid
study per --grid size. Reports the median over seeds. Expensive at full size (~0.3 s a trial);
--epochs / --seeds run it smaller, and the output says what was run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import _common  # noqa: F401
from _common import emit, load_note, machine

from hpsearch import Study
from hpsearch.config import TrainConfig


def best_after(study: Study, k: int) -> float:
    scores = [t.val_acc for t in study.trials if t.number < k and t.ok and t.val_acc is not None]
    return max(scores) if scores else 0.0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--checkpoints", default="15,30,60")
    ap.add_argument("--grid", default="16,64")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    checkpoints = [int(c) for c in args.checkpoints.split(",")]
    grids = [int(g) for g in args.grid.split(",") if g]
    n = max(checkpoints)
    config = TrainConfig(epochs=args.epochs)
    print(f"ran: seeds 0..{args.seeds - 1}, {args.epochs} epochs per trial (default seed experiment "
          f"otherwise), {n} trials per random/bayes study, grids {grids}, n_jobs={args.jobs}; "
          f"{machine()}; {load_note()}")

    best: dict[str, dict[int, list[float]]] = {"random": {k: [] for k in checkpoints},
                                               "bayes": {k: [] for k in checkpoints},
                                               "grid": {g: [] for g in grids}}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for kind in ("random", "bayes"):
                study = Study(f"{kind}-{seed}", strategy=kind, n_trials=n, n_jobs=args.jobs, seed=seed,
                              config=config, directory=tmp, progress=False)
                study.optimize()
                for k in checkpoints:
                    best[kind][k].append(best_after(study, k))
            for g in grids:
                study = Study(f"grid{g}-{seed}", strategy="grid", n_trials=g, n_jobs=args.jobs, seed=seed,
                              config=config, directory=tmp, progress=False)
                study.optimize()
                best["grid"][g].append(best_after(study, g))
            print(f"  seed {seed}: random {[best['random'][k][-1] for k in checkpoints]}, "
                  f"bayes {[best['bayes'][k][-1] for k in checkpoints]}, "
                  f"grid {[best['grid'][g][-1] for g in grids]} ({time.perf_counter() - start:.0f} s)",
                  flush=True)

    print(f"median best validation accuracy over {args.seeds} seeds ({args.epochs} epochs per trial):")
    for k in checkpoints:
        r, b = statistics.median(best["random"][k]), statistics.median(best["bayes"][k])
        print(f"  after {k:3d} trials: random {r:.3f}  bayes {b:.3f}  (bayes - random {b - r:+.3f})")
        emit("efficiency", trials=k, random=r, bayes=b, bayes_minus_random=b - r,
             random_all=best["random"][k], bayes_all=best["bayes"][k], seeds=args.seeds, epochs=args.epochs)
    for g in grids:
        v = statistics.median(best["grid"][g])
        print(f"  grid of {g:3d}        : {v:.3f}")
        emit("efficiency", trials=g, grid=v, grid_all=best["grid"][g], seeds=args.seeds, epochs=args.epochs)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
