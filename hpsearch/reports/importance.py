"""Which setting matters: each searched parameter's share of the variance of the study's metric.

Each parameter's main effect, as a functional ANOVA measures it: the metric is fitted as a sum
of one step function per parameter (a choice by itself, a range in equal bins of its search
scale), jointly by backfitting, so that no parameter is credited with another's effect. Each
function's variance over the trials, less what chance alone gives as many steps (so a
parameter the metric ignores comes out at zero, not at a small positive share), over the
metric's variance, is its part; each part over the sum of the parts is its share, so the
shares add up to one, as Optuna's importances do. Over bootstrap resamples of the trials the
table gives the median share and a 95% interval (2.5th to 97.5th percentile): a parameter the
metric does not depend on comes out near zero, its interval including zero. A parameter
searched under a condition is measured on the trials that have it. It is counts and sums over
cells of trials (no model is trained), so 10,000 trials take a fraction of a second, with the
same numbers for the same seed on every machine (sums in a fixed order).

Which trials count: COMPLETE ones with a finite metric. PRUNED trials (scored after fewer
epochs than the others), DIVERGED, TIMEOUT and FAILED ones are left out: their score is not
the metric at the study's budget.
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
RESAMPLES = 200
#: The most bins a range is cut into; fewer with few trials (about one bin per 8 trials).
MAX_BINS = 10
#: Rounds of backfitting (each parameter's step function fitted to what the others leave).
BACKFIT = 8


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


def _groups(trials: Sequence[TrialResult], space: SearchSpace) -> list[np.ndarray]:
    """Per parameter, each trial's group: the index of its choice or of its bin on the search
    scale, -1 where a condition left the parameter unsearched."""
    n_bins = int(min(MAX_BINS, max(2, len(trials) // 8)))
    out = []
    for name, dim in space.items():
        values = [t.params.get(name) for t in trials]
        if isinstance(dim, Categorical):
            index = {repr(c): i for i, c in enumerate(dim.choices)}
            group = [
                index.get(repr(v), -1) if name in t.params else -1
                for t, v in zip(trials, values, strict=True)
            ]
        elif isinstance(dim, RangeDimension):
            group = [
                -1 if v is None else min(int(dim.position(v) * n_bins), n_bins - 1) for v in values
            ]
        else:
            group = [-1] * len(trials)
        out.append(np.asarray(group, dtype=np.int64))
    return out


def _parts(groups: list[np.ndarray], y: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """Each parameter's main-effect part of the variance, per resample (params x resamples).

    ``drawn``: resamples x trials, the trials each resample draws. The metric is fitted as a
    sum of one step function per parameter (a mean per group, centred on the trials that have
    the parameter) by backfitting, so that a parameter's groups are not credited with the
    effect of another whose values happen to differ between them. Each part: the variance of
    that function over the trials, less its expectation when the parameter does nothing
    ((groups - 1) times the residual variance over the trials that have the parameter), over
    the metric's variance; below zero counts as zero. The trials enter as cells (those in the
    same group of every parameter), in which every function is constant: the work grows with
    the cells, not the trials.
    """
    cells, cell_of = np.unique(np.array(groups).T, axis=0, return_inverse=True)
    cell_of = cell_of.reshape(-1)
    n_cells, (n_draws, n) = len(cells), drawn.shape

    def per_cell(values: np.ndarray) -> np.ndarray:
        ids = cell_of[drawn] + n_cells * np.arange(n_draws)[:, None]
        return np.bincount(ids.ravel(), values[drawn].ravel(), n_cells * n_draws).reshape(
            n_draws, n_cells
        )

    def by_group(values: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
        # Sums of each resample's cells by group: bincount adds in order, the same on every
        # machine (a BLAS product's order depends on the machine).
        keep = np.flatnonzero(g >= 0)
        ids = g[keep] + k * np.arange(n_draws)[:, None]
        return np.bincount(ids.ravel(), values[:, keep].ravel(), k * n_draws).reshape(n_draws, k)

    w, sums, squares = per_cell(np.ones(n)), per_cell(y), per_cell(y * y)
    mean = sums.sum(axis=1, keepdims=True) / n
    variance = squares.sum(axis=1) / n - mean[:, 0] ** 2
    cell_mean = np.where(w > 0, sums / np.maximum(w, 1), mean)
    effects = np.zeros((len(groups), n_draws, n_cells))
    resid = cell_mean - mean
    used = np.zeros((len(groups), n_draws))
    # What each parameter's fit needs and no round changes: its groups, their weights, how
    # many of them each resample fills, the weight of the cells that have it.
    fitted = []
    for p in range(len(groups)):
        g = cells[:, p]
        has = g >= 0
        if not has.any():
            continue
        k = int(g.max()) + 1
        n_g = by_group(w, g, k)
        used[p] = (n_g > 0).sum(axis=1)
        w_has = w * has
        has_w = np.maximum(w_has.sum(axis=1, keepdims=True), 1e-12)
        fitted.append((p, g, has, k, np.maximum(n_g, 1e-12), w_has, has_w))
    for _ in range(BACKFIT):
        for p, g, has, k, n_g, w_has, has_w in fitted:
            partial = resid + effects[p]
            means = by_group(w * partial, g, k) / n_g
            effect = np.where(has, means[:, np.maximum(g, 0)], 0.0)
            effect -= (w_has * effect).sum(axis=1, keepdims=True) / has_w * has
            resid, effects[p] = partial - effect, effect
    fit = cell_mean - resid  # each cell's fitted value
    cell_ss = squares - 2 * sums * fit + w * fit**2  # what the fit leaves, per cell
    steps = np.clip(used - 1, 0, None)
    # The residual variance where each parameter is searched: a conditional one's steps are
    # fitted to its own trials' noise, which may differ from the others'.
    active = (cells >= 0).T.astype(float)  # params x cells
    share_dof = 1 - (steps.sum(axis=0) + 1) / n  # the degrees of freedom per trial left
    # (sums by broadcasting, not a BLAS product: the same order on every machine)
    per_param = (
        (cell_ss[None] * active[:, None]).sum(axis=2),
        (w[None] * active[:, None]).sum(axis=2),
    )
    noise = per_param[0] / np.maximum(per_param[1] * share_dof, 1.0)
    spread = (w[None] * effects**2).sum(axis=2) / n
    chance = steps * noise / n
    return np.clip(spread - chance, 0.0, None) / np.where(variance > 0, variance, np.inf)


def importance(
    trials: Sequence[TrialResult], space: SearchSpace, goal: Goal, seed: int = 0
) -> Importance:
    """Each searched parameter's share of the variance of the goal's metric, with its interval.

    Deterministic in ``seed`` (the study seed): the resamples draw from it.

    Example:
        >>> importance(study.trials, study.space, study.goal, study.seed).table  # doctest: +SKIP
    """
    scored = usable(trials, goal)
    empty = pd.DataFrame(columns=["param", "share", "low", "high"])
    if len(scored) < MIN_TRIALS:
        return Importance(
            empty,
            len(scored),
            f"importance needs at least {MIN_TRIALS} COMPLETE trials with a {goal.metric}; "
            f"this study has {len(scored)}",
        )
    y = np.array([goal.of(t) for t in scored], dtype=float)
    if np.ptp(y) == 0:
        return Importance(
            empty, len(scored), f"every usable trial has the same {goal.metric}: nothing to explain"
        )
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(4,)))
    n = len(scored)
    parts = _parts(_groups(scored, space), y, rng.integers(n, size=(RESAMPLES, n)))
    sums = parts.sum(axis=0)
    kept = sums > 0
    if not kept.any():
        return Importance(empty, n, "the trials are too alike to measure importance")
    stacked = (parts[:, kept] / sums[kept]).T
    low, mid, high = np.percentile(stacked, [2.5, 50, 97.5], axis=0)
    active = [sum(name in t.params for t in scored) for name in space.names]
    table = pd.DataFrame(
        {"param": list(space.names), "share": mid, "low": low, "high": high, "active": active}
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
