"""What a study's trials say: the ranking, the curves, the top table, notes on range edges, files.

Everything here is computed from the trial records alone, so the reports of a study that is
still running, or was interrupted, can be rebuilt from its log at any time.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from hpsearch.space import IntUniform, LogUniform, SearchSpace, Uniform
from hpsearch.trial import TrialResult

__all__ = [
    "ranking",
    "curves",
    "write_csv",
    "display_frame",
    "format_top",
    "edge_notes",
    "write_reports",
    "FORMATS",
    "SCORE_COLUMNS",
]

SCORE_COLUMNS = ("val_acc", "best_val_acc", "train_acc")
CURVE_COLUMNS = ("trial", "epoch", "train_acc", "val_acc", "loss")
FORMATS = ("table", "markdown", "csv", "json")


def ranking(trials: Sequence[TrialResult], param_names: Sequence[str]) -> pd.DataFrame:
    """One row per trial, best first, in the manner of scikit-learn's ``cv_results_``.

    Trials with a score (COMPLETE, PRUNED) are ranked by final validation accuracy, ties
    sharing the best rank; the others (DIVERGED, TIMEOUT, FAILED) follow, sharing the rank after
    the last scored trial. Within equal scores, lower trial numbers come first.

    Args:
        trials: The study's trials.
        param_names: The searched parameters, one column each under its own name.

    Returns:
        Columns ``rank``, ``trial``, the params, ``val_acc``, ``best_val_acc``, ``train_acc``,
        ``epochs``, ``state``, ``seconds``, ``error``.
    """
    columns = ["rank", "trial", *param_names, *SCORE_COLUMNS, "epochs", "state", "seconds", "error"]
    rows = []
    for t in trials:
        row = {"trial": t.number, **{name: t.params.get(name) for name in param_names}}
        row.update(
            val_acc=t.val_acc if t.ok else None,
            best_val_acc=t.best_val_acc,
            train_acc=t.train_acc,
            epochs=t.epochs,
            state=t.state.value,
            seconds=round(t.seconds, 4),
            error=t.error or "",
            _scored=t.ok and t.val_acc is not None,
        )
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows)
    df["_key"] = df["val_acc"].where(df["_scored"]).astype(float)
    df = df.sort_values(["_scored", "_key", "trial"], ascending=[False, False, True], kind="mergesort")
    n_scored = int(df["_scored"].sum())
    rank = df["_key"].rank(method="min", ascending=False)
    df["rank"] = rank.fillna(n_scored + 1).astype(int)
    return df[columns].reset_index(drop=True)


def curves(trials: Sequence[TrialResult]) -> pd.DataFrame:
    """The learning curves in long format, one row per trial and epoch, for plotting elsewhere.

    Returns:
        Columns ``trial``, ``epoch`` (from 1), ``train_acc``, ``val_acc``, ``loss``, sorted by
        trial then epoch; a value the trial did not record (or a NaN loss) is empty.
    """
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        n = max(len(t.train_curve), len(t.val_curve), len(t.loss_curve))
        for i in range(n):
            rows.append((
                t.number,
                i + 1,
                _at(t.train_curve, i),
                _at(t.val_curve, i),
                _at(t.loss_curve, i),
            ))
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def _at(values: Sequence[float | None], i: int) -> float | None:
    if i >= len(values) or values[i] is None:
        return None
    v = float(values[i])
    return v if math.isfinite(v) else None


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Writes a DataFrame atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------- top table
_SCORE_LIKE = {"val_acc", "best_val_acc", "train_acc"}


def _cell(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        if column in _SCORE_LIKE:
            return f"{value:.4f}"
        if column == "seconds":
            return f"{value:.1f}"
        return f"{value:.4g}"
    return str(value)


def display_frame(df: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
    """The first ``k`` rows as strings for reading: scores to 4 decimals, params to 4 digits.

    The ``error`` column is dropped when no shown trial has an error.
    """
    shown = df if k is None else df.head(k)
    if "error" in shown.columns and not shown["error"].fillna("").astype(str).str.len().any():
        shown = shown.drop(columns="error")
    return pd.DataFrame(
        {c: [_cell(c, v) for v in shown[c].tolist()] for c in shown.columns}, columns=list(shown.columns)
    )


def _markdown(table: pd.DataFrame) -> str:
    # Written by hand: DataFrame.to_markdown needs the optional ``tabulate`` package.
    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    numeric = [
        c in ("rank", "trial", "epochs", "seconds") or c in _SCORE_LIKE
        or (len(table) > 0 and all(_looks_numeric(v) for v in table[c] if v != ""))
        for c in table.columns
    ]
    lines = ["| " + " | ".join(esc(str(c)) for c in table.columns) + " |"]
    lines.append("|" + "|".join("---:" if num else "---" for num in numeric) + "|")
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(esc(str(v)) for v in row) + " |")
    return "\n".join(lines)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_top(df: pd.DataFrame, k: int = 5, fmt: str = "table") -> str:
    """The top ``k`` rows of a ranking as text.

    Args:
        df: A ranking (see :func:`ranking`).
        k: How many rows.
        fmt: ``"table"`` (aligned plain text), ``"markdown"`` (a GitHub table), ``"csv"`` or
            ``"json"`` (a list of objects). ``csv`` and ``json`` keep every column and the
            full precision; ``table`` and ``markdown`` round for reading.

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
    if fmt == "csv":
        return top.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        records = [
            {str(c): _json_value(v) for c, v in zip(top.columns, row)}
            for row in top.itertuples(index=False)
        ]
        return json.dumps(records, indent=2, allow_nan=False)
    table = display_frame(top)
    if fmt == "markdown":
        return _markdown(table)
    if table.empty:
        return "(no trials)"
    return table.to_string(index=False)


# --------------------------------------------------------------------------- edge notes
EDGE_BAND = 0.2  # the outer share of a range, at each end, that counts as "at the edge"


def _position(dim: Any, value: float) -> float:
    """Where ``value`` lies in the range: 0 at the low bound, 1 at the high one (log scale for log)."""
    if dim.kind == "log":
        lo, hi = math.log10(dim.low), math.log10(dim.high)
        return (math.log10(value) - lo) / (hi - lo)
    return (value - dim.low) / (dim.high - dim.low)


def _clean(value: float) -> float:
    # 1e-6 * 10 is 9.999999999999999e-06: round away the float noise before printing a spec.
    return float(f"{value:.12g}")


def _widened(dim: Any, side: str, top_positions: list[float]) -> Any | None:
    """The next range to try, or None when the range cannot move that way (e.g. below 0)."""
    if dim.kind == "log":
        lo, hi = dim.low, dim.high
        decades = math.log10(hi) - math.log10(lo)
        # Move the crowded bound a decade out; drop the far decade if none of the best used it.
        far_unused = decades > 1 and all(
            (p > 1 / decades) if side == "upper" else (p < 1 - 1 / decades) for p in top_positions
        )
        if side == "upper":
            return LogUniform(_clean(lo * 10) if far_unused else lo, _clean(hi * 10))
        return LogUniform(_clean(lo / 10), _clean(hi / 10) if far_unused else hi)
    width = dim.high - dim.low
    if dim.kind == "int":
        step = max(1, int(math.ceil(width / 2)))
        floor = 1 if dim.low >= 1 else (0 if dim.low >= 0 else None)
        if side == "upper":
            return IntUniform(dim.low, dim.high + step)
        low = dim.low - step if floor is None else max(floor, dim.low - step)
        return IntUniform(low, dim.high) if low < dim.low else None
    step = width / 2
    if side == "upper":
        return Uniform(dim.low, _clean(dim.high + step))
    low = dim.low - step if dim.low < 0 else max(0.0, dim.low - step)
    return Uniform(_clean(low), dim.high) if low < dim.low else None


def edge_notes(
    trials: Sequence[TrialResult],
    space: SearchSpace,
    *,
    top: int | None = None,
    min_trials: int = 5,
) -> list[str]:
    """Sentences naming each searched range whose best trials crowd one of its bounds.

    A numeric dimension is reported at a bound when, among the ``top`` best trials (default:
    the best 10%, at least 5), more than half lie in the outer 20% of the range at that end
    (measured on the log scale for log dimensions), the best trial among them. By chance alone
    (a parameter that does not matter) that happens to 5 of 5 trials with a probability of
    about 4% per bound, and far less for 10 of 100; the best trial alone sitting near a bound
    would happen 10 to 20% of the time, since validation accuracies on a few hundred images tie
    and jitter. Each sentence names the parameter, the bound and a
    widened range to try: a decade further on a log dimension (dropping the far decade when none
    of the best trials used it), half the width further on a linear one.

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
    scored = sorted(
        (t for t in trials if t.ok and t.val_acc is not None and math.isfinite(t.val_acc)),
        key=lambda t: (-t.val_acc, t.number),
    )
    if len(scored) < min_trials:
        return []
    k = top if top is not None else max(5, math.ceil(len(scored) / 10))
    best = scored[: max(1, min(k, len(scored)))]
    notes = []
    for name, dim in space.items():
        if dim.kind not in ("log", "float", "int"):
            continue
        values = [t.params.get(name) for t in best]
        if any(isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) for v in values):
            continue
        positions = [_position(dim, float(v)) for v in values]
        for side in ("upper", "lower"):
            if side == "upper":
                at_edge = [p >= 1 - EDGE_BAND for p in positions]
                bound = dim.high
            else:
                at_edge = [p <= EDGE_BAND for p in positions]
                bound = dim.low
            near = sum(at_edge)
            if not (at_edge[0] and near > len(best) / 2):
                continue
            best_value = best[0].params[name]
            shown = f"{best_value:.3g}" if isinstance(best_value, float) else str(best_value)
            scale = "log range" if dim.kind == "log" else "range"
            sentence = (
                f"{name}: {near} of the {len(best)} best trials (the best included) lie in the {side} "
                f"{EDGE_BAND:.0%} of the searched {scale} {dim.spec()}, near its {side} bound "
                f"{bound:g} (best trial: {name}={shown}); the optimum may lie beyond it."
            )
            wider = _widened(dim, side, positions)
            if wider is None:
                sentence += f" The range cannot extend below {bound:g}; consider fixing {name} at {bound:g}."
            else:
                sentence += f" Try --param {name}={wider.spec()}"
            notes.append(sentence)
    return notes


# --------------------------------------------------------------------------- files
def _map_axes(space: SearchSpace) -> tuple[str, str] | None:
    """The two parameters of the map: lr x weight decay when both are searched, else the first two numeric."""
    numeric = [n for n in space.names if space[n].kind in ("log", "float", "int")]
    if "lr" in numeric and "weight_decay" in numeric:
        return "lr", "weight_decay"
    return (numeric[0], numeric[1]) if len(numeric) >= 2 else None


def _save(fig: Any, path: Path, dpi: int) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, dpi=dpi, format="png")
    os.replace(tmp, path)
    return path


def write_reports(
    folder: str | os.PathLike[str],
    trials: Sequence[TrialResult],
    space: SearchSpace,
    *,
    n_best: int = 20,
    ncols: int = 5,
    top: int = 20,
    dpi: int = 80,
) -> dict[str, Path]:
    """Writes every report of a study folder from its trials.

    Files: ``ranking.csv``, ``curves.csv``, ``best_curves.png`` (the Best-N grid),
    ``history.png``, ``lr_wd_map.png`` (or ``map_<x>_<y>.png`` when lr and weight decay are
    not both searched; none with fewer than two numeric parameters), ``param_scores.png`` and
    ``index.html`` (settings from ``study.json`` if present, the top table, the edge notes,
    the figures). Each file is replaced atomically.

    Args:
        folder: The study folder (it must exist).
        trials: The study's trials.
        space: The search space.
        n_best: Panels of the Best-N grid.
        ncols: Panels per row of the Best-N grid.
        top: Rows of the table in ``index.html``.
        dpi: Resolution of the PNG files.

    Returns:
        Report name (``ranking``, ``curves``, ``best_curves``, ``history``, ``lr_wd_map`` or
        ``map``, ``param_scores``, ``index``) to path.
    """
    from hpsearch import plots
    from hpsearch.html import write_index

    folder = Path(folder)
    df = ranking(trials, space.names)
    paths = {
        "ranking": write_csv(df, folder / "ranking.csv"),
        "curves": write_csv(curves(trials), folder / "curves.csv"),
    }
    by_number = {t.number: t for t in trials}
    ranked = [by_number[int(n)] for n in df["trial"]]
    paths["best_curves"] = _save(plots.best_curves(ranked, n=n_best, ncols=ncols), folder / "best_curves.png", dpi)
    paths["history"] = _save(plots.history(trials), folder / "history.png", dpi)
    axes = _map_axes(space)
    if axes is not None:
        key, filename = ("lr_wd_map", "lr_wd_map.png") if axes == ("lr", "weight_decay") else (
            "map", f"map_{axes[0]}_{axes[1]}.png")
        paths[key] = _save(plots.lr_wd_map(trials, *axes, space=space), folder / filename, dpi)
    paths["param_scores"] = _save(plots.param_scores(trials, space), folder / "param_scores.png", dpi)
    figures = {k: v for k, v in paths.items() if v.suffix == ".png"}
    paths["index"] = write_index(
        folder, df, notes=edge_notes(trials, space), figures=figures, top=top,
        files={"ranking": paths["ranking"], "curves": paths["curves"]},
    )
    return paths
