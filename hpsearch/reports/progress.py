"""The progress bar of a study: runs done of runs planned, and the best score so far."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from hpsearch.storage.journal import Journal
from hpsearch.trial import Goal

__all__ = ["progress_bar"]


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

        journal.on_record = update
        try:
            yield
        finally:
            journal.on_record = None
