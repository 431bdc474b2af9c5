"""What a running study shows: the progress bar (runs done of runs planned, the best score so
far) and the live page (``index.html`` and ``ranking.csv`` refreshed as trials finish).

:func:`write_page` is the one writer of those two files, while the study runs and at the end
(:func:`hpsearch.reports.publish.write_reports` calls it too): the CSV holds every trial of the
ranking, the page its top rows, the notes (those given, then the tie note) and whatever else the
caller has ready (the headline, the confirmed table, the figures). Each file is replaced whole,
so a reader never sees half of one. Nothing here draws a figure or imports matplotlib: a running
study's page costs a table and some text.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hpsearch.records import Goal, TrialResult
from hpsearch.space.search_space import SearchSpace
from hpsearch.storage.definition import Definition
from hpsearch.storage.journal import Journal

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RANKING", "live_page", "progress_bar", "warm_up_figures", "write_live", "write_page"]

#: At most one live page write in this many seconds.
LIVE_EVERY = 2.0

#: The ranking's file name in a study folder.
RANKING = "ranking.csv"


@contextlib.contextmanager
def progress_bar(
    journal: Journal,
    runs: Callable[[], int],
    name: str,
    show: bool = True,
    goal: Goal | None = None,
) -> Iterator[None]:
    """Shows a bar that moves with every trial and confirm-stage run the journal records.

    Args:
        journal: The study's records (the bar starts from what they already hold).
        runs: The runs expected in all, asked again at each record: the study knows how many
            confirm-stage runs it will make only once its search has ended.
        name: The study name, the bar's label.
        show: False: no bar at all.
    """
    if not show:
        yield
        return
    from tqdm.auto import tqdm

    from hpsearch.reports.formatting import metric_text

    done = len(journal.trials) + len(journal.repeats)
    with tqdm(
        total=max(runs(), done), initial=done, desc=name, unit="run", dynamic_ncols=True
    ) as bar:

        def update() -> None:
            aim = goal or Goal()
            values = [aim.of(t) for t in journal.trials.values() if t.ok]
            best = min((v for v in values if v is not None), key=aim.key, default=None)
            shown = f"{best:.2f}" if aim.accuracy or best is None else metric_text(best)
            bar.set_postfix_str("" if best is None else f"best {aim.metric} {shown}", refresh=False)
            bar.total = max(runs(), bar.n + 1)
            bar.update(1)

        journal.on_record.append(update)
        try:
            yield
        finally:
            journal.on_record.remove(update)


@contextlib.contextmanager
def live_page(
    journal: Journal, write: Callable[[str], object], runs: Callable[[], int]
) -> Iterator[None]:
    """Keeps the study folder's page current while the study runs: ``write(line)`` (the page
    with ``line`` on its progress) now, then after a recorded run at most every
    :data:`LIVE_EVERY` seconds. A write that fails (a full disk) is not tried again: the study
    goes on, and its reports at the end say what is wrong, in one line.
    """
    last = -math.inf

    def update() -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < LIVE_EVERY:
            return
        last = now
        done = len(journal.trials) + len(journal.repeats)
        try:
            total = max(runs(), done)
            write(f"Running: {done} of {total} runs done. This page reloads itself until the end.")
        except OSError:  # the reports at the end meet the same trouble, and say it in one line
            journal.on_record.remove(update)

    journal.on_record.append(update)
    update()
    try:
        yield
    finally:
        if update in journal.on_record:
            journal.on_record.remove(update)


def write_live(
    folder: str | os.PathLike[str],
    trials: Sequence[TrialResult],
    space: SearchSpace,
    *,
    running: str,
    settings: Definition | None = None,
    goal: Goal | None = None,
    top: int = 20,
) -> dict[str, Path]:
    """While a study runs: ``ranking.csv`` and an ``index.html`` that reloads itself, with the
    line ``running`` on top and no figures (they are drawn once, at the end), both written by
    :func:`write_page` as the final reports are. ``goal``: validation accuracy, maximised, if
    not given.
    """
    from hpsearch.reports.ranking import ranking

    aim = goal or Goal()
    df = ranking(trials, space.names, aim)
    return write_page(folder, df, goal=aim, settings=settings, top=top, running=running)


def write_page(
    folder: str | os.PathLike[str],
    df: pd.DataFrame,
    *,
    goal: Goal,
    settings: Definition | None = None,
    top: int = 20,
    notes: Sequence[str] = (),
    files: Mapping[str, str | os.PathLike[str]] | None = None,
    figures: Mapping[str, str | os.PathLike[str]] | None = None,
    running: str | None = None,
    headline: str | None = None,
    confirmed: pd.DataFrame | None = None,
    importance: pd.DataFrame | None = None,
    comparisons: Mapping[str, tuple[pd.DataFrame, Sequence[str]]] | None = None,
    captions: Mapping[str, str] | None = None,
    table: bool = True,
    page: bool = True,
) -> dict[str, Path]:
    """Writes ``ranking.csv`` (the ranking ``df``, every column at full precision) and
    ``index.html`` (the page of it, see :func:`hpsearch.reports.html.render_index`).

    Args:
        folder: The study folder (it must exist).
        df: The ranking (see :func:`hpsearch.reports.ranking.ranking`).
        goal: What the study ranks by.
        settings: The study definition (``study.json``), shown on the page.
        top: Rows of the page's table.
        notes: Sentences on what the numbers say; the tie note (see
            :func:`hpsearch.reports.ranking.tie_note`) follows them.
        files: Other files the page links, after ``ranking.csv``.
        figures, running, headline, confirmed, importance, comparisons, captions: The page's
            other parts
            (see :func:`hpsearch.reports.html.render_index`).
        table: False: leave ``ranking.csv`` as it is (current).
        page: False: leave ``index.html`` as it is (current).

    Returns:
        ``ranking`` and ``index`` to the path of each file written.

    Example:
        >>> write_page(study.path, study.ranking(), goal=study.goal)  # doctest: +SKIP
        {'ranking': PosixPath('studies/demo/ranking.csv'), 'index': ...}
    """
    from hpsearch.reports import html
    from hpsearch.reports.ranking import tie_note
    from hpsearch.storage.files import replacing, write_text

    folder = Path(folder)
    written: dict[str, Path] = {}
    if table:
        with replacing(folder / RANKING) as tmp:
            df.to_csv(tmp, index=False)
        written["ranking"] = folder / RANKING
    if page:
        text = html.render_index(
            df,
            goal=goal,
            folder=folder,
            notes=[*notes, *filter(None, [tie_note(df, goal)])],
            settings=settings,
            top=top,
            headline=headline,
            figures=figures,
            files={"ranking": folder / RANKING, **(files or {})},
            confirmed=confirmed,
            importance=importance,
            comparisons=comparisons,
            captions=captions,
            running=running,
        )
        written["index"] = write_text(folder / html.INDEX, text)
    return written


# Whether this process has drawn its warm-up figure.
_warmed: list[bool] = []


def warm_up_figures() -> None:
    """Imports matplotlib and draws one small figure with text into memory, so that the
    study's figures at the end start warm (the font cache read, the first glyphs rendered).
    Meant for a thread beside the trials; any failure is left to the real figures to report.

    The figure's garbage (reference cycles, weak-reference callbacks) is collected here, in
    this thread: collected later in the study's thread, a callback could be where a Ctrl-C's
    StudyInterrupted is raised, and Python would swallow it there with a traceback.
    """
    if _warmed:  # once a process: matplotlib stays warm
        return
    import gc
    import io

    try:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(1, 1), layout="constrained")
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1], label="warm")
        ax.set_xlabel("epoch")
        fig.legend()
        fig.savefig(io.BytesIO(), format="png", dpi=20)
        del fig, ax
        _warmed.append(True)
    except Exception:  # noqa: BLE001 (a warm-up: the figures themselves say what is wrong)
        pass
    gc.collect()
