"""What the confirm stage's runs say: the confirmed table, the order the choice reads, the headline.

Pure functions from :class:`~hpsearch.trial.RepeatResult` records to tables and one-line
summaries (:mod:`hpsearch.study.confirm` runs the stage, :mod:`hpsearch.reports.publish` writes the
files; a comparison by setting is :mod:`hpsearch.reports.comparison`'s).
Refit runs (trained on training plus validation images) have no validation score: they are
shown beside the repeats but never averaged with them nor used to choose.

A run without a score (FAILED, DIVERGED, TIMEOUT) counts as 0 in the means of the scores its
configuration's other runs have, as it does in the choice: the configuration did fail there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from hpsearch.records import DEFAULT_GOAL, Goal, RepeatResult, metric_of
from hpsearch.reports.formatting import (
    column_decimals,
    decimals_at,
    mean_sd,
    mean_sd_text,
    param_text,
    pm,
    shown_value,
    state_counts,
    wilson,
)

__all__ = [
    "confirmed_table",
    "display_confirmed",
    "choice_order",
    "headline",
    "METRICS",
    "scores_of",
    "size_of",
]

#: The parts of the data a run is scored on: ``train_acc``, ``val_acc``, ``test_acc``.
METRICS = ("train", "val", "test")


def scores_of(runs: Sequence[RepeatResult], metric: str) -> list[float]:
    """The runs' ``<metric>_acc``: 0 for a run without a score, when the others have that score."""
    scored = [
        getattr(r, f"{metric}_acc")
        for r in runs
        if r.ok and getattr(r, f"{metric}_acc") is not None
    ]
    return [*scored, *[0.0] * sum(not r.ok for r in runs)] if scored else []


def size_of(runs: Sequence[RepeatResult], attr: str) -> int | None:
    """The runs' set size ``attr`` (``n_val``, ``n_test``): the first run's that has one."""
    return next((getattr(r, attr) for r in runs if getattr(r, attr)), None)


def _by_trial(repeats: Sequence[RepeatResult]) -> dict[int, list[RepeatResult]]:
    groups: dict[int, list[RepeatResult]] = {}
    for r in sorted(repeats, key=lambda r: (r.number, r.repeat)):
        if not r.refit:
            groups.setdefault(r.number, []).append(r)
    return groups


def choice_order(
    repeats: Sequence[RepeatResult],
    rank: Sequence[int] | None = None,
    goal: Goal = DEFAULT_GOAL,
) -> list[tuple[int, float]]:
    """Each confirmed trial with the mean of the goal over its repeats, in the order the study's
    choice reads them: the best mean first (validation accuracy, a run without a score counting
    0; for another ``goal``, the mean of its metric over the runs that returned one), a tie to
    the better ranked in the search (``rank``: trial numbers, best first; a trial not in it
    comes after those that are), else to the earlier trial; trials without a mean (NaN) last,
    in the same order of rank.

    Refit runs do not count. The study's rule (:func:`hpsearch.study.confirm.choose`) takes the
    first with a mean; :func:`confirmed_table` lists the trials in this order.

    Example:
        >>> choice_order(study.repeats_done)  # doctest: +SKIP
        [(12, 0.74), (3, 0.71)]
    """
    means = {n: _goal_mean_sd(runs, goal)[0] for n, runs in _by_trial(repeats).items()}
    position = {n: i for i, n in enumerate(rank or ())}

    def key(n: int) -> tuple[bool, float, int]:
        missing = math.isnan(means[n])
        return missing, 0.0 if missing else goal.key(means[n]), position.get(n, len(position) + n)

    return [(n, means[n]) for n in sorted(means, key=key)]


def _goal_mean_sd(runs: Sequence[RepeatResult], goal: Goal) -> tuple[float, float]:
    """Mean and sd of the goal over ``runs``: validation accuracy as ever, or the metric of the
    runs that returned a finite one."""
    if goal.accuracy:
        return mean_sd(scores_of(runs, "val"))
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
    """One row per confirmed configuration: the chosen one first, then in the order the choice
    reads them (:func:`choice_order`): best mean of the goal first (validation accuracy, unless
    the study ranks by another metric); a tie goes to the better ranked in the search
    (``rank``), else to the earlier trial.

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
        for metric in METRICS:
            row[f"{metric}_mean"], row[f"{metric}_sd"] = mean_sd(scores_of(runs, metric))
        row.update(n_val=size_of(runs, "n_val"), n_test=size_of(runs, "n_test"))
        for name in _other_metrics(goal):
            values = [v for v in (metric_of(r, name) for r in runs if r.ok) if v is not None]
            row[f"{name}_mean"], row[f"{name}_sd"] = mean_sd(values)
        by_index = {r.repeat: r for r in runs}
        for i in indices:
            r = by_index.get(i)
            for metric in METRICS:  # NaN, not None: a float column, an empty CSV cell
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
                    scores_of(mine, metric)
                )
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=["trial", *param_names, "repeats", "failed"])
    df = pd.DataFrame(rows)
    place = {n: i for i, (n, _) in enumerate(choice_order(repeats, rank, goal))}
    df["_chosen"] = df["trial"] != chosen
    df["_place"] = [place[n] for n in df["trial"]]
    df = df.sort_values(["_chosen", "_place"], kind="mergesort").drop(columns=["_chosen", "_place"])
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
            **{p: param_text(row[p]) for p in param_names},
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
        number: The chosen trial (see :func:`hpsearch.study.confirm.choose`).
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
    n = len(refits)
    runs = f"{n} run{'s' if n != 1 else ''}"
    test, sd = mean_sd(scores_of(refits, "test"))
    if math.isnan(test):
        ended = [r for r in refits if not r.ok]
        if ended:  # what went wrong, not only that there is no score
            return f" | refit: {_ended(ended, n)}"
        return f" | refit: {runs}, no test score"
    d = decimals_at(test, size_of(refits, "n_test"))
    ended = [r for r in refits if not r.ok]
    failed = f"; {_ended(ended, n)}" if ended else ""
    return f" | refit test {pm(test, sd, d)} ({runs} on training + validation images{failed})"


def _ended(runs: Sequence[RepeatResult], total: int) -> str:
    """The states of ``runs`` (without a score, of ``total`` runs) and their first error, where
    the user's code raised: ``2 runs FAILED: ValueError: ... (mynet.py, line 12, in
    objective)``."""
    states = {r.state for r in runs}
    n = f"{total} run{'s' if total != 1 else ''}"
    if len(states) == 1 and len(runs) == total:  # every run, one way
        said = f"{n} {runs[0].state.value}"
    else:
        said = f"{state_counts(runs)} of {n}"
    errors = list(dict.fromkeys(r.error for r in runs if r.error))
    if not errors:
        return said
    more = len(errors) - 1
    return f"{said}: {errors[0]}" + (
        f" (and {more} other error{'s' if more != 1 else ''}: see repeats.jsonl)" if more else ""
    )


def _accuracy(runs: Sequence[RepeatResult]) -> str:
    """The headline's scores for validation accuracy: mean ± sd with the decimals the set sizes
    carry, and the test part's 95% interval."""
    text = ""
    failed = sum(not r.ok for r in runs)
    n_val, n_test = size_of(runs, "n_val"), size_of(runs, "n_test")
    what = [f"{len(runs)} repeat{'s' if len(runs) != 1 else ''}"]
    what += [f"{failed} failed"] if failed else []
    val, val_sd = mean_sd(scores_of(runs, "val"))
    d = decimals_at(val, n_val)
    sizes = [f"{n_val:,} images"] if n_val else []  # logs from before n_val was kept: no size
    text += f" | validation {pm(val, val_sd, d)} ({', '.join(what + sizes)})"
    test, test_sd = mean_sd(scores_of(runs, "test"))
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
