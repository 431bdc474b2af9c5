"""What a running study shows: the progress bar (runs done of runs planned, the best score so
far) and the live page (``index.html`` and ``ranking.csv`` refreshed as trials finish)."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from hpsearch.space.search_space import SearchSpace
from hpsearch.storage.journal import Journal
from hpsearch.trial import Goal, TrialResult

DEFAULT_GOAL = Goal()

__all__ = ["live_page", "progress_bar", "warm_up_figures", "write_live"]

#: At most one live page write in this many seconds.
LIVE_EVERY = 2.0


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

    done = len(journal.trials) + len(journal.repeats)
    with tqdm(
        total=max(runs(), done), initial=done, desc=name, unit="run", dynamic_ncols=True
    ) as bar:

        def update() -> None:
            aim = goal or Goal()
            values = [aim.of(t) for t in journal.trials.values() if t.ok]
            best = min((v for v in values if v is not None), key=aim.key, default=None)
            shown = f"{best:.2f}" if aim.accuracy or best is None else f"{best:.3g}"
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
    settings: Mapping[str, Any] | None = None,
    goal: Goal = DEFAULT_GOAL,
    top: int = 20,
) -> dict[str, Path]:
    """While a study runs: ``ranking.csv`` and an ``index.html`` that reloads itself, with the
    line ``running`` on top and no figures (they are drawn once, at the end). Each file is
    replaced whole, so a reader never sees half of one.
    """
    from hpsearch.reports import html, ranking
    from hpsearch.storage.files import replacing, write_text

    folder = Path(folder)
    df = ranking.ranking(trials, space.names, goal)
    with replacing(folder / "ranking.csv") as tmp:
        df.to_csv(tmp, index=False)
    paths = {"ranking": folder / "ranking.csv"}
    page = html.render_index(
        df,
        goal=goal,
        folder=folder,
        settings=settings,
        top=top,
        files=paths,
        running=running,
        notes=[*filter(None, [ranking.tie_note(df, goal)])],
    )
    paths["index"] = write_text(folder / html.INDEX, page)
    return paths


def warm_up_figures() -> None:
    """Imports matplotlib and draws one small figure with text into memory, so that the
    study's figures at the end start warm (the font cache read, the first glyphs rendered).
    Meant for a thread beside the trials; any failure is left to the real figures to report.

    The figure's garbage (reference cycles, weak-reference callbacks) is collected here, in
    this thread: collected later in the study's thread, a callback could be where a Ctrl-C's
    StudyInterrupted is raised, and Python would swallow it there with a traceback.
    """
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
    except Exception:  # noqa: BLE001 (a warm-up: the figures themselves say what is wrong)
        pass
    gc.collect()
