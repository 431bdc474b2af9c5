"""Importance at the speed of the study: ``importance`` on 1,000 and 10,000 trials.

Usage: python benchmarks/bench_importance.py [--sizes 1000 10000] [--runs 3] [--resamples 30]

A study of three parameters (a log range the metric depends on, a categorical it depends on a
little, a range it ignores) is written with N told trials. Timed, medians of ``--runs``:

- ``before``: the computation as it was before this version (permutation importance of a random
  forest over 30 bootstrap resamples, scikit-learn; kept below as the baseline), on the same
  trials, in this same run;
- ``after``: :func:`hpsearch.reports.importance.importance` on the same trials;
- ``command``: the whole ``python -m hpsearch importance NAME`` (start-up, reading the logs,
  the computation, the CSV, PNG and page written), a process of its own.

Prints the figures and their ratios, each parameter's share and interval (the two methods
should agree on the order: lr first, the ignored range near zero), and ``JSON {...}`` lines.
The targets: the computation at most 1 s and the command at most 2 s at 1,000 trials, at most
5 s at 10,000. Takes about a minute at the default sizes (the baseline dominates).
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import emit, load_note, machine

from hpsearch import Categorical, LogUniform, Study, Uniform
from hpsearch.records import Goal, TrialResult, TrialState
from hpsearch.reports.importance import importance
from hpsearch.settings import Settings
from hpsearch.space.search_space import SearchSpace
from hpsearch.storage.jsonl import append_record

SPACE = {
    "lr": LogUniform(1e-4, 1.0),
    "noise": Uniform(0.0, 1.0),
    "opt": Categorical(["sgd", "adam"]),
}


def trials(n: int) -> list[TrialResult]:
    rng = np.random.default_rng(1)
    space = SearchSpace(SPACE)
    out = []
    for i in range(n):
        p = space.sample(rng)
        score = 0.9 - 0.1 * abs(math.log10(p["lr"]) + 2) - (0.05 if p["opt"] == "sgd" else 0.0)
        out.append(
            TrialResult(i, p, TrialState.COMPLETE, val_acc=score + 0.01 * rng.standard_normal())
        )
    return out


def before(
    records: list[TrialResult], space: SearchSpace, seed: int = 0, resamples: int = 30
) -> dict[str, tuple]:
    """The computation before this version: permutation importance of a random forest."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    x = np.array(
        [
            [
                float(list(space[k].choices).index(t.params[k]))
                if isinstance(space[k], Categorical)
                else space[k].position(t.params[k])
                for k in space.names
            ]
            for t in records
        ]
    )
    y = np.array([t.val_acc for t in records])
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(4,)))
    shares, n = [], len(records)
    for _ in range(resamples):
        drawn = rng.integers(n, size=n)
        held = np.setdiff1d(np.arange(n), drawn)
        forest = RandomForestRegressor(
            n_estimators=60, min_samples_leaf=2, random_state=int(rng.integers(1 << 31))
        )
        forest.fit(x[drawn], y[drawn])
        result = permutation_importance(
            forest, x[held], y[held], n_repeats=5, random_state=int(rng.integers(1 << 31))
        )
        drop = np.clip(result.importances_mean, 0.0, None)
        if drop.sum() > 0:
            shares.append(drop / drop.sum())
    low, mid, high = np.percentile(np.array(shares), [2.5, 50, 97.5], axis=0)
    return {k: (m, lo, hi) for k, m, lo, hi in zip(space.names, mid, low, high, strict=True)}


def study_folder(root: Path, records: list[TrialResult]) -> str:
    """A study with ``records`` told: made through the API, the rest of its log appended."""
    study = Study(
        "imp", space=SPACE, config=Settings(), directory=root, progress=False, n_trials=len(records)
    )
    handle = study.ask()
    study.tell(handle, records[0].val_acc)
    log, asked = root / "imp" / "trials.jsonl", root / "imp" / "asked.jsonl"
    for record in records[1:]:
        append_record(asked, {"number": record.number, "params": record.params})
        append_record(log, {**record.to_json(), "finished": 0.0})
    return "imp"


def timed(fn, runs: int) -> float:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=30, help="the baseline's bootstrap resamples")
    args = parser.parse_args()
    print(f"importance: {machine()}, {load_note()}")
    space = SearchSpace(SPACE)
    for n in args.sizes:
        records = trials(n)
        old = timed(lambda r=records: before(r, space, resamples=args.resamples), 1 if n > 2000 else args.runs)
        new = timed(lambda r=records: importance(r, space, Goal(), 0), args.runs)
        with tempfile.TemporaryDirectory() as tmp:
            name = study_folder(Path(tmp), records)
            command = [sys.executable, "-m", "hpsearch", "importance", name, "--out", tmp]
            whole = timed(
                lambda c=command: subprocess.run(c, check=True, capture_output=True), args.runs
            )
        table = importance(records, space, Goal(), 0).table.set_index("param")
        shares = {
            k: (
                round(float(table.loc[k, "share"]), 3),
                round(float(table.loc[k, "low"]), 3),
                round(float(table.loc[k, "high"]), 3),
            )
            for k in space.names
        }
        baseline = (
            {
                k: tuple(round(float(v), 3) for v in vals)
                for k, vals in before(records, space, resamples=args.resamples).items()
            }
            if n <= 2000
            else None
        )
        print(
            f"{n:>6} trials: before {old:.2f} s, after {new:.3f} s ({old / new:.0f}x faster), "
            f"whole command {whole:.2f} s"
        )
        print(f"        shares after (median, low, high): {shares}")
        if baseline:
            print(f"        shares before:                    {baseline}")
        emit(
            "importance",
            trials=n,
            before_s=old,
            after_s=new,
            command_s=whole,
            ratio=old / new,
            shares=shares,
            baseline=baseline,
        )


if __name__ == "__main__":
    main()
