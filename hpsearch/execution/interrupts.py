"""SIGINT and SIGTERM as a clean stop: never in the middle of a write, always with what is finished
saved."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from hpsearch.exceptions import StudyInterrupted

__all__ = ["Interrupts", "deferring", "in_import", "stopping", "try_again_soon", "unsafe_to_raise"]

# The signal a study of this process is stopping on, once it has raised its stop.
_stopping: list[int] = []
# Seconds after which a signal that landed inside an import is delivered again.
RETRY = 0.02
# Whether a delivery again is already due (one is enough).
_due: list[int] = []
# Open :func:`deferring` blocks of this process.
_deferring: list[int] = []


def in_import(frame: FrameType | None) -> bool:
    """Whether the code a signal interrupted is inside an import.

    An exception raised there can leave one of importlib's module locks held (when it lands in
    the lock's own bookkeeping), and the next thread that imports that module then waits for it
    forever: a signal's stop is raised only outside imports.
    """
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def deferring() -> Iterator[None]:
    """A block in which a signal's stop is not raised but delivered again after it (see
    :func:`unsafe_to_raise`): worker processes starting. A fork runs Python's at-fork callbacks
    in the forking thread (on 3.10, logging's lock release among them), and an exception raised
    there is printed as "ignored" and dropped: the stop would be lost."""
    _deferring.append(1)
    try:
        yield
    finally:
        _deferring.pop()


def unsafe_to_raise(frame: FrameType | None) -> bool:
    """Whether a signal handler must not raise where it interrupted ``frame``: inside an import
    (:func:`in_import`) or a :func:`deferring` block."""
    return bool(_deferring) or in_import(frame)


def try_again_soon(signum: int) -> None:
    """Delivers ``signum`` to this process once more in :data:`RETRY` seconds, to whichever
    handler holds it then (called from a handler in the main thread, instead of raising inside
    an import). A timer signal, not a thread: a handler may run while the thread it interrupted
    holds one of ``threading``'s own locks."""
    if _due or not hasattr(signal, "setitimer"):  # due already, or no timer signal here
        return
    previous = signal.getsignal(signal.SIGALRM)

    def again(_signum: int, _frame: Any) -> None:
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
        _due.clear()
        os.kill(os.getpid(), signum)

    _due.append(signum)

    signal.signal(signal.SIGALRM, again)
    signal.setitimer(signal.ITIMER_REAL, RETRY)


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
    is noted and changes nothing, so it cannot cut short the saving of what is finished. A signal
    that lands inside an import or while workers start is delivered again once it is over (see
    :func:`unsafe_to_raise`): a stop raised there could leave the import machinery locked, or be
    dropped. Outside the main thread (a study run from a worker thread) signals cannot be caught
    and nothing changes.
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

        def handler(signum: int, frame: FrameType | None) -> None:
            if self.received is None:
                self.received = signum
            if unsafe_to_raise(frame) and not self._raised:
                try_again_soon(signum)
                return
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
