"""The lock on a study folder: one process at a time runs a study, and another is told who.

The lock is the operating system's (``flock`` on Linux and macOS, ``msvcrt.locking`` on
Windows), so it is released when the holder dies however it dies. The holder's pid stands in a
file beside it, for the message a second process gets, removed when the holder lets go. Taking
and letting go of the lock leave the lock file as it was, its mtime included: a command that is
refused changes nothing in the folder. A lock is never waited for without a bound: a second
take of a held lock, even by the same process, is polled until its ``wait`` runs out.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except PermissionError:  # EACCES: another holds the byte
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # EWOULDBLOCK: another open file holds the lock
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


# Seconds between two tries while waiting for the lock.
_POLL = 0.05


class _Lock:
    """The open lock file, locked: :meth:`release` lets go and closes it."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def release(self) -> None:
        try:
            _unlock(self._fd)
        finally:
            os.close(self._fd)


def _acquire(folder: Path, name: str, wait: float = 0) -> _Lock:
    # Opened without O_TRUNC and never written: the file's mtime stays what it was. Every take
    # opens the file anew, and the lock is never asked for in a blocking call, so a second take
    # in one process (which a lock held by an open file refuses) ends after ``wait`` too.
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    deadline = time.monotonic() + wait
    try:
        while not _try_lock(fd):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(_POLL, left))
        else:
            return _Lock(fd)
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    try:
        holder = (folder / LOCK_HOLDER).read_text(encoding="utf-8").strip() or "?"
    except OSError:
        holder = "?"
    raise StudyError(
        f"study {name!r} is being run by another process (pid {holder}); "
        "wait for it to finish or stop it first"
    )


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
