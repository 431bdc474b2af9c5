"""The lock on a study folder: one process at a time runs a study, and another is told who.

The lock is the operating system's (``filelock``: fcntl on Linux and macOS, msvcrt on
Windows), so it is released when the holder dies however it dies. The holder's pid stands in a
file beside it, for the message a second process gets, removed when the holder lets go.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hpsearch.exceptions import StudyError
from hpsearch.storage.files import write_text

__all__ = ["LOCK", "LOCK_HOLDER", "hold_lock", "refuse_if_locked"]

LOCK = ".lock"
LOCK_HOLDER = ".lock.pid"


def refuse_if_locked(folder: Path, name: str, wait: float = 0) -> None:
    """Refuses, before anything is said or written, a study another process is running (after
    waiting up to ``wait`` seconds for it to let go).

    Raises:
        StudyError: Another process holds the lock of study ``name`` in ``folder``.
    """
    if (folder / LOCK).exists():
        _acquire(folder, name, wait).release()


def _acquire(folder: Path, name: str, wait: float = 0) -> Any:
    from filelock import FileLock, Timeout

    lock = FileLock(str(folder / LOCK), timeout=wait)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = (folder / LOCK_HOLDER).read_text(encoding="utf-8").strip() or "?"
        except OSError:
            holder = "?"
        raise StudyError(
            f"study {name!r} is being run by another process (pid {holder}); "
            "wait for it to finish or stop it first"
        ) from None
    return lock


@contextlib.contextmanager
def hold_lock(folder: Path, name: str, wait: float = 0) -> Iterator[None]:
    """Holds the lock of study ``name`` in ``folder`` (made if missing) for the block, waiting
    up to ``wait`` seconds for another process to let go (ask and tell: a moment each).

    The lock file itself, empty, stays when the block ends: removed, a process that had just
    opened it could lock the old file while another locks a new one, and both would run the
    study.

    Raises:
        StudyError: Another process holds the lock.
    """
    folder.mkdir(parents=True, exist_ok=True)
    lock = _acquire(folder, name, wait)
    try:
        write_text(folder / LOCK_HOLDER, str(os.getpid()))
        yield
    finally:
        try:
            (folder / LOCK_HOLDER).unlink(missing_ok=True)
        finally:
            lock.release()
