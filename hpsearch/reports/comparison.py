"""A comparison by setting: each value of one searched setting (the optimizer, the activation)
trained again with fresh seeds, side by side.

Pure functions from :class:`~hpsearch.trial.RepeatResult` records to the comparison table, its
display strings and notes (:mod:`hpsearch.study.study` runs the comparison's runs,
:func:`hpsearch.reports.curve_plots.comparison_curves` draws their mean curves,
:mod:`hpsearch.reports.publish` writes ``compare_<setting>.csv`` and ``.png``). Unlike the
confirmed table, a comparison describes each value by its runs with a score and names the
others beside the count: it chooses nothing.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from hpsearch.records import RepeatResult, TrialResult
from hpsearch.reports.confirmed import METRICS, scores_of, size_of
from hpsearch.reports.formatting import (
    column_decimals,
    format_frame,
    having,
    mean_sd,
    param_text,
    pm,
    share,
    shown_value,
    state_counts,
)
from hpsearch.reports.formatting import where as conditioned
from hpsearch.space.dimensions import Categorical, RangeDimension
from hpsearch.space.search_space import SearchSpace

__all__ = [
    "comparison",
    "comparison_notes",
    "default_thresholds",
    "display_comparison",
    "format_comparison",
    "in_order",
    "THRESHOLDS",
]

THRESHOLDS = (0.95, 0.97, 0.98)
#: The shares of the best value's mean test accuracy that :func:`default_thresholds` gives.
SHARES = (0.9, 0.95, 0.98)
#: The outer share of a range, at each end, where a row's value counts as at its bound.
EDGE = 0.05


def _first_epoch(curve: Sequence[float], threshold: float) -> int | None:
    return next((i + 1 for i, v in enumerate(curve) if v is not None and v >= threshold), None)


def comparison(
    repeats: Sequence[RepeatResult],
    by: str,
    thresholds: Sequence[float] | None = None,
    space: SearchSpace | None = None,
    trials: Sequence[TrialResult] = (),
    own: bool = False,
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
        own: The runs are a reader's own function's (not the built-in network's): what gives
            a run its test curve is then that function's doing (see ``no_curve``).

    Returns:
        One row per value, in sorted order: ``by``, each other searched setting, ``repeats``
        (runs with a score), ``failed`` (runs without one),
        ``train_mean``, ``train_sd``, ``val_mean``, ``val_sd``, ``test_mean``, ``test_sd``,
        ``best_test_mean``, ``best_test_sd`` (each run's best test accuracy over its epochs),
        for each threshold ``t`` ``epochs_to_<t>`` (the mean first epoch at which test accuracy
        reached ``t``, over the runs that did; empty if none did or no run has test curves) and
        ``reached_<t>`` (how many runs did), ``test_curves`` (runs with per-epoch test scores),
        ``seconds_mean``, ``n_val``, ``n_test``, ``edge``, ``no_curve`` (for a value whose
        runs have no test curve, what gives one: ``--test-curves`` for the built-in network,
        ``report test_acc`` for an own function; else empty), ``search`` (for a value with no
        scored trial: its trials' states, e.g. ``"2 DIVERGED"``; else empty); for a setting
        searched under a condition, ``where``: the condition and the trials that have it
        (``"searched where optimizer=rmsprop, in 7 of 12 trials"``).

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
        for metric in METRICS:
            row[f"{metric}_mean"], row[f"{metric}_sd"] = mean_sd(scores_of(scored, metric))
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
            n_val=size_of(group, "n_val"),
            n_test=size_of(group, "n_test"),
            edge="; ".join(_at_edges(row, others, space)),
            search="",
        )
    # A setting searched under a condition: its values are those of the trials that have it.
    where = share(space, by, len(having(trials, by)), len(trials)) if conditioned(space, by) else ""
    for row in rows:  # before search, the last column (but for ``where``)
        missing = row["repeats"] and not row["test_curves"]
        search = row.pop("search")
        row["no_curve"] = ("report test_acc" if own else "--test-curves") if missing else ""
        row["search"] = search
        if where:
            row["where"] = where
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
    for metric in METRICS:
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


#: What a comparison's note says gives runs their test curve (see ``no_curve``).
_REMEDIES = {
    "report test_acc": "at the end only, so best test and epochs to a threshold are missing: "
    "your function must report test_acc at each epoch, trial.report(epoch, test_acc=...), when "
    "trial.data.x_test is given (the runs made after that have one).",
    "--test-curves": "once, at the end (the confirm stage's, reused); run a study with "
    "--test-curves for best test and epochs to a threshold.",
}


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
        out = {by: shown_value(row[by]), **{n: param_text(row[n]) for n in others}}
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
    where = next((w for w in df.get("where", ()) if _text(w)), "")
    if where:  # the trials without the setting have no value of it: none is compared
        notes.append(
            f"{by} is {where}: the comparison stands on those; the other trials, where it did "
            "nothing, have no value of it."
        )
    missing: dict[str, list[str]] = {}
    for row in df.to_dict("records"):
        if not row["test_curves"] and not _text(row.get("search")):
            # A table from before the column: the built-in network's.
            remedy = _text(row.get("no_curve")) or "--test-curves"
            missing.setdefault(remedy, []).append(shown_value(row[by]))
    for remedy, values in missing.items():
        said = f"no test curve for {by}={', '.join(values)}: their runs scored the test part "
        notes.append(said + _REMEDIES.get(remedy, _REMEDIES["--test-curves"]))
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
