"""The driver's cost per trial: an objective that returns at once, against the built-in path.

Usage: python benchmarks/bench_objective.py [--trials 1000] [--jobs 2]

Each path runs a random study of ``--trials`` trials and one of a tenth as many; the difference
of their wall times, divided by the difference of their trial counts, is the cost of one more
trial (asking, sending the task, the worker's set-up, logging, reporting), with the fixed cost
(imports, starting workers) taken out. The built-in path trains a network of one hidden unit
for one epoch on 20 images, the least it can train; the objective path returns a number at once
but gets the same 20-image split in its handle. Prints both, their ratio, and ``JSON`` lines.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import emit, load_note, machine

from hpsearch import Study, TrainConfig

CONFIG = TrainConfig(epochs=1, hidden=(1,), samples=50, val_ratio=0.4, batch_size=10)


def trivial(trial):  # noqa: ANN001, ANN201 (the user's function, as simple as it gets)
    return 0.5


def _seconds(folder: Path, name: str, n: int, jobs: int, objective: object) -> float:
    start = time.perf_counter()
    Study(
        name,
        objective=objective,  # type: ignore[arg-type]
        n_trials=n,
        n_jobs=jobs,
        config=CONFIG,
        directory=folder,
        confirm=0,
        progress=False,
    ).optimize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    small = max(args.trials // 10, 1)
    print(f"objective overhead: {machine()}, {load_note()}")
    per_trial = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, objective in (("built-in", None), ("objective", trivial)):
            big = _seconds(folder, f"{label}-big", args.trials, args.jobs, objective)
            few = _seconds(folder, f"{label}-small", small, args.jobs, objective)
            per_trial[label] = (big - few) / (args.trials - small)
            print(
                f"{label:>9}: {args.trials} trials {big:.2f} s, {small} trials {few:.2f} s, "
                f"{per_trial[label] * 1000:.2f} ms per trial"
            )
            emit("objective_overhead", path=label, ms_per_trial=per_trial[label] * 1000)
    ratio = per_trial["objective"] / per_trial["built-in"]
    print(f"objective / built-in per trial: {ratio:.2f}")
    emit("objective_overhead_ratio", ratio=ratio)


if __name__ == "__main__":
    main()
