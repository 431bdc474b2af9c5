"""What runs in a worker process, and how the study learns which trial a dead worker held.

joblib's process pool (loky) answers the death of one worker by stopping all of them, so the
error alone cannot tell the trial that crashed (killed, out of memory) from those stopped with
it. Each worker therefore leaves a marker ``<number>`` holding its pid while it trains, and a
:class:`DeathWatch` thread in the study's process notes when each of those pids exits (Linux
pidfds). After a crash, the trials whose worker exited first are the lost ones; the others are
simply run again, with identical results since a trial depends only on its params and number.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import select
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from hpsearch.config import TrainConfig
from hpsearch.training import train_rung
from hpsearch.trial import Checkpoint, TrialResult

__all__ = ["run_trial", "restore_malloc_thresholds", "DeathWatch", "LocalBackendCrash"]

# glibc's mallopt parameters, and the largest values its adaptive thresholds reach by themselves
# (DEFAULT_MMAP_THRESHOLD_MAX: 32 MiB with 64-bit pointers, 512 KiB with 32-bit; trim: twice that).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20 if ctypes.sizeof(ctypes.c_void_p) == 8 else 512 << 10
_TRIM_THRESHOLD = 2 * _MMAP_THRESHOLD


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


def run_trial(
    config: TrainConfig,
    params: Mapping[str, Any],
    seed: int,
    number: int,
    marker_dir: str | None = None,
    until: int | None = None,
    checkpoint: Checkpoint | None = None,
) -> tuple[TrialResult, Checkpoint | None]:
    """:func:`hpsearch.training.train_rung` in a worker, leaving a marker while it trains.

    The trial itself computes on one BLAS thread, which also keeps workers x threads within
    the cores (no oversubscription); these small matrices gain little from a second thread.

    Args:
        marker_dir: Where to leave the ``<number>`` marker holding this process's pid.
        until: Stop after this epoch (pruning); None trains every epoch.
        checkpoint: Continue a paused trial from here.
    """
    restore_malloc_thresholds()
    marker = Path(marker_dir) / str(number) if marker_dir else None
    if marker is not None:
        marker.write_text(str(os.getpid()))
    try:
        return train_rung(config, params, seed, number, until, checkpoint)
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


class LocalBackendCrash(Exception):
    """A worker process died; ``lost`` names the trials it held."""

    def __init__(self, lost: list[int], cause: BaseException) -> None:
        self.lost = lost
        self.message = f"worker process died (killed or out of memory): {str(cause).splitlines()[0]}"
        super().__init__(self.message)


class DeathWatch:
    """Notes when each worker process holding a trial exits, while the pool runs.

    Args:
        folder: Where workers leave their markers (emptied on entry and exit).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.deaths: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> DeathWatch:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        if hasattr(os, "pidfd_open"):
            self._thread = threading.Thread(target=self._watch, name="hpsearch-death-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        shutil.rmtree(self.folder, ignore_errors=True)

    @staticmethod
    def is_crash(exc: BaseException) -> bool:
        from joblib.externals.loky.process_executor import BrokenProcessPool

        return isinstance(exc, BrokenProcessPool)

    def _markers(self) -> dict[int, int]:
        found: dict[int, int] = {}
        for entry in os.scandir(self.folder):
            try:
                found[int(entry.name)] = int(Path(entry.path).read_text() or "0")
            except (OSError, ValueError):
                continue  # a marker being written or removed right now
        return found

    def _watch(self) -> None:
        poller = select.poll()
        fds: dict[int, int] = {}
        pids: dict[int, int] = {}
        try:
            while not self._stop.is_set():
                for pid in set(self._markers().values()):
                    if pid in pids.values() or pid in self.deaths or pid <= 0:
                        continue
                    try:
                        fd = os.pidfd_open(pid)
                    except ProcessLookupError:
                        self.deaths[pid] = time.monotonic()
                        continue
                    pids[fd] = pid
                    fds[pid] = fd
                    poller.register(fd, select.POLLIN)
                ready = poller.poll(20)
                now = time.monotonic()  # one time for all pids seen in one wake-up: a tie
                for fd, _ in ready:
                    pid = pids.pop(fd)
                    self.deaths[pid] = now
                    poller.unregister(fd)
                    os.close(fds.pop(pid))
        finally:
            for fd in pids:
                os.close(fd)

    def lost(self, pending: Mapping[int, Any]) -> list[int]:
        """The pending trials whose worker exited first (all that were running, if unknown)."""
        time.sleep(0.1)  # let the watch thread see the exits the pool has just caused
        running = {n: pid for n, pid in self._markers().items() if n in pending}
        times = {n: self.deaths[pid] for n, pid in running.items() if pid in self.deaths}
        if not times:
            return sorted(running)
        first = min(times.values())
        return sorted(n for n, t in times.items() if t == first)
