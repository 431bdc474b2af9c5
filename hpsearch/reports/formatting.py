"""How a report writes its numbers and tables as text: to the decimals the measurement
carries, and no more.

An accuracy measured on ``n`` images has a binomial error (on 100 images a 95% interval is about
±0.1 wide): :func:`wilson` gives that interval, :func:`decimals_for` and :func:`decimals_at` the
decimals a score can carry on its set's size, :func:`column_decimals` one precision for a column
of them. A metric of unknown range (an own objective's ``val_loss``) gets
:data:`METRIC_DECIMALS` everywhere instead (:func:`metric_text`, :func:`mean_sd_text`). The
ranking, the confirmed table, the comparison, the studies side by side and the figures' labels
all show their numbers through these functions, so the
same score reads the same everywhere; :func:`state_counts` says how runs without a score ended.
:func:`display_frame` turns a ranking into such strings, and :func:`format_frame` writes any
table as plain text, markdown, CSV or JSON. A parameter searched under a condition is blank where
a trial did not have it (:func:`blank`), and the reports say on how many trials it stands
(:func:`having`, :func:`where`, :func:`share`, :func:`quoted`).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from hpsearch.records import RepeatResult, TrialResult, TrialState
from hpsearch.space.search_space import SearchSpace

__all__ = [
    "blank",
    "having",
    "where",
    "share",
    "quoted",
    "Z95",
    "wilson",
    "decimals_for",
    "decimals_at",
    "column_decimals",
    "mean_sd",
    "pm",
    "mean_sd_text",
    "metric_text",
    "METRIC_DECIMALS",
    "shown_value",
    "param_text",
    "state_counts",
    "failed_note",
    "cell_size",
    "display_frame",
    "format_frame",
    "looks_numeric",
    "FORMATS",
    "INTERVAL",
]

#: The normal quantile of a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of an accuracy ``p`` measured on ``n`` images.

    Unlike ``p ± z·sqrt(p(1-p)/n)``, it stays inside [0, 1] and is not empty at 0 or 100%.

    Example:
        >>> [round(v, 3) for v in wilson(0.8, 100)]
        [0.711, 0.867]
    """
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    return max(0.0, centre - half), min(1.0, centre + half)


def decimals_for(n: int | float | None, default: int = 4) -> int:
    """Decimals an accuracy measured on ``n`` images can carry: down to its 95% interval's
    half-width.

    The half-width at p = 0.5, the widest, is 0.98 / sqrt(n): 0.098 on 100 images (2
    decimals), 0.022 on 2,000 (2), 0.0098 on 10,000 (3). Unknown sizes (logs written before
    the size was recorded) get ``default``.

    Example:
        >>> decimals_for(100), decimals_for(10_000), decimals_for(None)
        (2, 3, 4)
    """
    if n is None or not n > 0 or (isinstance(n, float) and not math.isfinite(n)):
        return default
    return max(1, math.ceil(-math.log10(Z95 * 0.5 / math.sqrt(n))))


def decimals_at(p: float | None, n: int | float | None, default: int = 4) -> int:
    """Decimals an accuracy ``p`` measured on ``n`` images can carry: down to its own 95%
    interval's half-width, ``1.96 sqrt(p (1 - p) / n)`` (narrower near 0 and 1 than
    :func:`decimals_for`'s widest case); without ``p``, :func:`decimals_for`.

    Example:
        >>> decimals_at(0.66, 2000), decimals_at(0.95, 2000), decimals_at(None, 2000)
        (2, 3, 2)
    """
    if p is None or not math.isfinite(p) or n is None or not n > 0:
        return decimals_for(n, default)
    q = min(max(float(p), 0.0), 1.0)
    half = Z95 * math.sqrt(max(q * (1 - q), 1 / n) / n)
    return max(1, math.ceil(-math.log10(half)))


def column_decimals(df: pd.DataFrame, mean: str, size: str) -> int:
    """One precision for a column of means: the most decimals any of its rows supports (each
    mean's own 95% interval on its set's size, :func:`decimals_at`), so that the rows read
    alike and none looks better for a digit more."""
    places = [
        decimals_at(row[mean], None if pd.isna(row[size]) else row[size])
        for row in df.to_dict("records")
        if not pd.isna(row[mean])
    ]
    return max(places, default=decimals_at(None, None))


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN for what cannot be computed)."""
    mean = statistics.fmean(values) if values else math.nan
    return mean, statistics.stdev(values) if len(values) > 1 else math.nan


def pm(mean: float, sd: float, d: int) -> str:
    """``mean ± sd`` to ``d`` decimals (the mean alone without an sd; ``-`` without a mean)."""
    if math.isnan(mean):
        return "-"
    return f"{mean:.{d}f}" if math.isnan(sd) else f"{mean:.{d}f} ± {sd:.{d}f}"


#: Decimals of a metric of unknown range (an own objective's ``val_loss``): one precision
#: wherever the study prints it (ranking, page, headline, captions, figures, terminal), so that
#: the same value reads the same everywhere and a column's rows read alike.
METRIC_DECIMALS = 3


def metric_text(value: float | None) -> str:
    """A value of a metric of unknown range, to :data:`METRIC_DECIMALS` decimals (``-``: none).

    Example:
        >>> metric_text(2.28452), metric_text(0.53)
        ('2.285', '0.530')
    """
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{METRIC_DECIMALS}f}"


def mean_sd_text(mean: float, sd: float) -> str:
    """``mean ± sd`` for a metric of unknown range (no set size to give its precision), both to
    :data:`METRIC_DECIMALS` decimals, as :func:`metric_text` writes its values.

    Example:
        >>> mean_sd_text(1.137, 0.08), mean_sd_text(2.28452, float("nan"))
        ('1.137 ± 0.080', '2.285')
    """
    if math.isnan(mean):
        return "-"
    return pm(mean, sd, METRIC_DECIMALS)


def shown_value(value: Any) -> str:
    """A setting's value as a table shows it: floats to three significant digits."""
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:.3g}"
    return str(value)


def param_text(value: Any) -> str:
    """A setting's cell in a table: :func:`shown_value`, blank where the row's runs did not
    have the setting (a parameter searched under a condition that failed there; None, or NaN
    read back from a CSV), as the ranking shows it.

    Example:
        >>> param_text(0.99312), param_text(None), param_text(float("nan"))
        ('0.993', '', '')
    """
    return "" if blank(value) else shown_value(value)


def state_counts(records: Iterable[RepeatResult | TrialResult]) -> str:
    """How many records (trials or runs) ended in each state, in the states' own order
    (COMPLETE, PRUNED, DIVERGED, TIMEOUT, FAILED): ``"1 DIVERGED, 2 FAILED"`` ("" for none).
    Every summary of states (the terminal, ``list``, the tables) says them this one way.

    Example:
        >>> state_counts(t for t in study.trials if not t.ok)  # doctest: +SKIP
        '4 DIVERGED, 1 FAILED'
    """
    ended = [r.state for r in records]
    return ", ".join(f"{ended.count(s)} {s.value}" for s in TrialState if s in ended)


def failed_note(trials: Iterable[TrialResult]) -> str | None:
    """A line on the FAILED trials of a study whose other trials have scores (a failure is
    said even when the ranking's top hides it), with the first one's error; None if none."""
    trials = list(trials)
    failed = sorted((t for t in trials if t.state is TrialState.FAILED), key=lambda t: t.number)
    if not failed or len(failed) == len(trials):
        return None
    first = failed[0]
    kinds = len({(t.error or "").split(":")[0] for t in failed})
    more = f"; {kinds} kinds of error" if kinds > 1 else ""
    return (
        f"{len(failed)} of {len(trials)} trials FAILED (trial {first.number}: {first.error}"
        f"{more}); each trial's error is in ranking.csv"
    )


#: The text formats of a table: aligned plain text, a GitHub table, CSV, a JSON list.
FORMATS = ("table", "markdown", "csv", "json")


def cell_size(value: Any) -> int | None:
    """An image count from a frame cell (``n_val``); NaN and NA are unknown (None)."""
    return None if value is None or pd.isna(value) else int(value)


_SCORE_LIKE = {"val_acc", "best_val_acc", "train_acc"}
INTERVAL = "95% CI"  # the displayed column that joins val_acc_low and val_acc_high


def _cell(column: str, value: Any, decimals: int = 4, metrics: Iterable[str] = ()) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        spec = (
            f".{decimals}f"
            if column in _SCORE_LIKE
            else ".1f"
            if column == "seconds"
            else f".{METRIC_DECIMALS}f"
            if column in metrics
            else ".4g"
        )
        return format(value, spec)
    return str(value)


def display_frame(
    df: pd.DataFrame, k: int | None = None, metrics: Sequence[str] = ()
) -> pd.DataFrame:
    """The first ``k`` rows as strings for reading.

    Scores keep the decimals their validation size can carry (:func:`decimals_for`; 4 when the
    size is unknown), ``metrics`` of unknown range (an own objective's ``val_loss``, also named
    by the ranking's ``attrs["metrics"]``) :data:`METRIC_DECIMALS`, params 4 significant
    digits. ``val_acc_low`` and ``val_acc_high`` become one ``95% CI`` column (dropped when no
    shown trial has one); ``n_val`` is dropped, and so is ``error`` when no shown trial has an
    error.

    Example:
        >>> display_frame(ranking(study.trials, study.space.names), 5)  # doctest: +SKIP
    """
    shown = df if k is None else df.head(k)
    metrics = [*metrics, *df.attrs.get("metrics", ())]
    sizes = (
        [cell_size(v) for v in shown["n_val"]] if "n_val" in shown.columns else [None] * len(shown)
    )
    places = [decimals_for(n) for n in sizes]
    out = {
        c: [_cell(c, v, d, metrics) for v, d in zip(shown[c].tolist(), places, strict=True)]
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


# ---------------------------------------------------------------- conditional parameters
_R = TypeVar("_R")


def blank(value: Any) -> bool:
    """Whether a table cell holds no value: a parameter the row's trial did not have (None,
    or NaN once the table went through pandas or a CSV)."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def having(records: Sequence[_R], name: str) -> list[_R]:
    """The trials (or runs) whose params hold ``name``: where it was searched."""
    return [r for r in records if name in getattr(r, "params", {})]


def where(space: SearchSpace | None, name: str) -> str | None:
    """``name``'s condition as the CLI writes it (``optimizer=rmsprop``); None for a parameter
    searched in every trial (or not in ``space``)."""
    if space is None or name not in space:
        return None
    when = space[name].when
    return None if when is None else when.spec()


def share(
    space: SearchSpace | None, name: str, found: int, total: int, what: str = "trials"
) -> str:
    """How many of ``total`` records have ``name``, and why not all: ``"searched where
    optimizer=rmsprop, in 7 of 12 trials"`` ("" when every record has it).

    Example:
        >>> share(None, "decay_rate", 12, 12)
        ''
    """
    if found >= total:
        return ""
    condition = where(space, name)
    said = f"{found} of {total} {what}"
    return f"searched where {condition}, in {said}" if condition else f"in {said}"


def quoted(spec: str) -> str:
    """A ``--param`` value as a shell reads it whole: quoted when it holds a space (a
    condition, ``decay_rate=float:0.9:0.999 if optimizer=rmsprop``)."""
    return f'"{spec}"' if any(c.isspace() for c in spec) else spec
