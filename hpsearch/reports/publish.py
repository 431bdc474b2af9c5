"""The one writer of a study folder's reports: CSVs, figures and ``index.html``.

Everything here is computed by :mod:`hpsearch.reports.ranking`, :mod:`hpsearch.reports.confirmed`,
:mod:`hpsearch.reports.comparison`, the figure modules (:mod:`hpsearch.reports.curve_plots`,
:mod:`hpsearch.reports.score_plots`) and :mod:`hpsearch.reports.html` from the records it is
given; this module only decides which files a study gets and which are stale, and has each one
written whole (``ranking.csv`` and the page by :func:`hpsearch.reports.progress.write_page`, as
while the study runs), so a reader (a browser, a spreadsheet) never sees half a file.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hpsearch.records import DEFAULT_GOAL, Goal, RepeatResult, TrialResult
from hpsearch.reports import (
    comparison,
    confirmed,
    curve_plots,
    html,
    plots,
    progress,
    ranking,
    score_plots,
)
from hpsearch.reports.score_plots import map_axes
from hpsearch.space.dimensions import Categorical
from hpsearch.space.search_space import SearchSpace
from hpsearch.storage.definition import Definition
from hpsearch.storage.files import replacing
from hpsearch.storage.folder import DEFINITION, REPEAT_LOG, TRIAL_LOG

__all__ = [
    "IMPORTANCE",
    "SOURCES",
    "map_axes",
    "write_comparison",
    "write_importance",
    "write_reports",
    "write_studies",
]

#: The importance table and figure a study folder holds once ``importance`` has run.
IMPORTANCE = ("importance.csv", "importance.png")

#: The start of a comparison's file names: ``compare_<setting>.csv`` and ``.png``.
COMPARISON = "compare_"

#: The files a study's reports are computed from: a report newer than all of them is current.
SOURCES = (DEFINITION, TRIAL_LOG, REPEAT_LOG)


def _save_csv(df: pd.DataFrame, path: Path) -> Path:
    with replacing(path) as tmp:
        df.to_csv(tmp, index=False)
    return path


def _current(path: Path, newest: int | None) -> bool:
    """Whether ``path`` exists and is newer than the logs (``newest``: None, every file is due)."""
    return newest is not None and path.exists() and path.stat().st_mtime_ns > newest


def _newest_log(folder: Path) -> int:
    """The latest modification time (ns) of the study's logs; -1 when it has none."""
    times = [(folder / name).stat().st_mtime_ns for name in SOURCES if (folder / name).exists()]
    return max(times, default=-1)


def write_reports(
    folder: str | os.PathLike[str],
    trials: Sequence[TrialResult],
    space: SearchSpace,
    *,
    settings: Definition | None = None,
    repeats: Sequence[RepeatResult] = (),
    chosen: int | None = None,
    headline: str | None = None,
    goal: Goal = DEFAULT_GOAL,
    only_stale: bool = False,
    refresh_index: bool = False,
    written: set[Path] | None = None,
    n_best: int = 20,
    ncols: int = 5,
    top: int = 20,
    dpi: int = plots.DPI,
    figures: bool = True,
) -> dict[str, Path]:
    """Writes every report of a study folder from its records.

    Files: ``ranking.csv``, ``curves.csv``, ``best_curves.png`` (the Best-N grid),
    ``history.png``, ``map_<x>_<y>.png`` (over lr x weight decay when the trials varied both,
    else the first two varied numeric parameters; none with fewer than two),
    ``param_scores.png``, ``confirmed.csv`` (with confirmed runs) and ``index.html`` (the
    headline, notes, confirmed table, top table, figures and settings).

    Args:
        folder: The study folder (it must exist).
        trials: The study's trials.
        space: The search space.
        settings: The study definition (``study.json``), shown on the page.
        repeats: The confirm stage's runs (may be empty).
        chosen: The trial whose configuration the study chose (the study's one rule,
            :func:`hpsearch.study.confirm.chosen`); the page leads with its headline. Nothing
            here chooses: without it (or ``headline``) the page has no headline.
        headline: The page's first line, instead of the chosen configuration's.
        only_stale: Leave alone every file newer than the study's logs (``study.json``,
            ``trials.jsonl``, ``repeats.jsonl`` in ``folder``), computing nothing for it: the
            ``report`` command prints a table without redrawing every figure.
        refresh_index: Write ``index.html`` even if it is current (a new importance table).
        written: A set this call adds the path of each file it wrote to (the other paths
            returned were left current), for a caller that says what it wrote.
        n_best: Panels of the Best-N grid.
        ncols: Panels per row of the Best-N grid.
        top: Rows of the table in ``index.html``.
        dpi: Resolution of the PNG files.
        figures: False draws no figure: only those newer than the logs are kept (and shown on
            the page); a later call with ``only_stale`` draws the others.

    Returns:
        Report name (``ranking``, ``curves``, ``best_curves``, ``history``, ``map``,
        ``param_scores``, ``confirmed``, ``index``) to path, written or left current.

    Example:
        >>> write_reports(
        ...     study.path, study.trials, study.space, settings=definition
        ... )  # doctest: +SKIP
        {'ranking': PosixPath('studies/demo/ranking.csv'), ...}
    """
    folder = Path(folder)
    newest = _newest_log(folder) if only_stale else None
    df = ranking.ranking(trials, space.names, goal)
    by_number = {t.number: t for t in trials}
    axes = map_axes(trials, space)
    runs = [r for r in repeats if not r.refit]
    outputs: dict[str, tuple[str, Callable[[Path], Path]]] = {
        "curves": ("curves.csv", lambda p: _save_csv(ranking.curves(trials), p)),
        "best_curves": (
            "best_curves.png",
            lambda p: plots.save_figure(
                curve_plots.best_curves(
                    [by_number[int(n)] for n in df["trial"]], n=n_best, ncols=ncols, goal=goal
                ),
                p,
                dpi,
            ),
        ),
        "history": (
            "history.png",
            lambda p: plots.save_figure(score_plots.history(trials, goal), p, dpi),
        ),
    }
    if axes is not None:
        outputs["map"] = (
            f"map_{axes[0]}_{axes[1]}.png",
            lambda p: plots.save_figure(
                score_plots.lr_wd_map(trials, *axes, space=space, goal=goal, chosen=chosen), p, dpi
            ),
        )
    outputs["param_scores"] = (
        "param_scores.png",
        lambda p: plots.save_figure(
            score_plots.param_scores(trials, space, goal=goal, chosen=chosen), p, dpi
        ),
    )
    if not any(t.ok and goal.of(t) is not None for t in trials):
        # No trial has a score: a figure would be empty or show failures as scores; the page
        # says why instead.
        outputs = {k: v for k, v in outputs.items() if not v[0].endswith(".png")}
    if repeats:
        outputs["confirmed"] = (
            "confirmed.csv",
            lambda p: _save_csv(
                confirmed.confirmed_table(
                    repeats, space.names, goal, chosen=chosen, rank=list(df["trial"])
                ),
                p,
            ),
        )
    # ranking.csv and index.html are written last, together (see progress.write_page); the
    # ranking comes first among the paths all the same.
    paths: dict[str, Path] = {"ranking": folder / progress.RANKING}
    due: dict[str, tuple[Path, Callable[[Path], Path]]] = {}
    # Without figures, a figure is kept (and shown) only while it is newer than the logs.
    figures_newest = newest if figures or newest is not None else _newest_log(folder)
    for key, (filename, write) in outputs.items():
        path = folder / filename
        figure = path.suffix == ".png"
        if _current(path, figures_newest if figure else newest):
            paths[key] = path  # current: left alone
        elif figures or not figure:
            due[key] = (path, write)
    drawn = False  # a figure the page does not show yet
    panels = curve_plots.best_curves_panels(trials, n=n_best, goal=goal)
    for key, outcome in plots.write_all(due, panels).items():
        if isinstance(outcome, Path):
            paths[key] = outcome
            drawn = drawn or outcome.suffix == ".png"
            if written is not None:
                written.add(outcome)
        else:  # a figure matplotlib cannot draw (absurd ranges)
            warnings.warn(f"{due[key][0].name} not written: {outcome}", stacklevel=2)
    index = folder / html.INDEX
    comparisons = _comparisons(folder)
    importance = _current_importance(folder, trials, goal)
    if importance is not None:
        paths["importance"] = folder / IMPORTANCE[1]
    index_due = refresh_index or drawn or not _current(index, newest)
    parts: dict[str, Any] = {}
    if index_due:
        if headline is None and chosen is not None:
            params = next(r.params for r in runs if r.number == chosen)
            headline = confirmed.headline(
                repeats, chosen, {k: params[k] for k in space.names if k in params}, goal
            )
        table = (
            confirmed.confirmed_table(
                repeats, space.names, goal, chosen=chosen, rank=list(df["trial"])
            )
            if repeats
            else None
        )
        parts = dict(
            notes=ranking.edge_notes(trials, space),
            headline=headline,
            figures={
                **{k: p for k, p in paths.items() if p.suffix == ".png"},
                **{
                    f"{COMPARISON}{by}": folder / f"{COMPARISON}{by}.png"
                    for by in comparisons
                    if (folder / f"{COMPARISON}{by}.png").exists()
                },
            },
            files={k: p for k, p in paths.items() if p.suffix == ".csv" and k != "ranking"},
            confirmed=None
            if table is None
            else confirmed.display_confirmed(table, space.names, goal),
            importance=importance,
            captions={
                "best_curves": curve_plots.best_curves_caption(
                    [by_number[int(n)] for n in df["trial"]], n=n_best, goal=goal
                ),
                **{
                    f"{COMPARISON}{by}": curve_plots.comparison_caption(
                        runs, by, _choices(space, by)
                    )
                    for by in comparisons
                    if runs
                },
            },
            comparisons={
                by: (comparison.display_comparison(df), comparison.comparison_notes(df))
                for by, df in comparisons.items()
            },
        )
    news = progress.write_page(
        folder,
        df,
        goal=goal,
        settings=settings,
        top=top,
        table=not _current(paths["ranking"], newest),
        page=index_due,
        **parts,
    )
    if written is not None:
        written.update(news.values())
    paths["index"] = index
    return paths


def _current_importance(
    folder: Path, trials: Sequence[TrialResult], goal: Goal
) -> pd.DataFrame | None:
    """The importance table, for the page, when it was measured on the trials as they are now
    (as many usable trials: a confirm stage changes nothing of it); None otherwise."""
    csv, png = (folder / name for name in IMPORTANCE)
    if not csv.exists() or not png.exists():
        return None
    from hpsearch.reports.importance import Importance, display, usable

    try:
        table = pd.read_csv(csv)
        measured = int(table["trials"].iloc[0])
    except (OSError, ValueError, KeyError, IndexError):
        return None
    if measured != len(usable(trials, goal)):
        return None
    return display(Importance(table, measured))


def write_importance(folder: str | os.PathLike[str], result: Any, metric: str) -> dict[str, Path]:
    """Writes ``importance.csv`` and ``importance.png`` (the
    :class:`~hpsearch.reports.importance.Importance` ``result``); a result with a note writes
    nothing.
    """
    folder = Path(folder)
    if result.note is not None:
        return {}
    csv, png = (folder / name for name in IMPORTANCE)
    table = result.table.assign(trials=result.trials, metric=metric)
    return {
        "importance_csv": _save_csv(table, csv),
        "importance": plots.save_figure(
            score_plots.importance_bars(result.table, metric), png, plots.DPI
        ),
    }


def write_studies(
    folder: str | os.PathLike[str], summaries: Sequence[Any], table: pd.DataFrame
) -> dict[str, Path]:
    """Writes ``compare-studies_<A>_<B>....csv`` and ``.png`` into ``folder``: the side-by-side
    table (see :mod:`hpsearch.reports.studies`) and the best-so-far figure."""
    from hpsearch.reports.studies import best_so_far

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = "compare-studies_" + "_".join(s.name for s in summaries)
    return {
        "table": _save_csv(table, folder / f"{stem}.csv"),
        "figure": plots.save_figure(best_so_far(summaries), folder / f"{stem}.png", plots.DPI),
    }


def write_comparison(
    folder: str | os.PathLike[str],
    repeats: Sequence[RepeatResult],
    by: str,
    thresholds: Sequence[float] | None = None,
    *,
    space: SearchSpace | None = None,
    trials: Sequence[TrialResult] = (),
    dpi: int = plots.DPI,
    table: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Writes ``compare_<by>.csv`` and ``compare_<by>.png``: confirmed runs compared per value of
    ``by`` (the study's page shows them once its reports are written again, see
    :func:`write_reports`).

    Args:
        folder: The study folder (it must exist).
        repeats: The confirm stage's runs.
        by: The setting compared, e.g. ``"optimizer"`` (see
            :func:`hpsearch.reports.comparison.comparison`).
        thresholds: Test accuracies whose first epoch the table reports (None: from the data).
        space: The search space: the table then names each row's other settings.
        trials: The search's trials: a value without a scored trial gets a row saying so.
        dpi: Resolution of the PNG file.
        table: The table, as :meth:`hpsearch.Study.compare` made it (None: made here).

    Returns:
        ``{"comparison": <csv path>, "comparison_curves": <png path>}``.

    Raises:
        ValueError: ``by`` is not a parameter name, or no confirmed run has it.

    Example:
        >>> write_comparison(study.path, study.repeats_done, "optimizer")  # doctest: +SKIP
    """
    if not by.isidentifier():
        raise ValueError(f"the setting to compare by must be a parameter name, but got {by!r}")
    folder = Path(folder)
    if table is None:
        table = comparison.comparison(repeats, by, thresholds, space, trials)
    return {
        "comparison": _save_csv(table, folder / f"{COMPARISON}{by}.csv"),
        "comparison_curves": plots.save_figure(
            curve_plots.comparison_curves(repeats, by, _choices(space, by)),
            folder / f"{COMPARISON}{by}.png",
            dpi,
        ),
    }


def _choices(space: SearchSpace | None, by: str) -> Sequence[Any] | None:
    """``by``'s choices as declared, when it is a categorical setting of ``space``."""
    dim = space[by] if space is not None and by in space else None
    return list(dim.choices) if isinstance(dim, Categorical) else None


def _comparisons(folder: Path) -> dict[str, pd.DataFrame]:
    """The comparisons a study folder holds (``compare_<setting>.csv``), by setting."""
    found = {}
    for csv in sorted(folder.glob(f"{COMPARISON}*.csv")):
        try:
            found[csv.stem[len(COMPARISON) :]] = pd.read_csv(csv)
        except (OSError, ValueError):
            continue
    return found
