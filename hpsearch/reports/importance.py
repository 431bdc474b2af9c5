"""Which setting matters: each searched parameter's share of the variance of the study's metric.

The share comes from permutation importance (scikit-learn) of a random forest fitted to the
trials: how much of the metric's variance the forest no longer explains (the drop in R²) when
one parameter's values are shuffled among the trials, measured on the trials the forest did not
see. Each parameter's drop (a negative one counts as none) over the sum of the drops is its
share, so the shares add up to one, as Optuna's importances do. Over bootstrap resamples of the
trials the table gives the median share and a 95% interval (2.5th to 97.5th percentile): a
parameter the metric does not depend on comes out near zero, its interval including zero.

Which trials count: COMPLETE ones with a finite metric. PRUNED trials (scored after fewer
epochs than the others), DIVERGED, TIMEOUT and FAILED ones are left out: their score is not
the metric at the study's budget. Parameters enter on their search scale: a log range as its
logarithm, a choice as its index (the forest splits on it as on any other value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hpsearch.records import Goal, TrialResult, TrialState
from hpsearch.space.dimensions import Categorical, RangeDimension
from hpsearch.space.search_space import SearchSpace

__all__ = ["MIN_TRIALS", "Importance", "importance", "usable"]

#: Fewer usable trials than this give a note, not a number.
MIN_TRIALS = 8
RESAMPLES = 30
TREES = 60


@dataclass(frozen=True)
class Importance:
    """The importance table of a study, or why there is none.

    Attributes:
        table: Columns ``param``, ``share`` (median share of the variance explained),
            ``low``, ``high`` (its 95% interval), best first; empty when there is a note.
        trials: The trials the table is measured on.
        note: Why there is no table (too few usable trials), else None.
    """

    table: pd.DataFrame
    trials: int
    note: str | None = None


def usable(trials: Sequence[TrialResult], goal: Goal) -> list[TrialResult]:
    """The trials importance is measured on: COMPLETE, with a finite metric."""
    return [t for t in trials if t.state is TrialState.COMPLETE and goal.of(t) is not None]


def _features(trials: Sequence[TrialResult], space: SearchSpace) -> np.ndarray:
    columns = []
    for name in space.names:
        dim = space[name]
        values = [t.params.get(name) for t in trials]
        if isinstance(dim, Categorical):
            index = {repr(c): i for i, c in enumerate(dim.choices)}
            columns.append([float(index.get(repr(v), -1)) for v in values])
        elif isinstance(dim, RangeDimension):
            columns.append([dim.position(v) for v in values])
        else:
            columns.append([math.nan if v is None else float(v) for v in values])
    return np.array(columns, dtype=float).T


def importance(
    trials: Sequence[TrialResult], space: SearchSpace, goal: Goal, seed: int = 0
) -> Importance:
    """Each searched parameter's share of the variance of the goal's metric, with its interval.

    Deterministic in ``seed`` (the study seed): the resamples and the forests draw from it.

    Example:
        >>> importance(study.trials, study.space, study.goal, study.seed).table  # doctest: +SKIP
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    scored = usable(trials, goal)
    empty = pd.DataFrame(columns=["param", "share", "low", "high"])
    if len(scored) < MIN_TRIALS:
        return Importance(
            empty,
            len(scored),
            f"importance needs at least {MIN_TRIALS} COMPLETE trials with a {goal.metric}; "
            f"this study has {len(scored)}",
        )
    x = _features(scored, space)
    y = np.array([goal.of(t) for t in scored], dtype=float)
    if np.ptp(y) == 0:
        return Importance(
            empty, len(scored), f"every usable trial has the same {goal.metric}: nothing to explain"
        )
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(4,)))
    shares: list[np.ndarray] = []
    n = len(scored)
    for _ in range(RESAMPLES):
        drawn = rng.integers(n, size=n)
        held = np.setdiff1d(np.arange(n), drawn)
        if len(held) < 3 or np.ptp(y[held]) == 0:
            continue
        forest = RandomForestRegressor(
            n_estimators=TREES, min_samples_leaf=2, random_state=int(rng.integers(1 << 31))
        )
        forest.fit(x[drawn], y[drawn])
        result = permutation_importance(
            forest, x[held], y[held], n_repeats=5, random_state=int(rng.integers(1 << 31))
        )
        drop = np.clip(result.importances_mean, 0.0, None)  # below zero: noise, no share
        if drop.sum() > 0:
            shares.append(drop / drop.sum())
    if not shares:
        return Importance(empty, n, "the trials are too alike to measure importance")
    stacked = np.array(shares)
    low, mid, high = np.percentile(stacked, [2.5, 50, 97.5], axis=0)
    table = pd.DataFrame({"param": list(space.names), "share": mid, "low": low, "high": high})
    table = table.sort_values(["share", "param"], ascending=[False, True], kind="mergesort")
    return Importance(table.reset_index(drop=True), n)


def display(result: Importance) -> pd.DataFrame:
    """The table as strings for reading: two decimals (the resamples support no more)."""
    rows = [
        {
            "param": row["param"],
            "share of variance": f"{row['share']:.2f}",
            "95% interval": f"{row['low']:.2f} to {row['high']:.2f}",
        }
        for row in result.table.to_dict("records")
        if not math.isnan(row["share"])
    ]
    return pd.DataFrame(rows, columns=["param", "share of variance", "95% interval"])
