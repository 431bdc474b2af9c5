"""What a running study shows: the progress bar (runs done of runs planned, the best score so
far) and the live page (``index.html`` and ``ranking.csv`` refreshed as trials finish)."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator

from hpsearch.storage.journal import Journal
from hpsearch.trial import Goal

__all__ = ["live_page", "progress_bar"]

#: At most one live page write in this many seconds.
LIVE_EVERY = 2.0


@contextlib.contextmanager
def progress_bar(
    journal: Journal, runs: int, name: str, show: bool = True, goal: Goal | None = None
) -> Iterator[None]:
    """Shows a bar that moves with every trial and confirm-stage run the journal records.

    Args:
        journal: The study's records (the bar starts from what they already hold).
        runs: Runs planned in all (search trials plus confirm-stage runs).
        name: The study name, the bar's label.
        show: False: no bar at all.
    """
    if not show:
        yield
        return
    from tqdm.auto import tqdm

    done = len(journal.trials) + len(journal.repeats)
    with tqdm(
        total=max(runs, done), initial=done, desc=name, unit="run", dynamic_ncols=True
    ) as bar:

        def update() -> None:
            aim = goal or Goal()
            values = [aim.of(t) for t in journal.trials.values() if t.ok]
            best = min((v for v in values if v is not None), key=aim.key, default=None)
            shown = f"{best:.2f}" if aim.accuracy or best is None else f"{best:.3g}"
            bar.set_postfix_str("" if best is None else f"best {aim.metric} {shown}", refresh=False)
            bar.update(1)

        journal.on_record.append(update)
        try:
            yield
        finally:
            journal.on_record.remove(update)


@contextlib.contextmanager
def live_page(journal: Journal, write: Callable[[str], object], runs: int) -> Iterator[None]:
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
            write(f"Running: {done} of {runs} runs done. This page reloads itself until the end.")
        except OSError:  # the reports at the end meet the same trouble, and say it in one line
            journal.on_record.remove(update)

    journal.on_record.append(update)
    update()
    try:
        yield
    finally:
        if update in journal.on_record:
            journal.on_record.remove(update)
