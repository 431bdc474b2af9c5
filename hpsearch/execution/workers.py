"""What a worker process imports: the task record and process set-up.

Kept light on purpose: a worker needs the trainer and NumPy, never pandas, matplotlib or
scikit-optimize. A task is a named record (:class:`Task`);
:func:`hpsearch.execution.runner.run_objective` runs it and returns its record, so the same call
serves a search trial, a paused trial's next rung and a confirm-stage repeat, on any backend.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpsearch.records import RepeatResult, TrialResult, TrialState
from hpsearch.trial import ObjectiveState

__all__ = ["Task", "marked", "die_with_parent", "restore_malloc_thresholds"]

# glibc's mallopt parameters, and the largest values its adaptive thresholds reach by themselves
# (DEFAULT_MMAP_THRESHOLD_MAX: 32 MiB with 64-bit pointers, 512 KiB with 32-bit; trim: twice that).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20 if ctypes.sizeof(ctypes.c_void_p) == 8 else 512 << 10
_TRIM_THRESHOLD = 2 * _MMAP_THRESHOLD
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Task:
    """One unit of work for a worker.

    Attributes:
        number: The search trial number (for a repeat: the trial whose params it repeats).
        params: The searched values, overriding the study's settings.
        until: For a search trial: stop after this epoch (pruning); None trains every epoch.
        checkpoint: For a search trial: continue a paused trial from here.
        repeat: None for a search trial; the repeat index for a confirm-stage run.
        refit: A confirm-stage run on training plus validation images.
        test_curve: A confirm-stage run that scores the test part after every epoch.
    """

    number: int
    params: dict[str, Any]
    until: int | None = None
    checkpoint: ObjectiveState | None = None
    repeat: int | None = None
    refit: bool = False
    test_curve: bool = False

    @property
    def key(self) -> tuple[int, int | None, bool]:
        return self.number, self.repeat, self.refit

    def lost(
        self, message: str, state: TrialState = TrialState.FAILED
    ) -> TrialResult | RepeatResult:
        """The record of a task whose worker died (FAILED), or was stopped past the study's
        time limit (TIMEOUT)."""
        if self.repeat is None:
            return TrialResult(self.number, dict(self.params), state, error=message)
        return RepeatResult(
            self.number,
            self.repeat,
            dict(self.params),
            state,
            error=message,
            refit=self.refit,
        )


def marked(marker: str | None, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, leaving the file ``marker`` with this process's pid while it runs.

    The study's death watch reads the markers to tell which task a crashed worker held.
    """
    path = Path(marker) if marker else None
    if path is not None:
        path.write_text(str(os.getpid()))
    try:
        return fn(*args)
    finally:
        if path is not None:
            path.unlink(missing_ok=True)


def die_with_parent(parent: int | None = None) -> None:
    """Makes this worker process end when the process that started it ends (Linux).

    A study killed with SIGKILL cannot stop its workers; without this they would idle until
    their pool's timeout, holding the caller's output pipe open. Ctrl-C in a terminal is the
    study's to handle: the workers ignore SIGINT, and the study stops them. Where their end
    with the study is assured (Linux), they ignore SIGTERM too: a SIGTERM to the whole process
    group (a service manager stopping the study) is the study's to handle as well, rather
    than a crash of every worker at once that the study would have to tell from a real one.

    Args:
        parent: The pid of the study's process. If it died while this worker was starting
            (before the death signal was asked for, which then never comes), the worker ends now.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if not sys.platform.startswith("linux"):
            return
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            return
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if parent is not None and os.getppid() != parent:
            os._exit(0)  # orphaned already: nobody will ever send this worker a task
    finally:
        if hasattr(
            signal, "pthread_sigmask"
        ):  # started with both blocked (see hpsearch.execution.pool)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


@functools.cache
def restore_malloc_thresholds() -> bool:
    """Gives glibc's allocator back its usual thresholds in a process started with them pinned low.

    Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536``. Setting that turns
    off glibc's adaptive thresholds: each array above 128 KiB (a training batch, a gradient's
    temporary) is then mapped afresh and faulted in page by page, and returned to the system
    when freed, which makes a trial about 1.5x slower. In such a process (glibc, the variable set
    below the value glibc's adaptation would reach, ``MALLOC_MMAP_THRESHOLD_`` not set) this
    raises both thresholds to those values, once per process. Elsewhere it does nothing: a
    setting that asks for more, or names the mmap threshold, is the user's to keep.

    Returns:
        Whether the thresholds were changed.
    """
    try:
        pinned = int(os.environ["MALLOC_TRIM_THRESHOLD_"]) < _TRIM_THRESHOLD
    except (KeyError, ValueError):
        return False
    if not pinned or "MALLOC_MMAP_THRESHOLD_" in os.environ or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mmap_set = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
    trim_set = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1
    return mmap_set and trim_set
