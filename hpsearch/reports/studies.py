"""Studies side by side: was bayes really better than random here, or is it noise?

One row per study (strategy, space, trials, wall time, best single trial with its interval,
the chosen configuration's test mean ± sd), one plain sentence on whether the chosen
configurations' test scores differ by more than their noise, and one figure of each study's
best-so-far against trial number. Studies that rank by different metrics or directions are
refused: their numbers do not compare.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hpsearch.exceptions import StudyError
from hpsearch.records import Goal, RepeatResult, TrialResult, metric_of
from hpsearch.reports.formatting import decimals_for, mean_sd, mean_sd_text, pm, wilson
from hpsearch.space.search_space import SearchSpace
from hpsearch.storage.definition import Definition

__all__ = ["StudySummary", "side_by_side", "verdict", "best_so_far"]


@dataclass(frozen=True)
class StudySummary:
    """What a study contributes to the side-by-side table (see :meth:`of`)."""

    name: str
    goal: Goal
    strategy: str
    space: str
    trials: int
    planned: int | None
    wall: float | None
    best: float | None
    n_val: int | None
    chosen: dict[str, Any] | None
    test: list[float] = field(default_factory=list)
    n_test: int | None = None
    curve: list[tuple[int, float | None]] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        name: str,
        definition: Definition,
        trials: Sequence[TrialResult],
        repeats: Sequence[RepeatResult],
        chosen: TrialResult | None,
        goal: Goal,
        space: SearchSpace,
        finished: Mapping[int, float],
    ) -> StudySummary:
        """The summary of one study from its definition, records and logged finish times.

        The wall time runs from the first logged trial's start to the last one's end (a study
        resumed later counts the pause too); None without logged times.
        """
        scored = [(t, goal.of(t)) for t in trials if t.ok and goal.of(t) is not None]
        best = min(scored, key=lambda p: goal.key(p[1] or 0.0), default=None)
        spans = [
            (finished[t.number] - t.seconds, finished[t.number])
            for t in trials
            if t.number in finished
        ]
        runs = [r for r in repeats if chosen is not None and r.number == chosen.number]
        test = [
            v
            for v in (metric_of(r, goal.twin("test")) for r in runs if not r.refit and r.ok)
            if v is not None
        ]
        curve, so_far = [], None
        for t in sorted(trials, key=lambda t: t.number):
            value = goal.of(t) if t.ok else None
            if value is not None and (so_far is None or goal.key(value) < goal.key(so_far)):
                so_far = value
            curve.append((t.number, so_far))
        return cls(
            name=name,
            goal=goal,
            strategy=str(definition.strategy["name"]),
            space=", ".join(f"{k}={space[k].spec()}" for k in space.names),
            trials=len(trials),
            planned=definition.n_trials,
            wall=(max(e for _, e in spans) - min(s for s, _ in spans)) if spans else None,
            best=None if best is None else best[1],
            n_val=None if best is None else best[0].n_val,
            chosen=None if chosen is None else dict(chosen.params),
            test=test,
            n_test=next((r.n_test for r in runs if r.n_test), None),
            curve=curve,
        )


def _check_goals(summaries: Sequence[StudySummary]) -> None:
    goals = {s.goal for s in summaries}
    if len(goals) > 1:
        said = ", ".join(f"{s.name} by {s.goal.metric} ({s.goal.direction})" for s in summaries)
        raise StudyError(
            f"these studies rank by different goals, so their numbers do not compare: {said}"
        )


def side_by_side(summaries: Sequence[StudySummary]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table, at full precision and as display strings.

    Raises:
        StudyError: The studies rank by different metrics or directions.
    """
    _check_goals(summaries)
    for s in summaries:
        if s.best is None:
            raise StudyError(f"study {s.name!r} has no scored trial: nothing to compare")
    goal = summaries[0].goal
    rows, shown = [], []
    for s in summaries:
        low = high = math.nan
        if s.best is not None and goal.accuracy and s.n_val:
            low, high = wilson(s.best, s.n_val)
        mean, sd = mean_sd(s.test)
        rows.append(
            {
                "study": s.name,
                "strategy": s.strategy,
                "space": s.space,
                "trials": s.trials,
                "wall_seconds": s.wall,
                f"best_{goal.metric}": s.best,
                "best_low": low,
                "best_high": high,
                "chosen": _params(s.chosen),
                "test_mean": mean,
                "test_sd": sd,
                "test_runs": len(s.test),
            }
        )
        d = decimals_for(s.n_val) if goal.accuracy else None
        dt = decimals_for(s.n_test) if goal.accuracy else None
        shown.append(
            {
                "study": s.name,
                "strategy": s.strategy,
                "space": s.space,
                "trials": f"{s.trials}" + (f"/{s.planned}" if s.planned else ""),
                "wall": "-" if s.wall is None else f"{s.wall:.0f} s",
                f"best {goal.metric}": _value(s.best, d)
                + (f" ({low:.{d}f}-{high:.{d}f})" if not math.isnan(low) and d else ""),
                "chosen": _params(s.chosen) or "-",
                "test": "not confirmed"
                if not s.test
                else _pm(mean, sd, dt) + f" ({len(s.test)} runs)",
            }
        )
    return pd.DataFrame(rows), pd.DataFrame(shown)


def _params(params: Mapping[str, Any] | None) -> str:
    if not params:
        return ""
    return ", ".join(
        f"{k}={v:.2g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def _value(value: float | None, d: int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.{d}f}" if d is not None else f"{value:.3g}"


def _pm(mean: float, sd: float, d: int | None) -> str:
    # A metric of unknown range: the sd gives the precision; an accuracy: its set size.
    return mean_sd_text(mean, sd) if d is None else pm(mean, sd, d)


def verdict(summaries: Sequence[StudySummary]) -> str:
    """One sentence: do the two best chosen test scores differ by more than their noise?

    The noise is the 95% half-width of the difference of two means (1.96 times the square
    root of the sum of each mean's squared standard error, over each study's confirm runs).
    """
    _check_goals(summaries)
    goal = summaries[0].goal
    confirmed = [s for s in summaries if len(s.test) >= 2]
    missing = [s.name for s in summaries if len(s.test) < 2]
    if len(confirmed) < 2:
        return (
            "No verdict: the chosen configurations need test scores from two or more confirm "
            f"runs each to be compared (missing: {', '.join(missing)}; run `confirm NAME`)."
        )
    ranked = sorted(confirmed, key=lambda s: goal.key(mean_sd(s.test)[0]))
    first, second = ranked[0], ranked[1]
    (m1, s1), (m2, s2) = mean_sd(first.test), mean_sd(second.test)
    noise = 1.96 * math.sqrt(s1**2 / len(first.test) + s2**2 / len(second.test))
    diff = abs(m1 - m2)
    name = "test accuracy" if goal.accuracy else "test " + goal.metric.removeprefix("val_")
    if goal.accuracy:
        d = decimals_for(first.n_test)
    else:  # the noise, to two significant digits, gives the precision
        d = max(0, 1 - math.floor(math.log10(noise))) if noise > 0 else 3
    said_diff, said_noise = f"{diff:.{d}f}", f"{noise:.{d}f}"
    tail = f" ({', '.join(missing)} not confirmed)" if missing else ""
    if diff > noise:
        return (
            f"{first.name}'s chosen configuration is better: its mean {name} differs from "
            f"{second.name}'s by {said_diff}, more than their noise (±{said_noise}, 95%).{tail}"
        )
    return (
        f"{first.name} and {second.name} cannot be told apart: their chosen configurations' "
        f"mean {name} differs by {said_diff}, within their noise (±{said_noise}, 95%).{tail}"
    )


def best_so_far(summaries: Sequence[StudySummary]) -> Any:
    """The figure: each study's best-so-far of the metric against trial number, on one axis."""
    from matplotlib.figure import Figure

    goal = summaries[0].goal
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.subplots()
    for s in summaries:
        points = [(n + 1, v) for n, v in s.curve if v is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.step(xs, ys, where="post", label=f"{s.name} ({s.strategy})")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"best {goal.metric} so far ({goal.direction}d)")
    if goal.accuracy:
        ax.set_ylim(0, 1)
    ax.legend(frameon=False)
    return fig
