"""The study folder's ``index.html`` as text: one static page, readable offline, with no script.

Pure rendering from given data: the ranking, the notes, the confirmed table and headline, the
figure paths and the study definition (``study.json``'s content, read by the caller); nothing
here reads or writes a file (:mod:`hpsearch.reports.publish` writes the page). Figures and files are
linked by relative path, so that the folder can be moved, zipped or opened from a file browser.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hpsearch.records import Goal
from hpsearch.reports.formatting import INTERVAL, display_frame, looks_numeric, metric_text
from hpsearch.storage.definition import Definition

__all__ = ["render_index", "about", "INDEX"]

INDEX = "index.html"

#: Seconds between reloads of a running study's page.
REFRESH = 3

_CAPTIONS = {
    "importance": "Each searched parameter's share of the variance of the metric, with its 95% "
    "interval over bootstrap resamples of the trials (each parameter's main effect, less chance).",
    "best_curves": "Learning curves of the best trials: validation solid, training dashed; "
    "each title gives the final validation accuracy and its 95% interval.",
    "history": "Search history: each trial's final validation accuracy, and the best so far; "
    "crosses on the bottom edge are trials without a score.",
    "map": "The trials over two searched parameters, coloured by validation accuracy; "
    "crosses are trials without a score, the star the best single trial, the green diamond the "
    "configuration the confirm stage chose.",
    "param_scores": "Final validation accuracy against each searched parameter; "
    "the star is the best single trial, the green diamond the configuration the confirm stage "
    "chose; crosses on the bottom edge are trials without a score.",
}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-top: 0; }
.running { background: #fff6dd; border-left: 4px solid #d90; padding: 0.5em 0.8em; }
.headline { font-size: 1.1em; background: #eef5ee; border-left: 4px solid #4a4; \
padding: 0.5em 0.8em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
.notes li { margin-bottom: 0.4em; } code { background: #f3f3f3; padding: 0 0.2em; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
"""

_NUMERIC = {
    "rank",
    "trial",
    "val_acc",
    "best_val_acc",
    "train_acc",
    "epochs",
    "seconds",
    INTERVAL,
    "repeats",
    "train",
    "validation",
    "test",
}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_short(v) for v in value) if value else "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items()) if value else "-"
    if value is None:
        return "-"
    return str(value)


def _space_specs(space: Any) -> list[tuple[str, str]]:
    from hpsearch.space.search_space import SearchSpace

    try:
        parsed = SearchSpace.from_json(space)
        return [(name, parsed[name].spec()) for name in parsed.names]
    except Exception:  # an unexpected layout is shown as it is rather than not at all
        return (
            [(str(k), _short(v)) for k, v in dict(space).items()] if isinstance(space, dict) else []
        )


def _settings_rows(settings: Definition) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    strategy = settings.strategy
    extra = {k: v for k, v in strategy.items() if k != "name"}
    rows.append(("strategy", strategy["name"] + (f" ({_short(extra)})" if extra else "")))
    rows += [("n_trials", _short(settings.n_trials)), ("seed", _short(settings.seed))]
    if settings.objective:
        rows.append(("objective", settings.objective))
    if settings.code:
        rows.append(("objective's code", settings.code[:8]))
    for change in settings.code_changes:  # runs of two versions of the code, ranked together
        rows.append(
            (
                "code changed",
                f"after {change.get('trials')} trials and {change.get('repeats')} confirm runs: "
                f"{str(change.get('from'))[:8]} to {str(change.get('to'))[:8]}",
            )
        )
    goal = settings.goal
    if goal.get("metric"):
        rows.append(("ranked by", f"{goal['metric']}, {goal.get('direction', 'maximize')}d"))
    pruning = settings.pruning
    if pruning.get("kind", "none") != "none":
        extra = {k: v for k, v in pruning.items() if k != "kind"}
        rows.append(
            ("pruning", f"{pruning['kind']} ({_short(extra)})" if extra else pruning["kind"])
        )
    else:
        rows.append(("pruning", "none"))
    rows += [
        ("confirm (configurations)", _short(settings.confirm)),
        ("repeats (runs each)", _short(settings.repeats)),
        ("refit", _short(settings.refit)),
        ("test curves", _short(settings.test_curves)),
    ]
    specs = _space_specs(settings.space)
    rows.extend((f"searched: {name}", spec) for name, spec in specs)
    # A searched setting's config value is only its unused default: showing it beside the
    # searched range would read as if it were fixed. (An own objective's study holds no
    # network's settings.)
    searched = {name for name, _ in specs}
    config = {k: v for k, v in settings.config.items() if k not in searched and k != "fixed"}
    rows.extend((k, _short(v)) for k, v in config.items())
    fixed = settings.config.get("fixed") or {}
    rows.extend((f"fixed: {k}", _short(v)) for k, v in fixed.items())  # the objective's own
    return rows


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    return (
        f"{minutes:.0f} min" if minutes < 120 else f"{minutes // 60:.0f} h {minutes % 60:.0f} min"
    )


def about(df: pd.DataFrame, settings: Definition | None = None) -> list[str]:
    """The page's facts line, item by item: creation date, training time, validation size, versions.

    The date is the definition's ``created`` (when present); the training time is the sum of
    the trials' seconds (worker time: with several workers the wall time is shorter); the
    validation size comes from the ranking's ``n_val``; numpy's version is the one rendering.

    Example:
        >>> about(ranking_df, study.storage.definition())  # doctest: +SKIP, +NORMALIZE_WHITESPACE
        ['created 2024-05-01 12:00:00', '40 trials, 58.3 s of training',
         '100 validation images', ...]
    """
    items = []
    if settings is not None and settings.created:
        items.append("created " + settings.created.replace("T", " ")[:19])
    if len(df):
        n = len(df)
        items.append(
            f"{n} trial{'s' if n != 1 else ''}, {_duration(float(df['seconds'].sum()))} of training"
        )
    sizes = sorted({int(v) for v in df["n_val"].dropna()}) if "n_val" in df.columns else []
    if sizes:
        shown = f"{sizes[0]:,}" if len(sizes) == 1 else f"{sizes[0]:,}-{sizes[-1]:,}"
        items.append(f"{shown} validation images")
    versions = [f"hpsearch {settings.hpsearch_version}"] if settings is not None else []
    items.append(", ".join(versions + [f"numpy {np.__version__}"]))
    return items


def _table(shown: pd.DataFrame, table_id: str) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in shown.columns)
    body = []
    for row in shown.itertuples(index=False):
        cells = "".join(
            f'<td class="num">{_e(v)}</td>'
            if c in _NUMERIC or looks_numeric(str(v))
            else f"<td>{_e(v)}</td>"
            for c, v in zip(shown.columns, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<table id="{table_id}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(body)
        + "\n</tbody>\n</table>"
    )


def _note(text: str) -> str:
    # The proposed command line reads (and copies) best as code, quotes and all.
    return re.sub(r"(--param (?:&quot;.+?&quot;|\S+))", r"<code>\1</code>", _e(text))


def _relative(path: Path, folder: Path) -> str:
    try:
        rel = os.path.relpath(Path(path).resolve(), Path(folder).resolve())
    except ValueError:  # another drive on Windows
        rel = str(Path(path).resolve())
    return Path(rel).as_posix()


def render_index(
    df: pd.DataFrame,
    *,
    folder: str | os.PathLike[str] = ".",
    notes: Sequence[str] = (),
    figures: Mapping[str, str | os.PathLike[str]] | None = None,
    settings: Definition | None = None,
    files: Mapping[str, str | os.PathLike[str]] | None = None,
    top: int = 20,
    title: str | None = None,
    headline: str | None = None,
    confirmed: pd.DataFrame | None = None,
    importance: pd.DataFrame | None = None,
    comparisons: Mapping[str, tuple[pd.DataFrame, Sequence[str]]] | None = None,
    running: str | None = None,
    goal: Goal | None = None,
    captions: Mapping[str, str] | None = None,
) -> str:
    """The page as a string.

    Args:
        df: The ranking (see :func:`hpsearch.reports.ranking.ranking`).
        folder: Where the page will live; figure and file links are made relative to it.
        notes: Sentences on what the numbers say (edge notes, the tie note).
        figures: Figure name to PNG path, shown in this order.
        settings: The study definition (``study.json``, read through :class:`Definition`).
        files: Name to path of other files to link (e.g. the CSVs).
        top: Rows of the ranking shown.
        title: The page title (default: the study name, else the folder name).
        headline: One line on the chosen configuration, shown first (see
            :func:`hpsearch.reports.confirmed.headline`).
        confirmed: The confirmed configurations as display strings (see
            :func:`hpsearch.reports.confirmed.display_confirmed`).
        importance: Each parameter's share of the variance, as display strings (see
            :func:`hpsearch.reports.importance.display`).
        comparisons: Per setting compared (``compare_<setting>.csv``), its table as display
            strings and its notes (see :func:`hpsearch.reports.comparison.display_comparison`).
        running: While the study runs, a line on its progress: the page then reloads itself
            every few seconds (a meta refresh), and stops once a page without it replaces it.
        goal: What the study ranks by (validation accuracy if not given): the summary and the
            captions name it.
        captions: Figure name to its caption, said from what the figure draws (see
            :func:`hpsearch.reports.curve_plots.best_curves_caption`), instead of the default.

    Returns:
        HTML5 with inline CSS and no JavaScript.

    Example:
        >>> page = render_index(ranking_df, settings=definition, notes=notes)  # doctest: +SKIP
    """
    folder = Path(folder)
    name = title or (settings.name if settings else None) or folder.resolve().name or "study"
    n = len(df)
    states = df["state"].value_counts().to_dict() if n else {}
    scored = int(df["val_acc"].notna().sum()) if n else 0
    summary = f"{n} trial{'s' if n != 1 else ''}, {scored} scored"
    if states:
        summary += " (" + ", ".join(f"{k} {v}" for k, v in sorted(states.items())) + ")"
    aim = goal or Goal()
    if scored and not aim.accuracy and aim.metric in df.columns:
        value = df[aim.metric].iloc[0]
        summary += f"; best {aim.metric} {metric_text(value)} (trial {int(df['trial'].iloc[0])})"
    elif scored:
        best = display_frame(df.head(1)).iloc[0]
        interval = f", 95% interval {best[INTERVAL]}" if INTERVAL in best.index else ""
        summary += (
            f"; best validation accuracy {best['val_acc']}{interval} "
            f"(trial {int(df['trial'].iloc[0])})"
        )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        *([f'<meta http-equiv="refresh" content="{REFRESH}">'] if running else []),
        f"<title>{_e(name)} - hpsearch report</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(name)}</h1>",
        '<p class="meta" id="about">'
        f"{' &middot; '.join(_e(item) for item in about(df, settings))}</p>",
    ]
    if running:
        parts.append(f'<p class="running" id="running">{_e(running)}</p>')
    if headline:
        parts.append(f'<p class="headline" id="headline">{_e(headline)}</p>')
    parts.append(f'<p id="summary">{_e(summary)}.</p>')
    parts.append('<h2 id="notes-title">What the numbers say</h2>')
    if n and not scored and not running:
        said = ", ".join(f"{v} {k}" for k, v in sorted(states.items()))
        parts.append(
            f'<p id="notes">No trial has a score ({_e(said)}), so nothing was confirmed and no '
            "figure was drawn: see the error column below.</p>"
        )
    elif notes:
        parts.append('<ul class="notes" id="notes">')
        parts.extend(f"<li>{_note(note)}</li>" for note in notes)
        parts.append("</ul>")
    else:
        parts.append(
            '<p id="notes">No note: the best trials do not crowd a bound of any searched range '
            "(checked once five or more trials have a score).</p>"
        )
    if confirmed is not None and len(confirmed):
        parts.append("<h2>Confirmed: the best configurations trained again with fresh seeds</h2>")
        parts.append(_table(confirmed, "confirmed"))
    for by, (shown, remarks) in (comparisons or {}).items():
        parts.append(
            f'<h2 id="compare-{_e(by)}-title">Compared by {_e(by)}: each value\'s best '
            "configuration trained again with fresh seeds</h2>"
        )
        parts.append(_table(shown, f"compare-{by}"))
        if remarks:
            parts.append(f'<ul class="notes" id="compare-{_e(by)}-notes">')
            parts.extend(f"<li>{_note(note)}</li>" for note in remarks)
            parts.append("</ul>")
    if importance is not None and len(importance):
        parts.append("<h2>Which setting matters</h2>")
        parts.append(_table(importance, "importance"))
    parts.append(f"<h2>Top {min(top, n)} of {n}</h2>")
    parts.append(_table(display_frame(df, top), "ranking") if n else "<p>No trials yet.</p>")
    if files:
        links = " &middot; ".join(
            f'<a href="{_e(_relative(Path(p), folder))}">{_e(Path(p).name)}</a>'
            for p in files.values()
        )
        parts.append(f"<p>All runs, every column: {links}</p>")
    if figures:
        parts.append("<h2>Figures</h2>")
        for key, path in figures.items():
            src = _relative(Path(path), folder)
            caption = _CAPTIONS.get(key, key.replace("_", " "))
            if key.startswith("compare_"):  # accuracy per epoch, whatever the study ranks by
                caption = (captions or {}).get(
                    key,
                    f"Mean validation accuracy (and test accuracy, where scored per epoch) of "
                    f"each {key[8:]} value's confirmed runs, one colour each; the band is one "
                    "standard deviation.",
                )
            elif key in (captions or {}):
                caption = (captions or {})[key]
            elif not aim.accuracy:  # the figures plot the study's own metric
                caption = caption.replace(
                    "final validation accuracy", f"final {aim.metric} ({aim.direction}d)"
                ).replace("validation accuracy", aim.metric)
            parts.append(
                f'<figure id="fig-{_e(key)}"><img src="{_e(src)}" alt="{_e(caption)}">'
                f"<figcaption>{_e(caption)}</figcaption></figure>"
            )
    if settings:
        parts.append("<h2>Settings</h2>")
        parts.append('<table id="settings"><tbody>')
        parts.extend(
            f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in _settings_rows(settings)
        )
        parts.append("</tbody></table>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
