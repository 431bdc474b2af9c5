"""Sample efficiency: best validation accuracy after 15, 30 and 60 trials, random vs bayes vs grid.

Usage: python benchmarks/bench_efficiency.py [--seeds 5] [--epochs 50] [--checkpoints 15,30,60]
                                             [--grid 16,64] [--jobs 2] [--space default|mixed]
                                             [--lag 0|1]

Each study seed runs one random study and one bayes study of max(checkpoints) trials on the
seed experiment (the best after k trials is the best of trial numbers < k), and one grid study
per --grid size ('' for none). Reports the median over seeds. The confirm stage is not run: this
measures the search alone. Expensive at full size (~0.3 s a trial); --epochs / --seeds run it
smaller, and the output says what was run.

--space default searches lr and weight decay (the seed experiment); --space mixed adds the
optimizer (sgd, momentum, adam) and the activation (relu, sigmoid, tanh): categorical dimensions,
where bayes must still not fall below random search. --lag sets how many batches bayes's
proposals may run behind (the Study's own choice when not given: 1, the next batch proposed
while the current one trains; 0, the batch asked only after the previous one was told).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import _common  # noqa: F401
from _common import emit, load_note, machine

from hpsearch import Study
from hpsearch.builtin.config import TrainConfig
from hpsearch.space.dimensions import Categorical, LogUniform
from hpsearch.space.search_space import SearchSpace, default_space


def mixed_space() -> SearchSpace:
    """lr and weight decay as in the seed experiment, plus the optimizer and the activation."""
    return SearchSpace({"lr": LogUniform(1e-6, 1e-2), "weight_decay": LogUniform(1e-8, 1e-4),
                        "optimizer": Categorical(["sgd", "momentum", "adam"]),
                        "activation": Categorical(["relu", "sigmoid", "tanh"])})


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
    ap.add_argument("--space", choices=("default", "mixed"), default="default")
    ap.add_argument("--lag", type=int, choices=(0, 1), default=None)
    args = ap.parse_args(argv)
    space = mixed_space() if args.space == "mixed" else default_space()
    checkpoints = [int(c) for c in args.checkpoints.split(",")]
    grids = [int(g) for g in args.grid.split(",") if g]
    n = max(checkpoints)
    config = TrainConfig(epochs=args.epochs)
    print(f"ran: seeds 0..{args.seeds - 1}, {args.epochs} epochs per trial (seed experiment otherwise), "
          f"space {args.space} {list(space)}, {n} trials per random/bayes study, grids {grids}, "
          f"bayes lag {'the Study default' if args.lag is None else args.lag}, n_jobs={args.jobs}; "
          f"{machine()}; {load_note()}")

    best: dict[str, dict[int, list[float]]] = {"random": {k: [] for k in checkpoints},
                                               "bayes": {k: [] for k in checkpoints},
                                               "grid": {g: [] for g in grids}}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for kind in ("random", "bayes"):
                study = Study(f"{kind}-{seed}", strategy=kind, n_trials=n, n_jobs=args.jobs, seed=seed,
                              config=config, directory=tmp, progress=False, figures=False, space=space,
                              confirm=0)
                if kind == "bayes" and args.lag is not None:
                    study.lag = args.lag
                study.optimize()
                for k in checkpoints:
                    best[kind][k].append(best_after(study, k))
            for g in grids:
                study = Study(f"grid{g}-{seed}", strategy="grid", n_trials=g, n_jobs=args.jobs, seed=seed,
                              config=config, directory=tmp, progress=False, figures=False, space=space,
                              confirm=0)
                study.optimize()
                best["grid"][g].append(best_after(study, g))
            print(f"  seed {seed}: random {[best['random'][k][-1] for k in checkpoints]}, "
                  f"bayes {[best['bayes'][k][-1] for k in checkpoints]}, "
                  f"grid {[best['grid'][g][-1] for g in grids]} ({time.perf_counter() - start:.0f} s)",
                  flush=True)

    print(f"median best validation accuracy over {args.seeds} seeds ({args.epochs} epochs per trial, "
          f"space {args.space}):")
    for k in checkpoints:
        r, b = statistics.median(best["random"][k]), statistics.median(best["bayes"][k])
        print(f"  after {k:3d} trials: random {r:.3f}  bayes {b:.3f}  (bayes - random {b - r:+.3f})")
        emit("efficiency", trials=k, random=r, bayes=b, bayes_minus_random=b - r, space=args.space,
             lag=args.lag, random_all=best["random"][k], bayes_all=best["bayes"][k], seeds=args.seeds,
             epochs=args.epochs)
    for g in grids:
        v = statistics.median(best["grid"][g])
        print(f"  grid of {g:3d}        : {v:.3f}")
        emit("efficiency", trials=g, grid=v, grid_all=best["grid"][g], seeds=args.seeds, epochs=args.epochs,
             space=args.space)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
