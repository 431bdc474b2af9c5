"""SIGINT and SIGTERM as a clean stop: never in the middle of a write, always with what is finished
saved."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from hpsearch.exceptions import StudyInterrupted

__all__ = ["Interrupts", "stopping"]

# The signal a study of this process is stopping on, once it has raised its stop.
_stopping: list[int] = []


def stopping() -> int | None:
    """The signal a study in this process stopped on, if one did: the outcome is then decided.

    ``python -m hpsearch`` ignores later signals then, so that a second Ctrl-C cannot cut short
    what the stopping study still does (write its reports, say how to resume).
    """
    return _stopping[-1] if _stopping else None


class Interrupts:
    """Turns SIGINT and SIGTERM into :class:`StudyInterrupted`, never inside :meth:`guard`.

    A signal that arrives while a record is being written waits for the write's end. The stop is
    raised once: a second signal (an impatient second Ctrl-C) while the study is already stopping
    is noted and changes nothing, so it cannot cut short the saving of what is finished. Outside
    the main thread (a study run from a worker thread) signals cannot be caught and nothing
    changes.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._guarded = 0
        self._raised = False

    def _stop(self) -> None:
        """Raises the stop asked for, unless it was raised already or a guard holds it back."""
        if self.received is not None and not self._guarded and not self._raised:
            self._raised = True
            _stopping.append(self.received)
            raise StudyInterrupted(self.received)

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        """Catches the two signals for the duration of the block."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self.received is None:
                self.received = signum
            self._stop()

        self.received = None
        self._raised = False
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """A block no signal cuts short; a signal received meanwhile stops the study after it."""
        self._guarded += 1
        try:
            yield
        finally:
            self._guarded -= 1
        self._stop()

    def check(self) -> None:
        """Raises the stop a signal asked for, if any (for loops that wait outside Python code)."""
        self._stop()
