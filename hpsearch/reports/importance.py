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

A parameter searched under a condition (``decay_rate`` only where ``optimizer=rmsprop``) enters
at one place outside its range in the trials that lack it, and is shuffled among the trials
that have it alone: its share is what it explains where it acted, never the effect of the
choice that made it absent. The table says in how many usable trials each parameter acted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
            ``low``, ``high`` (its 95% interval), ``active`` (the usable trials that have the
            parameter: fewer than ``trials`` for one searched under a condition), best first;
            empty when there is a note.
        trials: The trials the table is measured on.
        note: Why there is no table (too few usable trials), else None.
    """

    table: pd.DataFrame
    trials: int
    note: str | None = None


def usable(trials: Sequence[TrialResult], goal: Goal) -> list[TrialResult]:
    """The trials importance is measured on: COMPLETE, with a finite metric."""
    return [t for t in trials if t.state is TrialState.COMPLETE and goal.of(t) is not None]


#: Where a trial lacks a parameter (its condition fails): one place outside every range and
#: index, the same for all such trials, so the forest can tell them apart and learns nothing
#: from a value that did nothing.
INACTIVE = -1.0


def _place(dim: Any, value: Any) -> float:
    """A parameter's value on its search scale: a choice's index, a range's position."""
    if isinstance(dim, Categorical):
        return float(next((i for i, c in enumerate(dim.choices) if repr(c) == repr(value)), -1))
    if isinstance(dim, RangeDimension):
        return dim.position(value)
    return math.nan if value is None else float(value)


def _features(trials: Sequence[TrialResult], space: SearchSpace) -> np.ndarray:
    return np.array(
        [
            [_place(space[name], t.params[name]) if name in t.params else INACTIVE for t in trials]
            for name in space.names
        ],
        dtype=float,
    ).T


def _active(trials: Sequence[TrialResult], space: SearchSpace) -> np.ndarray:
    """Which trial has which parameter (False: its condition failed there), trials by rows."""
    return np.array([[name in t.params for name in space.names] for t in trials], dtype=bool)


def _drop_where_active(
    forest: Any,
    x: np.ndarray,
    y: np.ndarray,
    column: int,
    active: np.ndarray,
    rng: np.random.Generator,
    repeats: int = 5,
) -> float:
    """The mean drop in R² when the parameter in ``column`` is shuffled among the trials that
    have it (``active``) alone: it never moves into a trial where it did nothing, nor its
    absence into one where it acted, and the trials without it keep their prediction."""
    rows = np.flatnonzero(active)
    if len(rows) < 2:
        return 0.0
    base = forest.score(x, y)
    drops = []
    for _ in range(repeats):
        shuffled = x.copy()
        shuffled[rows, column] = x[rng.permutation(rows), column]
        drops.append(base - forest.score(shuffled, y))
    return float(np.mean(drops))


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
    active = _active(scored, space)
    conditional = ~active.all(axis=0)
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
        drop = result.importances_mean
        if conditional.any():  # a parameter some trials lack: shuffled where it acted alone
            local = np.random.default_rng(int(rng.integers(1 << 31)))
            for j in np.flatnonzero(conditional):
                drop[j] = _drop_where_active(
                    forest, x[held], y[held], int(j), active[held, j], local
                )
        drop = np.clip(drop, 0.0, None)  # below zero: noise, no share
        if drop.sum() > 0:
            shares.append(drop / drop.sum())
    if not shares:
        return Importance(empty, n, "the trials are too alike to measure importance")
    stacked = np.array(shares)
    low, mid, high = np.percentile(stacked, [2.5, 50, 97.5], axis=0)
    table = pd.DataFrame(
        {
            "param": list(space.names),
            "share": mid,
            "low": low,
            "high": high,
            "active": active.sum(axis=0),
        }
    )
    table = table.sort_values(["share", "param"], ascending=[False, True], kind="mergesort")
    return Importance(table.reset_index(drop=True), n)


def display(result: Importance) -> pd.DataFrame:
    """The table as strings for reading: two decimals (the resamples support no more); with a
    parameter searched under a condition, a column of the trials each parameter acted in."""
    table = result.table
    counted = "active" in table.columns and bool((table["active"] < result.trials).any())
    columns = ["param", "share of variance", "95% interval", *(["trials"] if counted else [])]
    rows = [
        {
            "param": row["param"],
            "share of variance": f"{row['share']:.2f}",
            "95% interval": f"{row['low']:.2f} to {row['high']:.2f}",
            **({"trials": f"{int(row['active'])} of {result.trials}"} if counted else {}),
        }
        for row in table.to_dict("records")
        if not math.isnan(row["share"])
    ]
    return pd.DataFrame(rows, columns=columns)
