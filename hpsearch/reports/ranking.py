"""What a study's trials say: the ranking, the curves, the top table, and the tie note.

Pure functions from trial records to tables and sentences; :mod:`hpsearch.reports.publish` writes
them, so the reports of a running or interrupted study can be rebuilt from its log at any time.

An accuracy measured on ``n`` images has a binomial error (on 100 images a 95% interval is about
±0.1 wide): the ranking gives each trial its Wilson interval, displayed scores keep the decimals
that size can carry (:mod:`hpsearch.reports.formatting`), and :func:`tie_note` says which trials
are tied.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hpsearch.reports.formatting import decimals_for, wilson
from hpsearch.trial import Goal, TrialResult

__all__ = [
    "ranking",
    "curves",
    "display_frame",
    "format_top",
    "format_frame",
    "tied_with_best",
    "tie_note",
    "looks_numeric",
    "FORMATS",
    "SCORE_COLUMNS",
]

SCORE_COLUMNS = ("val_acc", "best_val_acc", "train_acc")
CURVE_COLUMNS = ("trial", "epoch", "train_acc", "val_acc", "loss")
FORMATS = ("table", "markdown", "csv", "json")


def _size(value: Any) -> int | None:  # an image count from a frame cell; NaN and NA are unknown
    return None if value is None or pd.isna(value) else int(value)


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
    return df[columns].reset_index(drop=True)


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
    n, d = _size(best["n_val"]), decimals_for(_size(best["n_val"]))
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


# --------------------------------------------------------------------------- tables
_SCORE_LIKE = {"val_acc", "best_val_acc", "train_acc"}
INTERVAL = "95% CI"  # the displayed column that joins val_acc_low and val_acc_high


def _cell(column: str, value: Any, decimals: int = 4) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        spec = f".{decimals}f" if column in _SCORE_LIKE else ".1f" if column == "seconds" else ".4g"
        return format(value, spec)
    return str(value)


def display_frame(df: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
    """The first ``k`` rows as strings for reading.

    Scores keep the decimals their validation size can carry (:func:`decimals_for`; 4 when the
    size is unknown), params 4 significant digits. ``val_acc_low`` and ``val_acc_high`` become one
    ``95% CI`` column (dropped when no shown trial has one); ``n_val`` is dropped, and so is
    ``error`` when no shown trial has an error.

    Example:
        >>> display_frame(ranking(study.trials, study.space.names), 5)  # doctest: +SKIP
    """
    shown = df if k is None else df.head(k)
    sizes = [_size(v) for v in shown["n_val"]] if "n_val" in shown.columns else [None] * len(shown)
    places = [decimals_for(n) for n in sizes]
    out = {
        c: [_cell(c, v, d) for v, d in zip(shown[c].tolist(), places, strict=True)]
        for c in shown.columns
    }
    columns = [c for c in shown.columns if c not in ("val_acc_low", "val_acc_high", "n_val")]
    if "val_acc_low" in shown.columns:
        out[INTERVAL] = [
            f"{lo}-{hi}" if lo and hi else ""
            for lo, hi in zip(
                [
                    _cell("val_acc", v, d)
                    for v, d in zip(shown["val_acc_low"].tolist(), places, strict=True)
                ],
                [
                    _cell("val_acc", v, d)
                    for v, d in zip(shown["val_acc_high"].tolist(), places, strict=True)
                ],
                strict=True,
            )
        ]
        if any(out[INTERVAL]):
            columns.insert(columns.index("val_acc") + 1, INTERVAL)
    if "error" in columns and not any(out["error"]):
        columns.remove("error")
    return pd.DataFrame({c: out[c] for c in columns}, columns=columns)


def _markdown(table: pd.DataFrame) -> str:
    # Written by hand: DataFrame.to_markdown needs the optional ``tabulate`` package.
    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    numeric = [
        c in ("rank", "trial", "epochs", "seconds", INTERVAL)
        or c in _SCORE_LIKE
        or (len(table) > 0 and all(looks_numeric(v) for v in table[c] if v != ""))
        for c in table.columns
    ]
    lines = ["| " + " | ".join(esc(str(c)) for c in table.columns) + " |"]
    lines.append("|" + "|".join("---:" if num else "---" for num in numeric) + "|")
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(esc(str(v)) for v in row) + " |")
    return "\n".join(lines)


def looks_numeric(text: str) -> bool:
    """Whether a table cell reads as a number (such columns are right-aligned)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _json_value(value: Any) -> Any:
    if value is pd.NA or value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_frame(data: pd.DataFrame, shown: pd.DataFrame, fmt: str) -> str:
    """A table as text: ``csv`` and ``json`` from ``data`` at full precision, ``table`` and
    ``markdown`` from ``shown`` (the same rows as display strings). Unknown formats raise
    ValueError."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; expected one of {list(FORMATS)}")
    if fmt == "csv":
        return data.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        records = [
            {str(c): _json_value(v) for c, v in zip(data.columns, row, strict=True)}
            for row in data.itertuples(index=False)
        ]
        return json.dumps(records, indent=2, allow_nan=False)
    if fmt == "markdown":
        return _markdown(shown)
    return "(no trials)" if shown.empty else shown.to_string(index=False)


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
            :func:`display_frame`).

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
