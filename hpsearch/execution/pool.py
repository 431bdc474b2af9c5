"""Where tasks run: local worker processes (loky), threads, or a Dask cluster, behind one small
interface.

A :class:`Pool` takes tasks (:class:`hpsearch.execution.workers.Task`) with :meth:`Pool.submit`,
keeps at most ``n_jobs`` of them on the workers at once, and yields each result as it finishes from
:meth:`Pool.results`; tasks may be submitted while results are read, so a caller can keep the
workers busy while it decides what comes next. A task whose worker died runs once more with the
same seed, and comes back as its FAILED record (:meth:`Task.lost`) only if its worker dies again:
on the local process pool a :class:`DeathWatch` tells which task the dead worker held, and the
tasks stopped with it run again; on Dask the scheduler runs them again by itself. A task's
result depends on the task alone, never on the worker.

Leaving the pool early (an interrupt) drops the queued tasks and stops the local workers at once,
so nothing outlives the study.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import queue
import signal
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from hpsearch.exceptions import first_line
from hpsearch.execution.deathwatch import DeathWatch
from hpsearch.execution.interrupts import deferring
from hpsearch.execution.workers import Task, die_with_parent, marked
from hpsearch.records import TrialState
from hpsearch.settings import Settings

__all__ = ["BACKENDS", "Pool", "DeathWatch", "local_backend", "shutdown", "start_early"]

BACKENDS = ("auto", "loky", "threading", "dask")
# Training work (runs x epochs x training images x weights) below which threads finish a study
# sooner than worker processes: about half the measured break-even on a 2-core machine (20
# runs of 10 epochs of the seed network, 1e10, took as long on both), where each worker
# process costs its start (an interpreter, NumPy, the trainer) and the GIL costs the threads
# little.
SMALL_WORK = 5e9
# Seconds an idle local worker waits for the next study before it exits.
IDLE_TIMEOUT = 60
# Seconds past the time limit after which a trial's worker is killed (a function that reports
# each epoch ends itself at the limit, after its epoch; this is for one that never returns).
OVERDUE = 5.0
# Seconds a stopped pool waits at most for the feeder thread of its closed task queue to end.
FEEDER_WAIT = 5.0


def local_workers(n_jobs: int) -> int:
    """Worker count on this machine: ``n_jobs``, -1 for one per core, never more than the cores."""
    cores = os.cpu_count() or 1
    return cores if n_jobs < 0 else min(n_jobs, cores)


def local_backend(work: float | None) -> str:
    """The local backend for ``backend="auto"``: threads for a study whose built-in training
    ``work`` (runs x epochs x training images x weights) is small, worker processes otherwise,
    and for a user's objective (``work`` None: its cost is unknown, and a user's code may use
    the global ``np.random``, which concurrent threads would share). The results are the same
    on both."""
    return "threading" if work is not None and work <= SMALL_WORK else "loky"


def _loky(n: int) -> Any:
    from joblib.externals.loky import get_reusable_executor

    from hpsearch.execution.forking import start_worker, worker_context

    with _signals_blocked():
        # The workers learn their parent's pid to end at once if it died while they started;
        # forked from the fork server, they also take this process's environment as it is now.
        forked = worker_context()
        if forked is None:
            start: dict[str, Any] = dict(initializer=die_with_parent, initargs=(os.getpid(),))
        else:
            context, server = forked
            start = dict(
                context=context, initializer=start_worker, initargs=(server, dict(os.environ))
            )
        return get_reusable_executor(max_workers=n, timeout=IDLE_TIMEOUT, **start)


def start_early() -> None:
    """Starts the fork server now, where the local workers will be forked from it: it loads what
    they need while this process loads the study's modules (a command about to run a user's
    objective on local processes calls it)."""
    from hpsearch.execution.forking import worker_context

    with _signals_blocked():
        worker_context()


def _start_trackers() -> None:
    """Starts the resource trackers of multiprocessing and (for workers started its way) of loky,
    if they are not running.

    Both would start with the first worker (or the fork server); but Python 3.11's
    multiprocessing tracker unblocks SIGINT in the calling thread when it has started, which
    would undo :func:`_signals_blocked` for the workers started right after it. Started here,
    before the block, it is left running.
    """
    from hpsearch.execution.forking import usable

    if not usable():
        from joblib.externals.loky.backend import resource_tracker

        resource_tracker.ensure_running()
    if os.name == "posix":
        from multiprocessing import resource_tracker as mp_resource_tracker

        mp_resource_tracker.ensure_running()


@contextlib.contextmanager
def _signals_blocked(processes: bool = True) -> Iterator[None]:
    """Blocks SIGINT and SIGTERM in this thread while worker processes (and their manager thread)
    start.

    A process inherits its parent thread's blocked signals, so a Ctrl-C at the terminal, which
    reaches the whole process group, never interrupts a worker still importing (it would print
    a traceback); the study stops its workers itself. Nor can a signal to the study cut a
    worker's start in two, leaving a process the pool does not know of. The signal, if one
    came, is delivered here when the block ends. With ``processes=False`` only threads start
    (the threading backend): no resource tracker is started for them.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    if processes:
        _start_trackers()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        # Blocked here, a signal still reaches another thread, and this thread's handler runs
        # it at once: the study's handler leaves it for after the block (see deferring).
        with deferring():
            yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def shutdown() -> None:
    """Stops this process's local worker processes now (the command line calls it before exiting).

    Only an executor that exists is stopped: asking loky for "the" executor would build (and
    may start workers for) a new one when the last was already shut down.
    """
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        _kill(executor)


def _kill(executor: Any) -> None:
    """Shuts a loky executor down now, its workers killed.

    loky's manager thread cancels the tasks not yet handed to a worker but leaves their ids in
    its queue, then looks one up and dies of a KeyError, printing a traceback ("Exception in
    thread ExecutorManagerThread"). Those ids are taken out first: their tasks are dropped anyway.
    """
    ids = getattr(executor, "_work_ids", None)
    if isinstance(ids, queue.Queue):
        with contextlib.suppress(queue.Empty):
            while True:
                ids.get_nowait()
    calls = getattr(executor, "_call_queue", None)
    executor.shutdown(wait=True, kill_workers=True)
    # The queue that took the tasks to the workers is closed by now, but loky leaves its feeder
    # thread running to the end of its last lines, where it lets go of the queue's semaphores:
    # each is unlinked, then the resource tracker told. A process that ends between the two
    # (the command exits at once) has its tracker warn of a "leaked semaphore" at exit (3 runs in
    # 100). The feeder has the queue's end mark: it ends within moments.
    feeder = getattr(calls, "_thread", None)
    if isinstance(feeder, threading.Thread) and getattr(calls, "_closed", False):
        feeder.join(FEEDER_WAIT)


class Pool:
    """Runs :class:`~hpsearch.execution.workers.Task` s for one study, results as they finish.

    Args:
        fn: What runs a task: ``fn(settings, seed, task) -> (record, checkpoint)``, picklable
            (an objective through :func:`hpsearch.execution.runner.run_objective`).
        settings: The study's settings (sent with every task).
        seed: The study seed.
        backend: ``"loky"`` (processes), ``"threading"`` or ``"dask"`` (``"auto"`` is the
            study's to resolve, see :func:`local_backend`).
        n_jobs: Most tasks running at once; -1: one per core (with dask: every thread the
            cluster has when the pool opens).
        scheduler: With dask, an address or a ``distributed.Client``.
        folder: A folder for the death watch's markers (local processes only).

    Example:
        >>> with Pool(run, Settings(epochs=2), 0, "loky", 2) as pool:  # doctest: +SKIP
        ...     pool.submit(Task(0, {"lr": 0.01}))
        ...     [record.val_acc for _, record, _ in pool.results()]
    """

    def __init__(
        self,
        fn: Any,
        settings: Settings,
        seed: int,
        backend: str,
        n_jobs: int,
        *,
        scheduler: Any = None,
        folder: str | os.PathLike[str] | None = None,
    ) -> None:
        self.settings, self.seed, self.fn = settings, seed, fn
        self.backend, self.n_jobs, self.scheduler = backend, n_jobs, scheduler
        self._folder = Path(folder) if folder is not None else None
        self._queue: list[Task] = []
        self._running: dict[Any, Task] = {}
        self._cluster: Any = None
        self._watch: DeathWatch | None = None
        self._executor: Any = None
        self._tries: dict[Any, int] = {}  # the tasks lost once with their worker
        self._overdue: set[Any] = set()  # the tasks whose worker was killed past the limit
        self.limit = 1

    def __enter__(self) -> Pool:
        if self.backend == "dask":
            from hpsearch.execution.cluster import ClusterPool

            self._cluster = ClusterPool(
                self.scheduler, self.n_jobs, time_limit=self.settings.time_limit
            )
            self.limit = self._cluster.limit
        else:
            self.limit = local_workers(self.n_jobs)
            if self.backend == "threading":
                self._executor = cf.ThreadPoolExecutor(
                    self.limit, thread_name_prefix="hpsearch-trial"
                )
            else:
                self._executor = _loky(self.limit)
                # The markers tell which task a dead worker held, and since when a task runs.
                limited = self.settings.time_limit is not None
                if self._folder is not None and (self.limit > 1 or limited):
                    self._watch = DeathWatch(self._folder).__enter__()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        early = exc_type is not None or bool(self._running)
        self._queue.clear()
        try:
            if self._cluster is not None:
                self._cluster.close(cancel=early)
            elif self.backend == "threading":
                self._executor.shutdown(wait=not early, cancel_futures=True)
            elif early:  # an interrupt: stop the workers now rather than let them finish
                _kill(self._executor)
        finally:
            self._running.clear()
            if self._watch is not None:
                self._watch.__exit__()

    def submit(self, task: Task) -> None:
        """Queues ``task``; it starts as soon as a worker is free."""
        self._queue.append(task)

    @property
    def busy(self) -> int:
        """Tasks queued or running."""
        return len(self._queue) + len(self._running)

    def results(self) -> Generator[tuple[Task, Any, Any], None, None]:
        """Yields ``(task, record, checkpoint)`` as tasks finish, until none is queued or
        running."""
        while self._queue or self._running:
            self._fill()
            if self._cluster is not None:
                for future in self._cluster.wait(list(self._running)):
                    task = self._running.pop(future)
                    yield (task, *self._cluster.outcome(future, task))
                continue
            tick = None if self._watch is None or self.settings.time_limit is None else 0.5
            done, _ = cf.wait(list(self._running), timeout=tick, return_when=cf.FIRST_COMPLETED)
            if not done:
                self._stop_overdue()  # its worker dies: the next wait sees the crash
                continue
            for future in done:
                if future not in self._running:
                    continue  # already handled with a crash below
                task = self._running.pop(future)
                try:
                    record, checkpoint = future.result()
                except Exception as exc:
                    if not _is_crash(exc):
                        raise
                    yield from self._crashed(task, exc)
                    break
                yield task, record, checkpoint

    def _fill(self) -> None:
        # A local pool gets one task ahead per worker, so that no worker waits for this process
        # to hand it the next one; on a cluster, n_jobs caps what is there at all.
        ahead = self.limit if self._cluster is not None else 2 * self.limit
        while self._queue and len(self._running) < ahead:
            task = self._queue.pop(0)
            if self._cluster is not None:
                future = self._cluster.submit(self.fn, self.settings, self.seed, task)
            else:
                marker = self._watch.marker(task) if self._watch is not None else None
                try:
                    with _signals_blocked(self.backend != "threading"):  # may start a worker
                        future = self._executor.submit(
                            marked, marker, self.fn, self.settings, self.seed, task
                        )
                except Exception as exc:
                    if not _is_crash(exc):
                        raise
                    # A worker died since the last read: the executor refuses new tasks.
                    self._queue.insert(0, task)
                    if self._running:
                        return  # their futures carry the crash; results() sorts it out
                    self._executor = _loky(self.limit)  # none was lost: a fresh executor
                    continue
            self._running[future] = task

    def _stop_overdue(self) -> None:
        """Kills the worker of each task past the study's time limit by ``OVERDUE`` seconds (a
        function that hangs, or never reports an epoch); its task is then TIMEOUT."""
        limit = self.settings.time_limit
        if self._watch is None or limit is None:
            return
        running = {DeathWatch.name(t): t for t in self._running.values()}
        for name, (pid, since) in self._watch.started().items():
            task = running.get(name)
            if task is not None and time.time() - since > limit + OVERDUE and pid > 0:
                self._overdue.add(task.key)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def _crashed(self, task: Task, exc: BaseException) -> Iterator[tuple[Task, Any, Any]]:
        """A worker died: its task is FAILED, the others stopped with it run again."""
        running = {**self._running}
        running[None] = task
        self._running.clear()
        tasks = list(running.values())
        lost = self._watch.lost(tasks) if self._watch is not None else tasks
        message = f"worker process died twice (killed or out of memory): {first_line(exc)}"
        # A lost task runs once more, with the same seed (a passing kill, the out-of-memory
        # killer choosing another day): only a second death makes it FAILED.
        overdue = [t for t in tasks if t.key in self._overdue]
        lost = [t for t in lost if t not in overdue]
        again = [t for t in lost if self._tries.get(t.key, 0) == 0]
        for t in again:
            self._tries[t.key] = 1
        self._queue[:0] = [t for t in tasks if t not in overdue and (t not in lost or t in again)]
        self._executor = _loky(self.limit)
        for t in overdue:
            said = f"stopped {OVERDUE:g} s past the time limit of {self.settings.time_limit:g} s"
            yield t, t.lost(said + ": its worker process was replaced", TrialState.TIMEOUT), None
        for t in lost:
            if t not in again:
                yield t, t.lost(message), None


def _is_crash(exc: BaseException) -> bool:
    from joblib.externals.loky.process_executor import BrokenProcessPool

    return isinstance(exc, BrokenProcessPool)
