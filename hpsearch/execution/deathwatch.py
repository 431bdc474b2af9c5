"""Which task a dead local worker process held, and since when each task runs.

joblib's process pool (loky) answers the death of one worker by stopping all of them;
:class:`DeathWatch` lets :class:`hpsearch.execution.pool.Pool` tell the task that crashed from
those stopped with it, and stop a task past the study's time limit.
"""

from __future__ import annotations

import os
import select
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from hpsearch.execution.workers import Task

__all__ = ["DeathWatch"]


class DeathWatch:
    """Notes when each worker process holding a task exits, while the pool runs.

    joblib's process pool (loky) answers the death of one worker by stopping all of them, so the
    error alone cannot tell the task that crashed (killed, out of memory) from those stopped
    with it. Each worker therefore leaves a marker holding its pid while it trains (see
    :func:`hpsearch.execution.workers.marked`), and a thread here notes when each of those pids
    exits (Linux pidfds; elsewhere every task running at the crash counts as lost). After a crash,
    the tasks whose worker exited first are the lost ones; the others simply run again.

    Args:
        folder: Where workers leave their markers (emptied on entry and exit).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        # Absolute: the workers may outlive this study and run another's from another folder
        # (a notebook that changed directory between two studies keeps its pool).
        self.folder = Path(folder).absolute()
        self.deaths: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> DeathWatch:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        if hasattr(os, "pidfd_open"):
            self._thread = threading.Thread(
                target=self._watch, name="hpsearch-death-watch", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        shutil.rmtree(self.folder, ignore_errors=True)

    @staticmethod
    def name(task: Task) -> str:
        number, repeat, refit = task.key
        return str(number) if repeat is None else f"{number}.{repeat}{'r' if refit else ''}"

    def marker(self, task: Task) -> str:
        return str(self.folder / self.name(task))

    def _markers(self) -> dict[str, int]:
        return {name: pid for name, (pid, _) in self.started().items()}

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

    def started(self) -> dict[str, tuple[int, float]]:
        """Each running task's marker: its worker's pid and when it started (``time.time()``)."""
        found: dict[str, tuple[int, float]] = {}
        for entry in os.scandir(self.folder):
            try:
                found[entry.name] = (
                    int(Path(entry.path).read_text() or "0"),
                    entry.stat().st_mtime,
                )
            except (OSError, ValueError):
                continue  # a marker being written or removed right now
        return found

    def lost(self, tasks: list[Task]) -> list[Task]:
        """The tasks whose worker exited first (all that were running, if that is unknown)."""
        time.sleep(0.1)  # let the watch thread see the exits the pool has just caused
        markers = self._markers()
        running = {self.name(t): t for t in tasks if self.name(t) in markers}
        times = {n: self.deaths[markers[n]] for n in running if markers[n] in self.deaths}
        if not times:
            return list(running.values()) or list(tasks)
        first = min(times.values())
        return [running[n] for n, t in times.items() if t == first]
