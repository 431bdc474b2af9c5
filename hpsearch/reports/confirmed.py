"""What the confirm stage's runs say: the confirmed table, the choice, the headline, comparisons.

Pure functions from :class:`~hpsearch.trial.RepeatResult` records to tables and one-line
summaries (:mod:`hpsearch.study.confirm` runs the stage, :mod:`hpsearch.reports.publish` writes the
files).
Refit runs (trained on training plus validation images) have no validation score: they are
shown beside the repeats but never averaged with them nor used to choose.

A run without a score (FAILED, DIVERGED, TIMEOUT) counts as 0 in the means of the scores its
configuration's other runs have, as it does in the choice: the configuration did fail there.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from hpsearch.reports.formatting import (
    column_decimals,
    decimals_at,
    mean_sd,
    mean_sd_text,
    pm,
    shown_value,
    state_counts,
    wilson,
)
from hpsearch.reports.ranking import format_frame
from hpsearch.space.dimensions import Categorical, RangeDimension
from hpsearch.space.search_space import SearchSpace
from hpsearch.trial import Goal, RepeatResult, TrialResult, metric_of

DEFAULT_GOAL = Goal()

__all__ = [
    "confirmed_table",
    "display_confirmed",
    "choose",
    "headline",
    "comparison",
    "comparison_notes",
    "default_thresholds",
    "display_comparison",
    "in_order",
    "format_comparison",
    "THRESHOLDS",
]

THRESHOLDS = (0.95, 0.97, 0.98)
#: The shares of the best value's mean test accuracy that :func:`default_thresholds` gives.
SHARES = (0.9, 0.95, 0.98)
#: The outer share of a range, at each end, where a row's value counts as at its bound.
EDGE = 0.05
_METRICS = ("train", "val", "test")


def _scores(runs: Sequence[RepeatResult], metric: str) -> list[float]:
    """The runs' ``<metric>_acc``: 0 for a run without a score, when the others have that score."""
    scored = [
        getattr(r, f"{metric}_acc")
        for r in runs
        if r.ok and getattr(r, f"{metric}_acc") is not None
    ]
    return [*scored, *[0.0] * sum(not r.ok for r in runs)] if scored else []


def _size(runs: Sequence[RepeatResult], attr: str) -> int | None:
    return next((getattr(r, attr) for r in runs if getattr(r, attr)), None)


def _by_trial(repeats: Sequence[RepeatResult]) -> dict[int, list[RepeatResult]]:
    groups: dict[int, list[RepeatResult]] = {}
    for r in sorted(repeats, key=lambda r: (r.number, r.repeat)):
        if not r.refit:
            groups.setdefault(r.number, []).append(r)
    return groups


def choose(
    repeats: Sequence[RepeatResult],
    numbers: Sequence[int] | None = None,
    goal: Goal = DEFAULT_GOAL,
) -> int | None:
    """The trial whose repeats have the best mean validation accuracy (or, for another
    ``goal``, the best mean of its metric over the runs that have one).

    Refit runs do not count; None when no repeat has a validation score. With ``numbers`` (the
    confirmed trials, best ranked first) only those count and a tie goes to the better ranked;
    without, a tie goes to the earlier trial.

    Example:
        >>> choose(study.repeats_done)  # doctest: +SKIP
        12
    """
    means = {n: _goal_mean_sd(runs, goal)[0] for n, runs in _by_trial(repeats).items()}
    rank = {n: i for i, n in enumerate(numbers)} if numbers is not None else {n: n for n in means}
    means = {n: m for n, m in means.items() if not math.isnan(m) and n in rank}
    return min(means, key=lambda n: (goal.key(means[n]), rank[n])) if means else None


def _goal_mean_sd(runs: Sequence[RepeatResult], goal: Goal) -> tuple[float, float]:
    """Mean and sd of the goal over ``runs``: validation accuracy as ever, or the metric of the
    runs that returned a finite one."""
    if goal.accuracy:
        return mean_sd(_scores(runs, "val"))
    values = [v for v in (goal.of(r) for r in runs if r.ok) if v is not None]
    return mean_sd(values)


def _other_metrics(goal: Goal) -> tuple[str, ...]:
    """The metrics a confirmed table adds for a goal other than validation accuracy: the
    goal's, and its test-part twin (``val_loss``, ``test_loss``)."""
    if goal.accuracy:
        return ()
    return tuple(dict.fromkeys((goal.metric, goal.twin("test"))))


def confirmed_table(
    repeats: Sequence[RepeatResult],
    param_names: Sequence[str],
    goal: Goal = DEFAULT_GOAL,
    *,
    chosen: int | None = None,
    rank: Sequence[int] | None = None,
) -> pd.DataFrame:
    """One row per confirmed configuration: the chosen one first, then best mean of the goal
    first (validation accuracy, unless the study ranks by another metric); a tie goes to the
    better ranked in the search (``rank``), as the choice does, else to the earlier trial.

    Args:
        repeats: The confirm stage's runs.
        param_names: The searched parameters, one column each.
        goal: What the study ranks by.
        chosen: The trial the study chose (:func:`hpsearch.study.confirm.chosen`).
        rank: Trial numbers in the search's ranking order.

    Returns:
        Columns ``trial``, the params, ``repeats`` (runs done), ``failed`` (runs without a
        score), ``train_mean``, ``train_sd``, ``val_mean``, ``val_sd``, ``test_mean``, ``test_sd``
        (sample standard deviations; empty with one run), ``n_val``, ``n_test``; for a goal
        other than validation accuracy (say ``val_loss``) ``val_loss_mean``, ``val_loss_sd``,
        ``test_loss_mean``, ``test_loss_sd`` (over the runs that returned it); then for each
        repeat index ``r``: ``train_acc_r<r>``, ``val_acc_r<r>``, ``test_acc_r<r>``, (the goal's
        ``val_loss_r<r>``), ``seconds_r<r>``; with refit runs also ``refit_runs``,
        ``refit_train_mean``, ``refit_train_sd``, ``refit_test_mean`` and ``refit_test_sd``
        (over the chosen configuration's refit runs; empty for the others).

    Example:
        >>> confirmed_table(study.repeats_done, study.space.names)  # doctest: +SKIP
    """
    groups = _by_trial(repeats)
    refits: dict[int, list[RepeatResult]] = {}
    for run in sorted(repeats, key=lambda run: run.repeat):
        if run.refit:
            refits.setdefault(run.number, []).append(run)
    indices = sorted({r.repeat for runs in groups.values() for r in runs})
    rows = []
    for number, runs in groups.items():
        row: dict[str, Any] = {
            "trial": number,
            **{p: runs[0].params.get(p) for p in param_names},
            "repeats": len(runs),
            "failed": sum(not r.ok for r in runs),
        }
        for metric in _METRICS:
            row[f"{metric}_mean"], row[f"{metric}_sd"] = mean_sd(_scores(runs, metric))
        row.update(n_val=_size(runs, "n_val"), n_test=_size(runs, "n_test"))
        for name in _other_metrics(goal):
            values = [v for v in (metric_of(r, name) for r in runs if r.ok) if v is not None]
            row[f"{name}_mean"], row[f"{name}_sd"] = mean_sd(values)
        by_index = {r.repeat: r for r in runs}
        for i in indices:
            r = by_index.get(i)
            for metric in _METRICS:  # NaN, not None: a float column, an empty CSV cell
                value = getattr(r, f"{metric}_acc") if r is not None else None
                row[f"{metric}_acc_r{i}"] = math.nan if value is None else value
            for name in _other_metrics(goal)[:1]:
                value = metric_of(r, name) if r is not None else None
                row[f"{name}_r{i}"] = math.nan if value is None else value
            row[f"seconds_r{i}"] = round(r.seconds, 4) if r is not None else math.nan
        if refits:
            mine = refits.get(number, [])
            row["refit_runs"] = len(mine)
            for metric in ("train", "test"):
                row[f"refit_{metric}_mean"], row[f"refit_{metric}_sd"] = mean_sd(
                    _scores(mine, metric)
                )
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=["trial", *param_names, "repeats", "failed"])
    df = pd.DataFrame(rows)
    by = "val_mean" if goal.accuracy else f"{goal.metric}_mean"
    position = {n: i for i, n in enumerate(rank or ())}
    df["_chosen"] = df["trial"] != chosen
    df["_rank"] = [position.get(n, len(position) + n) for n in df["trial"]]
    df = df.sort_values(
        ["_chosen", by, "_rank"],
        ascending=[True, goal.direction == "minimize", True],
        na_position="last",
        kind="mergesort",
    ).drop(columns=["_chosen", "_rank"])
    for column in ("n_val", "n_test"):
        df[column] = df[column].astype("Int64")
    return df.reset_index(drop=True)


def display_confirmed(
    df: pd.DataFrame, param_names: Sequence[str], goal: Goal = DEFAULT_GOAL
) -> pd.DataFrame:
    """A confirmed table (see :func:`confirmed_table`) as strings for reading: ``mean ± sd`` of
    each score to the decimals its set size carries; the per-repeat columns are left to the CSV.

    Example:
        >>> display_confirmed(confirmed_table(runs, ["lr"]), ["lr"])  # doctest: +SKIP
    """
    rows = []
    places = {
        "train": column_decimals(df, "val_mean", "n_val"),
        "val": column_decimals(df, "val_mean", "n_val"),
        "test": column_decimals(df, "test_mean", "n_test"),
    }
    for row in df.to_dict("records"):
        out = {
            "trial": str(row["trial"]),
            **{p: shown_value(row[p]) for p in param_names},
            "repeats": str(row["repeats"])
            + (f" ({row['failed']} failed)" if row["failed"] else ""),
        }
        for metric, d in places.items():  # one precision a column (see column_decimals)
            out[{"val": "validation"}.get(metric, metric)] = pm(
                row[f"{metric}_mean"], row[f"{metric}_sd"], d
            )
        for name in _other_metrics(goal):  # a metric of unknown range: three digits
            out[name] = mean_sd_text(
                row.get(f"{name}_mean", math.nan), row.get(f"{name}_sd", math.nan)
            )
        if "refit_test_mean" in row:
            runs = row.get("refit_runs") or 0
            refit_d = places["test"]
            out["refit test"] = (
                f"{pm(row['refit_test_mean'], row['refit_test_sd'], refit_d)} ({runs} runs)"
                if runs
                else "-"
            )
        rows.append(out)
    return pd.DataFrame(rows)


def headline(
    repeats: Sequence[RepeatResult],
    number: int,
    params: dict[str, Any],
    goal: Goal = DEFAULT_GOAL,
) -> str:
    """One line on the chosen configuration: its validation and test accuracy over the repeats.

    Scores keep the decimals their set size can carry (see
    :func:`hpsearch.reports.formatting.decimals_at`); the test part's 95% interval is the Wilson
    interval of the mean on its size.

    Args:
        repeats: The confirm stage's runs (those of other trials are ignored).
        number: The chosen trial (see :func:`choose`).
        params: Its params.

    Example:
        >>> headline(runs, 12, {"lr": 0.0089, "weight_decay": 3.2e-6})  # doctest: +SKIP
        'chosen: lr=0.0089, weight_decay=3.2e-06 (trial 12) | validation 0.74 ± 0.03 (3 repeats,
        100 images) | test 0.66 ± 0.01 (2,000 test images, 95% interval ±0.02)'
    """
    runs = _by_trial(repeats).get(number, [])
    text = (
        "chosen: "
        + ", ".join(f"{k}={shown_value(v)}" for k, v in params.items())
        + f" (trial {number})"
    )
    if not runs:
        return text + " | no confirmed run yet"
    if not goal.accuracy:
        return text + _other_goal(runs, goal)
    return text + _accuracy(runs) + _refit(repeats, number)


def _refit(repeats: Sequence[RepeatResult], number: int) -> str:
    """The headline's refit part: the test score of the chosen configuration's refit runs."""
    refits = [r for r in repeats if r.refit and r.number == number]
    if not refits:
        return ""
    test, sd = mean_sd(_scores(refits, "test"))
    if math.isnan(test):
        return f" | refit: {len(refits)} run{'s' if len(refits) != 1 else ''}, no test score"
    d = decimals_at(test, _size(refits, "n_test"))
    n = len(refits)
    return (
        f" | refit test {pm(test, sd, d)} ({n} run{'s' if n != 1 else ''} on training + "
        "validation images)"
    )


def _accuracy(runs: Sequence[RepeatResult]) -> str:
    """The headline's scores for validation accuracy: mean ± sd with the decimals the set sizes
    carry, and the test part's 95% interval."""
    text = ""
    failed = sum(not r.ok for r in runs)
    n_val, n_test = _size(runs, "n_val"), _size(runs, "n_test")
    what = [f"{len(runs)} repeat{'s' if len(runs) != 1 else ''}"]
    what += [f"{failed} failed"] if failed else []
    val, val_sd = mean_sd(_scores(runs, "val"))
    d = decimals_at(val, n_val)
    sizes = [f"{n_val:,} images"] if n_val else []  # logs from before n_val was kept: no size
    text += f" | validation {pm(val, val_sd, d)} ({', '.join(what + sizes)})"
    test, test_sd = mean_sd(_scores(runs, "test"))
    if math.isnan(test):
        # The runs had test images (an own objective got them) but returned no test_acc.
        if n_test:
            return text + " | validation only: no test_acc returned for the test images"
        return text + " | no test part in this dataset"
    d = decimals_at(test, n_test)
    size = ""
    if n_test:
        low, high = wilson(test, n_test)
        size = f" ({n_test:,} test images, 95% interval ±{(high - low) / 2:.{d}f})"
    return text + f" | test {pm(test, test_sd, d)}{size}"


def _other_goal(runs: Sequence[RepeatResult], goal: Goal) -> str:
    """The headline's scores for a metric of unknown range: mean ± sd, three significant
    digits, no interval; the test part's twin metric if the objective returned it."""
    mean, sd = _goal_mean_sd(runs, goal)
    n = len(runs)
    shown = mean_sd_text(mean, sd)
    text = f" | {goal.metric} {shown} ({n} repeat{'s' if n != 1 else ''}, {goal.direction}d)"
    twin = goal.twin("test")
    tests = [r.metrics[twin] for r in runs if r.ok and twin in r.metrics]
    if tests:
        return text + f" | {twin} {mean_sd_text(*mean_sd(tests))}"
    return text + f" | no {twin} returned by the objective"


def _first_epoch(curve: Sequence[float], threshold: float) -> int | None:
    return next((i + 1 for i, v in enumerate(curve) if v is not None and v >= threshold), None)


def comparison(
    repeats: Sequence[RepeatResult],
    by: str,
    thresholds: Sequence[float] | None = None,
    space: SearchSpace | None = None,
    trials: Sequence[TrialResult] = (),
) -> pd.DataFrame:
    """Confirmed runs compared per value of one setting, as the book's readers publish it.

    Every non-refit run whose params hold ``by`` counts for its value, whatever its other
    params: confirm one configuration per value to compare like with like.

    Args:
        repeats: The confirm stage's runs.
        by: The setting compared (a key of the runs' params), e.g. ``"optimizer"``.
        thresholds: Test accuracies whose first epoch is reported; None: three levels below
            the best value's mean test accuracy (90, 95 and 98 % of it, see
            :func:`default_thresholds`), which the best value's runs reach.
        space: The search space: with it, a column for each other searched setting (the value
            each row's runs used, e.g. its best lr) and an ``edge`` column naming those that sit
            at a bound of their range (the best may lie beyond it).
        trials: The search's trials: a value none of whose trials has a score (all DIVERGED,
            say) gets a row too, with no run and its trials' states in ``search``.

    Returns:
        One row per value, in sorted order: ``by``, each other searched setting, ``repeats``
        (runs with a score), ``failed`` (runs without one),
        ``train_mean``, ``train_sd``, ``val_mean``, ``val_sd``, ``test_mean``, ``test_sd``,
        ``best_test_mean``, ``best_test_sd`` (each run's best test accuracy over its epochs),
        for each threshold ``t`` ``epochs_to_<t>`` (the mean first epoch at which test accuracy
        reached ``t``, over the runs that did; empty if none did or no run has test curves) and
        ``reached_<t>`` (how many runs did), ``test_curves`` (runs with per-epoch test scores),
        ``seconds_mean``, ``n_val``, ``n_test``, ``edge``, ``search`` (for a value with no
        scored trial: its trials' states, e.g. ``"2 DIVERGED"``; else empty).

    Raises:
        ValueError: No run has the setting ``by``.

    Example:
        >>> print(
        ...     format_comparison(comparison(study.repeats_done, "optimizer"), "markdown")
        ... )  # doctest: +SKIP
    """
    runs = [r for r in repeats if not r.refit]
    groups: dict[str, tuple[Any, list[RepeatResult]]] = {}
    for r in runs:
        if by in r.params:
            groups.setdefault(repr(r.params[by]), (r.params[by], []))[1].append(r)
    if not groups:
        names = sorted({k for r in runs for k in r.params})
        raise ValueError(
            f"cannot compare by {by!r}: no confirmed run has that setting "
            f"(the runs' settings: {', '.join(names) or 'none, no confirmed run yet'})"
        )
    others = [n for n in (space.names if space is not None else ()) if n != by]
    unscored = _unscored(trials, by, set(groups))
    rows = []
    dim = space[by] if space is not None and by in space else None
    choices = list(dim.choices) if isinstance(dim, Categorical) else None
    values = [v for v, _ in groups.values()] + [v for v, _ in unscored.values()]
    for value in in_order(values, choices):
        if repr(value) in unscored:
            rows.append(_unscored_row(by, value, others, unscored[repr(value)][1]))
            continue
        group = groups[repr(value)][1]
        row: dict[str, Any] = {by: value}
        for name in others:
            used = {repr(r.params.get(name)): r.params.get(name) for r in group}
            row[name] = next(iter(used.values())) if len(used) == 1 else "mixed"
        # Every column, and the figure, stands on the runs with a score; the others are named
        # beside the count (a comparison describes each value; choosing, in the confirmed
        # table, scores them 0 instead).
        scored = [r for r in group if r.ok]
        row["repeats"] = len(scored)
        row["failed"] = state_counts([r for r in group if not r.ok])
        for metric in _METRICS:
            row[f"{metric}_mean"], row[f"{metric}_sd"] = mean_sd(_scores(scored, metric))
        best = [
            max((v for v in r.test_curve if v is not None), default=r.best_test_acc) for r in scored
        ]
        row["best_test_mean"], row["best_test_sd"] = mean_sd([b for b in best if b is not None])
        # Runs trained without per-epoch test scores (a confirm stage's, reused) have no best
        # test accuracy and no epochs to a threshold: the table says so for their value.
        row["test_curves"] = sum(bool(r.test_curve) for r in scored)
        row["_group"] = scored
        rows.append(row)
    levels = default_thresholds(rows) if thresholds is None else tuple(thresholds)
    for row in rows:
        group = row.pop("_group")
        if not group:  # no run with a score: none trained again, or every one failed
            for t in levels:
                row[f"epochs_to_{t:g}"], row[f"reached_{t:g}"] = math.nan, 0
            row.update(seconds_mean=math.nan, n_val=None, n_test=None, edge="")
            row["search"] = row.pop("search", "")  # last, as in the other rows
            continue
        for t in levels:
            firsts = [e for r in group if (e := _first_epoch(r.test_curve, t)) is not None]
            row[f"epochs_to_{t:g}"], _ = mean_sd(firsts)
            row[f"reached_{t:g}"] = len(firsts)
        row.update(
            seconds_mean=statistics.fmean(r.seconds for r in group),
            n_val=_size(group, "n_val"),
            n_test=_size(group, "n_test"),
            edge="; ".join(_at_edges(row, others, space)),
            search="",
        )
    df = pd.DataFrame(rows)
    for column in ("n_val", "n_test"):
        df[column] = df[column].astype("Int64")
    return df


def _unscored(
    trials: Sequence[TrialResult], by: str, scored_runs: set[str]
) -> dict[str, tuple[Any, str]]:
    """The values of ``by`` that no trial with a score took and no run has: each with its
    trials' states (``"2 DIVERGED, 1 FAILED"``)."""
    scored = {repr(t.params[by]) for t in trials if by in t.params and t.ok}
    found: dict[str, tuple[Any, list[TrialResult]]] = {}
    for t in trials:
        key = repr(t.params.get(by))
        if by in t.params and key not in scored and key not in scored_runs:
            found.setdefault(key, (t.params[by], []))[1].append(t)
    return {key: (value, state_counts(ended)) for key, (value, ended) in found.items()}


def _unscored_row(by: str, value: Any, others: Sequence[str], said: str) -> dict[str, Any]:
    """The row of a value without a scored trial, its keys in the order of the others'."""
    row: dict[str, Any] = {by: value, **{name: math.nan for name in others}}
    row.update(repeats=0, failed="")
    for metric in _METRICS:
        row[f"{metric}_mean"], row[f"{metric}_sd"] = math.nan, math.nan
    row["best_test_mean"], row["best_test_sd"] = math.nan, math.nan
    return {**row, "test_curves": 0, "_group": [], "search": said}


def in_order(values: list[Any], choices: Sequence[Any] | None = None) -> list[Any]:
    """Values in the order of ``choices`` (a categorical setting's, as declared: the book's
    sgd, momentum, ...); else numbers in increasing order and names as they sort as text."""
    if choices is not None and all(any(repr(v) == repr(c) for c in choices) for v in values):
        place = {repr(c): k for k, c in enumerate(choices)}
        return sorted(values, key=lambda v: place[repr(v)])
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return sorted(values, key=(lambda v: v) if numeric else str)


def default_thresholds(rows: Sequence[Mapping[str, Any]]) -> tuple[float, ...]:
    """Three test accuracies a comparison's best value reaches: 90, 95 and 98 % of its mean
    test accuracy, rounded down to the hundredth (none without a test score).

    Example:
        >>> default_thresholds([{"test_mean": 0.92}, {"test_mean": 0.66}])
        (0.82, 0.87, 0.9)
    """
    means = [r["test_mean"] for r in rows if not math.isnan(r.get("test_mean", math.nan))]
    if not means:
        return ()
    best = max(means)
    return tuple(sorted({math.floor(best * share * 100 + 1e-9) / 100 for share in SHARES}))


def _at_edges(row: Mapping[str, Any], names: Sequence[str], space: SearchSpace | None) -> list[str]:
    """``name=upper`` / ``name=lower`` for each searched range whose bound the row's value
    sits at (its outer 5 %, on the range's scale)."""
    found = []
    for name in names:
        dim = space[name] if space is not None else None
        value = row.get(name)
        if not isinstance(dim, RangeDimension) or isinstance(value, (str, bool)) or value is None:
            continue
        position = dim.position(value)
        if position >= 1 - EDGE:
            found.append(f"{name}=upper")
        elif position <= EDGE:
            found.append(f"{name}=lower")
    return found


def _text(cell: Any) -> str:
    """A text cell of a comparison, read back from its CSV too (an empty one is NaN there)."""
    return cell if isinstance(cell, str) else ""


def display_comparison(df: pd.DataFrame) -> pd.DataFrame:
    """A comparison (see :func:`comparison`) as strings: ``mean ± sd`` with the decimals the
    set sizes can carry, the epochs to each threshold (``-`` when no run reached it, ``12.5 (2
    of 3)`` when some did), the mean seconds, and each setting's value rounded."""
    by = df.columns[0]
    others = list(df.columns[1 : list(df.columns).index("repeats")])
    thresholds = [c[len("epochs_to_") :] for c in df.columns if c.startswith("epochs_to_")]
    shown = []
    dv, dt = column_decimals(df, "val_mean", "n_val"), column_decimals(df, "test_mean", "n_test")
    for row in df.to_dict("records"):
        out = {by: shown_value(row[by]), **{n: shown_value(row[n]) for n in others}}
        out.update(
            {
                # The runs with a score (those the figure draws), and the others beside.
                "repeats": str(row["repeats"])
                + (f" (+{row['failed']})" if _text(row.get("failed")) else ""),
                "train": pm(row["train_mean"], row["train_sd"], dv),
                "validation": pm(row["val_mean"], row["val_sd"], dv),
                "test": pm(row["test_mean"], row["test_sd"], dt),
                "best test": pm(row["best_test_mean"], row["best_test_sd"], dt),
            }
        )
        curves = row.get("test_curves", row["repeats"])
        said = _text(row.get("search"))
        if said:  # no trial of this value had a score
            out["repeats"] = f"0 ({said} in the search)"
        elif not curves:
            out["best test"] = "no test curve"
        for t in thresholds:
            epochs, reached = row[f"epochs_to_{t}"], row[f"reached_{t}"]
            out[f"epochs to {t}"] = (
                ("no test curve" if not curves and not said else "-")
                if not reached
                else f"{epochs:.1f}"
                + (f" ({reached} of {row['repeats']})" if reached < row["repeats"] else "")
            )
        seconds = row["seconds_mean"]
        out["seconds"] = "-" if pd.isna(seconds) else f"{seconds:.1f}"
        shown.append(out)
    return pd.DataFrame(shown)


def comparison_notes(df: pd.DataFrame) -> list[str]:
    """Sentences under a comparison: values whose best setting sits at a range's bound, and
    values whose runs have no test curve."""
    by = df.columns[0]
    notes = []
    for row in df.to_dict("records"):
        edge = row.get("edge")
        edges = [e for e in edge.split("; ") if e] if isinstance(edge, str) else []
        for edge in edges:
            name, side = edge.split("=")
            notes.append(
                f"{by}={shown_value(row[by])}: its best {name}, {shown_value(row[name])}, is at "
                f"the {side} bound of the searched range; its best {name} may lie beyond it, "
                f"and its scores may be better there."
            )
    missing = [
        shown_value(row[by])
        for row in df.to_dict("records")
        if not row["test_curves"] and not _text(row.get("search"))
    ]
    if missing:
        notes.append(
            f"no test curve for {by}={', '.join(missing)}: their runs (the confirm stage's, "
            "reused) scored the test part once, at the end; run a study with --test-curves "
            "for best test and epochs to a threshold."
        )
    return notes


def format_comparison(df: pd.DataFrame, fmt: str = "table") -> str:
    """A comparison (see :func:`comparison`) as text: :func:`display_comparison` and its
    notes for ``table`` and ``markdown``; ``csv`` and ``json`` keep every column at full
    precision.

    Raises:
        ValueError: Unknown format.

    Example:
        >>> print(format_comparison(comparison(runs, "optimizer"), "markdown"))  # doctest: +SKIP
    """
    text = format_frame(df, display_comparison(df), fmt)
    if fmt in ("table", "markdown"):
        text += "".join(f"\nnote: {note}" for note in comparison_notes(df))
    return text
