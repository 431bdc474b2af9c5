"""What a study's trials say: the ranking, the curves, the top table, and notes on what to trust.

Pure functions from trial records to tables and sentences; :mod:`hpsearch.reports.publish` writes
them, so the reports of a running or interrupted study can be rebuilt from its log at any time.

An accuracy measured on ``n`` images has a binomial error (on 100 images a 95% interval is about
±0.1 wide): the ranking gives each trial its Wilson interval, displayed scores keep the decimals
that size can carry (:mod:`hpsearch.reports.formatting`), and :func:`tie_note` says which trials
are tied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from hpsearch.records import Goal, TrialResult
from hpsearch.reports.formatting import (
    FORMATS,
    cell_size,
    decimals_for,
    display_frame,
    format_frame,
    having,
    quoted,
    share,
    wilson,
)
from hpsearch.space.dimensions import RangeDimension
from hpsearch.space.search_space import SearchSpace

__all__ = [
    "ranking",
    "curves",
    "format_top",
    "tied_with_best",
    "tie_note",
    "edge_notes",
    "varied",
    "SCORE_COLUMNS",
]

#: What a study ranks by when it is not told: validation accuracy, maximised.

SCORE_COLUMNS = ("val_acc", "best_val_acc", "train_acc")
CURVE_COLUMNS = ("trial", "epoch", "train_acc", "val_acc", "loss")


# --------------------------------------------------------------------------- ranking
def ranking(
    trials: Sequence[TrialResult], param_names: Sequence[str], goal: Goal | None = None
) -> pd.DataFrame:
    """One row per trial, best first, in the manner of scikit-learn's ``cv_results_``.

    Trials with a score (COMPLETE, PRUNED) are ranked by final validation accuracy, ties
    sharing the best rank; the others (DIVERGED, TIMEOUT, FAILED) follow with no rank (an empty
    cell) and no score, marked by their state. Within equal scores, lower trial numbers come
    first.

    Args:
        trials: The study's trials.
        param_names: The searched parameters, one column each under its own name.
        goal: What ranks (default: ``val_acc``, maximised). Another metric gets a column of
            its own, after the params, and ranks the trials in its direction.

    Returns:
        Columns ``rank``, ``trial``, the params, ``val_acc``, ``val_acc_low`` and ``val_acc_high``
        (its 95% Wilson interval; empty when the validation size is unknown), ``best_val_acc``,
        ``train_acc``, ``epochs``, ``state``, ``seconds``, ``error``, ``n_val`` (validation images).

    Example:
        >>> ranking(study.trials, study.space.names).head(3)  # doctest: +SKIP
    """
    aim = goal or Goal()
    own = [] if aim.accuracy else [aim.metric]
    columns = [
        "rank",
        "trial",
        *param_names,
        *own,
        "val_acc",
        "val_acc_low",
        "val_acc_high",
        *SCORE_COLUMNS[1:],
        "epochs",
        "state",
        "seconds",
        "error",
        "n_val",
    ]
    rows = []
    for t in trials:
        val_acc = t.val_acc if t.ok else None
        score = aim.of(t) if t.ok else None
        scored = score is not None
        low, high = wilson(val_acc, t.n_val) if val_acc is not None and t.n_val else (None, None)
        rows.append(
            {
                "trial": t.number,
                **{name: t.params.get(name) for name in param_names},
                **{name: score for name in own},
                "val_acc": val_acc,
                "val_acc_low": low,
                "val_acc_high": high,
                "best_val_acc": t.best_val_acc,
                "train_acc": t.train_acc,
                "epochs": t.epochs,
                "state": t.state.value,
                "seconds": round(t.seconds, 4),
                "error": t.error or "",
                "n_val": t.n_val,
                "_scored": scored,
                "_score": score,
            }
        )
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows)
    df["n_val"] = df["n_val"].astype("Int64")
    df["_key"] = df["_score"].where(df["_scored"]).astype(float)
    up = aim.direction == "minimize"
    df = df.sort_values(["_scored", "_key", "trial"], ascending=[False, up, True], kind="mergesort")
    # A trial without a score has no rank: it is listed after every scored one, with its state.
    df["rank"] = df["_key"].rank(method="min", ascending=up).astype("Int64")
    out = df[columns].reset_index(drop=True)
    out.attrs["metrics"] = own  # printed to one precision (see formatting.display_frame)
    return out


def tied_with_best(df: pd.DataFrame) -> int:
    """How many trials besides the best cannot be told apart from it on its validation set.

    A trial is tied with the best when its 95% interval reaches the best's lower bound (the two
    intervals overlap). Without intervals (validation size unknown) nothing is counted.

    Example:
        >>> tied_with_best(ranking(study.trials, study.space.names))  # doctest: +SKIP
        6
    """
    scored = df[df["val_acc"].notna()] if len(df) else df
    if scored.empty or pd.isna(scored["val_acc_low"].iloc[0]):
        return 0
    return int((scored["val_acc_high"].iloc[1:] >= scored["val_acc_low"].iloc[0]).sum())


def tie_note(df: pd.DataFrame, goal: Goal | None = None) -> str | None:
    """A sentence saying how many trials are within noise of the best, or None if none is.

    Only validation accuracy has an interval on its set size: a study ranked by another metric
    (``goal``) gets no such sentence.

    Example:
        >>> tie_note(ranking(study.trials, study.space.names))  # doctest: +SKIP
        'The best validation accuracy, 0.86 (trial 12), is measured on 100 images: ...'
    """
    if goal is not None and not goal.accuracy:
        return None
    tied = tied_with_best(df)
    if not tied:
        return None
    best = df.iloc[0]
    n, d = cell_size(best["n_val"]), decimals_for(cell_size(best["n_val"]))
    others = (
        "1 other trial's interval overlaps"
        if tied == 1
        else f"{tied} other trials' intervals overlap"
    )
    return (
        f"The best validation accuracy, {best['val_acc']:.{d}f} (trial {int(best['trial'])}), "
        f"is measured on {n:,} images: its 95% interval is "
        f"{best['val_acc_low']:.{d}f}-{best['val_acc_high']:.{d}f}, "
        f"and {others} it, so the top {tied + 1} "
        "cannot be told apart at this size. Repeats with fresh seeds (the confirm stage) or more "
        "validation images would separate them."
    )


def curves(trials: Sequence[TrialResult]) -> pd.DataFrame:
    """The learning curves in long format, one row per trial and epoch, for plotting elsewhere.

    Returns:
        Columns ``trial``, ``epoch`` (from 1), ``train_acc``, ``val_acc``, ``loss``, then any
        other value an own objective reported per epoch (``val_loss``), sorted by trial then
        epoch; a value the trial did not record (or a NaN) is empty.
    """
    extra = list(dict.fromkeys(name for t in trials for name in t.curves))
    rows = [
        (
            t.number,
            i + 1,
            _at(t.train_curve, i),
            _at(t.val_curve, i),
            _at(t.loss_curve, i),
            *(_at(t.curves.get(name, ()), i) for name in extra),
        )
        for t in sorted(trials, key=lambda t: t.number)
        for i in range(
            max(
                len(t.train_curve),
                len(t.val_curve),
                len(t.loss_curve),
                *(len(c) for c in t.curves.values()),
            )
        )
    ]
    return pd.DataFrame(rows, columns=[*CURVE_COLUMNS, *extra])


def _at(values: Sequence[float | None], i: int) -> float | None:
    value = values[i] if i < len(values) else None
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def format_top(df: pd.DataFrame, k: int = 5, fmt: str = "table") -> str:
    """The top ``k`` rows of a ranking as text.

    When the rank of the last row shown is shared by trials left out, ``table`` and ``markdown``
    say so in a line after the table (``rank 5 is shared by 2 more trials not shown``); the
    rows shown stay exactly ``k``.

    Args:
        df: A ranking (see :func:`ranking`).
        k: How many rows.
        fmt: ``"table"`` (aligned plain text), ``"markdown"`` (a GitHub table), ``"csv"`` or
            ``"json"`` (a list of objects). ``csv`` and ``json`` keep every column and the
            full precision; ``table`` and ``markdown`` round for reading (see
            :func:`hpsearch.reports.formatting.display_frame`).

    Returns:
        The text, without a trailing newline.

    Raises:
        ValueError: Unknown format, or ``k`` not a positive integer.

    Example:
        >>> print(format_top(study.ranking(), 3, "markdown"))  # doctest: +SKIP
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; expected one of {list(FORMATS)}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"--top must be a positive integer, but got {k!r}")
    top = df.head(int(k))
    text = format_frame(top, display_frame(top) if fmt in ("table", "markdown") else top, fmt)
    if fmt in ("table", "markdown") and len(df) > len(top):
        last = top["rank"].iloc[-1]
        more = int((df["rank"].iloc[len(top) :] == last).sum())
        if more:
            gap = "\n\n" if fmt == "markdown" else "\n"  # a paragraph of its own in markdown
            text += (
                f"{gap}rank {last} is shared by {more} more trial{'s' if more != 1 else ''} "
                "not shown"
            )
    return text


# --------------------------------------------------------------------------- edge notes
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

    A parameter searched under a condition (``decay_rate`` only where ``optimizer=rmsprop``) is
    judged on the scored trials that have it, its best trials the best of those; its sentence
    says how many they are. The trials where it did nothing never put it at a bound.

    Args:
        trials: The study's trials.
        space: The search space.
        top: How many of the best trials to look at.
        min_trials: Fewer scored trials (with the parameter) than this say nothing of it.

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
    ranked = [t for _, t in sorted(finite, key=lambda pair: (-pair[0], pair[1].number))]
    notes = []
    for name in varied(trials, space):
        dim = space[name]
        # A parameter searched under a condition is judged on the trials that have it alone:
        # in the others it did nothing, and its best trials are the best of those.
        scored = having(ranked, name)
        if not isinstance(dim, RangeDimension) or len(scored) < min_trials:
            continue
        k = top if top is not None else max(5, math.ceil(len(scored) / 10))
        best = scored[: max(1, min(k, len(scored)))]
        values = [t.params.get(name) for t in best]
        numbers = [
            float(v)
            for v in values
            if not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))
        ]
        if len(numbers) < len(values):  # a value that is not a number: no position in the range
            continue
        positions = [dim.position(v) for v in numbers]
        part = share(space, name, len(scored), len(ranked), "scored trials")
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
            head = f"{name} ({part})" if part else name
            sentence = (
                f"{head}: {near} of the {len(best)} best trials{' with it' if part else ''} "
                "(the best included) lie "
                f"in the {side} {EDGE_BAND:.0%} of the searched {scale} "
                f"{dim.spec().split(' if ')[0]}, near its {side} bound {bound:g} (best trial: "
                f"{name}={shown}); the optimum may lie beyond it."
            )
            wider = dim.widened(side, positions)
            if wider is None:
                sentence += (
                    f" The range cannot extend below {bound:g}; "
                    f"consider fixing {name} at {bound:g}."
                )
            else:
                sentence += f" Try --param {quoted(f'{name}={wider.spec()}')}"
            notes.append(sentence)
    return notes
