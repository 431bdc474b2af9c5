"""The study folder's ``index.html``: one static page, readable offline, with no script at all.

It shows the study's settings (from ``study.json`` when the folder has one), the top of the
ranking, the notes on range edges and the figures, which it links by relative path so that the
folder can be moved, zipped or opened from a file browser.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from hpsearch.report import _looks_numeric, display_frame

__all__ = ["render_index", "write_index", "read_settings"]

INDEX = "index.html"

_CAPTIONS = {
    "best_curves": "Learning curves of the best trials: validation solid, training dashed.",
    "history": "Search history: each trial's final validation accuracy, and the best so far.",
    "lr_wd_map": "The trials over learning rate x weight decay, coloured by validation accuracy; "
                 "crosses are trials without a score.",
    "map": "The trials over two searched parameters, coloured by validation accuracy; "
           "crosses are trials without a score.",
    "param_scores": "Final validation accuracy against each searched parameter.",
}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
.notes li { margin-bottom: 0.4em; } code { background: #f3f3f3; padding: 0 0.2em; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
"""


def read_settings(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The study definition in ``folder/study.json``, or None if it is missing or unreadable."""
    try:
        data = json.loads((Path(folder) / "study.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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
    from hpsearch.space import SearchSpace

    try:
        parsed = SearchSpace.from_json(space)
        return [(name, parsed[name].spec()) for name in parsed.names]
    except Exception:  # an unexpected layout is shown as it is rather than not at all
        return [(str(k), _short(v)) for k, v in dict(space).items()] if isinstance(space, dict) else []


def _settings_rows(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    strategy = settings.get("strategy")
    if isinstance(strategy, dict):
        extra = {k: v for k, v in strategy.items() if k != "name"}
        rows.append(("strategy", strategy.get("name", "?") + (f" ({_short(extra)})" if extra else "")))
    elif strategy is not None:
        rows.append(("strategy", str(strategy)))
    for key in ("n_trials", "seed"):
        if key in settings:
            rows.append((key, _short(settings[key])))
    for name, spec in _space_specs(settings.get("space", {})):
        rows.append((f"searched: {name}", spec))
    config = settings.get("config")
    if isinstance(config, dict):
        for key, value in config.items():
            rows.append((key, _short(value)))
    if "hpsearch_version" in settings:
        rows.append(("hpsearch version", str(settings["hpsearch_version"])))
    return rows


def _table(df: pd.DataFrame, top: int) -> str:
    shown = display_frame(df, top)
    numeric = {"rank", "trial", "val_acc", "best_val_acc", "train_acc", "epochs", "seconds"}
    head = "".join(f"<th>{_e(c)}</th>" for c in shown.columns)
    body = []
    for row in shown.itertuples(index=False):
        cells = "".join(
            f'<td class="num">{_e(v)}</td>' if c in numeric or _looks_numeric(v) else f"<td>{_e(v)}</td>"
            for c, v in zip(shown.columns, row)
        )
        body.append(f"<tr>{cells}</tr>")
    return (f'<table id="ranking">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(body) + "\n</tbody>\n</table>")


def _note(text: str) -> str:
    # The proposed command line reads (and copies) best as code.
    return re.sub(r"(--param \S+)", r"<code>\1</code>", _e(text))


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
    settings: Mapping[str, Any] | None = None,
    files: Mapping[str, str | os.PathLike[str]] | None = None,
    top: int = 20,
    title: str | None = None,
) -> str:
    """The page as a string.

    Args:
        df: The ranking (see :func:`hpsearch.report.ranking`).
        folder: Where the page will live; figure and file links are made relative to it.
        notes: Sentences on range edges (see :func:`hpsearch.report.edge_notes`).
        figures: Figure name to PNG path, shown in this order.
        settings: The study definition (``study.json``).
        files: Name to path of other files to link (e.g. the CSVs).
        top: Rows of the ranking shown.
        title: The page title (default: the study name, else the folder name).

    Returns:
        HTML5 with inline CSS and no JavaScript.
    """
    folder = Path(folder)
    settings = dict(settings) if settings else None
    name = title or (settings or {}).get("name") or folder.resolve().name or "study"
    n = len(df)
    states = df["state"].value_counts().to_dict() if n else {}
    scored = int(df["val_acc"].notna().sum()) if n else 0
    summary = f"{n} trial{'s' if n != 1 else ''}, {scored} scored"
    if states:
        summary += " (" + ", ".join(f"{k} {v}" for k, v in sorted(states.items())) + ")"
    if scored:
        summary += f"; best validation accuracy {df['val_acc'].max():.4f} (trial {int(df['trial'].iloc[0])})"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(name)} - hpsearch report</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(name)}</h1>",
        f'<p class="meta" id="summary">{_e(summary)}.</p>',
    ]
    parts.append('<h2 id="notes-title">What the numbers say</h2>')
    if notes:
        parts.append('<ul class="notes" id="notes">')
        parts.extend(f"<li>{_note(note)}</li>" for note in notes)
        parts.append("</ul>")
    else:
        parts.append('<p id="notes">No note: the best trials do not crowd a bound of any searched range '
                     '(checked once five or more trials have a score).</p>')
    parts.append(f'<h2>Top {min(top, n)} of {n}</h2>')
    parts.append(_table(df, top) if n else "<p>No trials yet.</p>")
    if files:
        links = " &middot; ".join(
            f'<a href="{_e(_relative(Path(p), folder))}">{_e(Path(p).name)}</a>' for p in files.values()
        )
        parts.append(f"<p>All trials: {links}</p>")
    if figures:
        parts.append("<h2>Figures</h2>")
        for key, path in figures.items():
            src = _relative(Path(path), folder)
            caption = _CAPTIONS.get(key, key.replace("_", " "))
            parts.append(
                f'<figure id="fig-{_e(key)}"><img src="{_e(src)}" alt="{_e(caption)}">'
                f"<figcaption>{_e(caption)}</figcaption></figure>"
            )
    if settings:
        parts.append("<h2>Settings</h2>")
        parts.append('<table id="settings"><tbody>')
        parts.extend(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in _settings_rows(settings))
        parts.append("</tbody></table>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def write_index(
    folder: str | os.PathLike[str],
    df: pd.DataFrame,
    *,
    notes: Sequence[str] = (),
    figures: Mapping[str, str | os.PathLike[str]] | None = None,
    files: Mapping[str, str | os.PathLike[str]] | None = None,
    top: int = 20,
    settings: Mapping[str, Any] | None = None,
) -> Path:
    """Writes ``folder/index.html`` atomically; settings default to the folder's ``study.json``.

    Returns:
        The page's path.
    """
    folder = Path(folder)
    if settings is None:
        settings = read_settings(folder)
    page = render_index(df, folder=folder, notes=notes, figures=figures, settings=settings,
                        files=files, top=top)
    path = folder / INDEX
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
