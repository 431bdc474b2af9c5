"""Whether each searched range was wide enough: sentences naming a range whose best trials crowd
one of its bounds, with a wider range to try.

Pure functions from trial records and the search space (:mod:`hpsearch.reports.publish` puts
the sentences on the study's page, the ``report`` command prints them); :func:`varied` also
tells the figures which parameters the trials did vary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hpsearch.space.dimensions import RangeDimension
from hpsearch.space.search_space import SearchSpace
from hpsearch.trial import TrialResult

__all__ = ["EDGE_BAND", "edge_notes", "varied"]

EDGE_BAND = 0.2  # the outer share of a range, at each end, that counts as "at the edge"


def varied(trials: Sequence[TrialResult], space: SearchSpace) -> list[str]:
    """The parameters of ``space`` that took more than one value among ``trials``, in name order.

    A range a grid cut to one point was not searched in fact: nothing can be said of its optimum.

    Example:
        >>> varied(study.trials, study.space)  # doctest: +SKIP
        ['activation']
    """
    return [
        name
        for name in space.names
        if len({repr(t.params[name]) for t in trials if name in t.params}) > 1
    ]


def edge_notes(
    trials: Sequence[TrialResult],
    space: SearchSpace,
    *,
    top: int | None = None,
    min_trials: int = 5,
) -> list[str]:
    """Sentences naming each searched range whose best trials crowd one of its bounds.

    A numeric dimension that the trials varied (see :func:`varied`) is reported at a bound when,
    among the ``top`` best trials (default: the best 10%, at least 5), more than half lie in the
    outer 20% of the range at that end (on the dimension's scale), the best trial among them. By
    chance alone (a parameter that does not matter) that happens to 5 of 5 trials with a
    probability of about 4% per bound, far less for 10 of 100; the best trial alone near a bound
    would happen 10 to 20% of the time, as scores on a few hundred images tie and jitter. Each
    sentence names the parameter, the bound and a widened range to try (``Dimension.widened``).

    Args:
        trials: The study's trials.
        space: The search space.
        top: How many of the best trials to look at.
        min_trials: Fewer scored trials than this say nothing.

    Returns:
        One sentence per crowded bound; empty when the optimum lies inside every range.

    Example:
        >>> edge_notes(study.trials, study.space)  # doctest: +SKIP
        ['lr: 9 of the 10 best trials lie in the upper 20% of log:1e-06:0.01 ...']
    """
    finite = [
        (t.val_acc, t)
        for t in trials
        if t.ok and t.val_acc is not None and math.isfinite(t.val_acc)
    ]
    scored = [t for _, t in sorted(finite, key=lambda pair: (-pair[0], pair[1].number))]
    if len(scored) < min_trials:
        return []
    k = top if top is not None else max(5, math.ceil(len(scored) / 10))
    best = scored[: max(1, min(k, len(scored)))]
    notes = []
    for name in varied(trials, space):
        dim = space[name]
        if not isinstance(dim, RangeDimension):
            continue
        values = [t.params.get(name) for t in best]
        numbers = [
            float(v)
            for v in values
            if not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))
        ]
        if len(numbers) < len(values):  # a value that is not a number: no position in the range
            continue
        positions = [dim.position(v) for v in numbers]
        for side, bound in (("upper", dim.high), ("lower", dim.low)):
            at_edge = [
                (p >= 1 - EDGE_BAND) if side == "upper" else (p <= EDGE_BAND) for p in positions
            ]
            near = sum(at_edge)
            if not (at_edge[0] and near > len(best) / 2):
                continue
            best_value = best[0].params[name]
            shown = f"{best_value:.3g}" if isinstance(best_value, float) else str(best_value)
            scale = "log range" if dim.scale == "log" else "range"
            sentence = (
                f"{name}: {near} of the {len(best)} best trials (the best included) lie in the "
                f"{side} {EDGE_BAND:.0%} of the searched {scale} {dim.spec()}, near its {side} "
                f"bound {bound:g} (best trial: {name}={shown}); the optimum may lie beyond it."
            )
            wider = dim.widened(side, positions)
            if wider is None:
                sentence += (
                    f" The range cannot extend below {bound:g}; "
                    f"consider fixing {name} at {bound:g}."
                )
            else:
                sentence += f" Try --param {name}={wider.spec()}"
            notes.append(sentence)
    return notes
