"""Running a study's trials on a Dask cluster, through the ``distributed`` client.

The study driver (strategy, storage, reports) stays in the user's process; only
:func:`hpsearch.execution.runner.run_objective` calls travel to the workers. Each call carries
the small settings and params, never the data: a worker loads the dataset by name once and keeps
it (:func:`hpsearch.data.split.make_split` caches per process). A trial depends only on its
params, the study seed and its number: the results are a local run's with the same seed.

When a worker process dies, the scheduler runs the trials it held again on another worker
(``distributed.scheduler.allowed-failures`` times, 3 by default). A trial that takes down more
workers than that is recorded FAILED and the study goes on. (The client is used directly rather
than through joblib's ``dask`` backend, which ignores ``n_jobs`` and waits forever for a task
the scheduler gave up on.)

Example:
    >>> from hpsearch.execution.cluster import connect, cluster_info
    >>> client = connect("tcp://127.0.0.1:8786")  # doctest: +SKIP
    >>> cluster_info(client)  # doctest: +SKIP
    ClusterInfo(address='tcp://127.0.0.1:8786', workers=2, threads=2)
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from hpsearch.exceptions import ClusterLost, first_line
from hpsearch.execution.cluster_workers import restart, running_on, stop_overdue
from hpsearch.execution.scheduler_address import answering, checked_address
from hpsearch.records import TrialState

__all__ = ["ClusterInfo", "ClusterPool", "connect", "cluster_info", "describe", "ready"]

# hpsearch is installed from its checkout (it is not on the package index): its dask extra too.
INSTALL_HINT = 'pip install -e ".[dask]" in the hpsearch checkout'
LOST = (
    "lost the connection to the dask scheduler; the finished trials are saved: "
    "run the same study again to resume it"
)
# Seconds without any worker before a study says so (it goes on waiting).
NO_WORKERS_NOTICE = 30.0
# Seconds a study waits for a first worker on a cluster that has none before it gives up.
WAIT_FOR_WORKERS = 30.0
POLL = 0.05  # seconds between looks for finished trials
CHECK_EVERY = 1.0  # seconds between questions to the scheduler about its workers
CLOSE_TIMEOUT = 2.0  # seconds to close a client whose scheduler may be gone


def install_hint() -> str:
    """The command that installs hpsearch's dask extra: from this checkout, by its path, when
    hpsearch runs from one (as ``pip install -e .`` installs it), else from "the checkout"."""
    root = Path(__file__).resolve().parents[2]
    try:
        ours = 'name = "hpsearch"' in (root / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        ours = False
    return f'pip install -e "{root}[dask]"' if ours else INSTALL_HINT


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ValueError(
            f"backend 'dask' needs dask.distributed, which is not installed: {install_hint()}"
        ) from None
    return distributed


@dataclass(frozen=True)
class ClusterInfo:
    """What a study can use on a cluster right now.

    Attributes:
        address: The scheduler's address.
        workers: Connected worker processes.
        threads: Their threads in all: the trials that can run at once.
    """

    address: str
    workers: int
    threads: int

    def __str__(self) -> str:
        return f"dask scheduler {self.address}: {self.workers} worker(s), {self.threads} thread(s)"


def connect(scheduler: Any, timeout: float = 5.0) -> Any:
    """A client of the cluster: ``scheduler`` itself if it is a client, else a new one.

    Args:
        scheduler: A scheduler address (``"tcp://host:port"``) or a ``distributed.Client``.
        timeout: Seconds to wait for the scheduler to answer.

    Returns:
        A connected ``distributed.Client``. The caller closes it if it is not ``scheduler``.

    Raises:
        ValueError: dask.distributed is not installed, ``scheduler`` is neither an address nor a
            client, the client is closed, or the scheduler did not answer within ``timeout``.
    """
    distributed = _distributed()
    if isinstance(scheduler, distributed.Client):
        if scheduler.status not in ("running", "connecting", "newly-created"):
            raise ValueError(
                f"the distributed.Client given as scheduler is {scheduler.status}, not running"
            )
        return scheduler
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(
            "backend 'dask' needs a scheduler address like 'tcp://HOST:8786' "
            f"or a distributed.Client, but got {scheduler!r}"
        )
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be positive seconds, but got {timeout!r}")
    address = checked_address(scheduler.strip())
    import dask

    # Both settings: the client's own timeout bounds its first handshake, the comm timeout
    # every connection it makes (distributed's default is 30 s).
    with dask.config.set({"distributed.comm.timeouts.connect": f"{timeout}s"}):
        try:
            answering(address, timeout)
            return distributed.Client(address, timeout=timeout, set_as_default=False)
        except Exception as exc:
            raise ValueError(
                f"cannot reach the dask scheduler at {address} within {timeout:g} s: "
                f"{first_line(exc)}"
            ) from None


def cluster_info(client: Any) -> ClusterInfo:
    """The workers and threads the client's scheduler has now."""
    ncores = client.ncores()
    return ClusterInfo(str(client.scheduler.address), len(ncores), int(sum(ncores.values())))


def describe(scheduler: Any, timeout: float = 5.0) -> ClusterInfo:
    """Connects, reports the cluster's size, and closes the connection if it opened one.

    What a :class:`~hpsearch.study.study.Study` calls on construction, so that a wrong address fails
    at once, before anything is written.

    Raises:
        ValueError: As :func:`connect`.
    """
    client = connect(scheduler, timeout)
    try:
        return cluster_info(client)
    finally:
        if client is not scheduler:
            client.close()


def ready(scheduler: Any, timeout: float = 5.0) -> ClusterInfo:
    """Connects, waits for a first worker if the cluster has none, and reports the cluster's size.

    What a study calls before it opens its folder: a cluster that gets no worker within
    :data:`WAIT_FOR_WORKERS` seconds (the wait is said as it begins, a warning) fails before
    anything is written.

    Raises:
        ValueError: As :func:`connect`, or no worker joined in time.
    """
    client = connect(scheduler, timeout)
    try:
        if not client.ncores():
            _wait_for_a_worker(client, WAIT_FOR_WORKERS)
        return cluster_info(client)
    finally:
        if client is not scheduler:
            client.close()


def _wait_for_a_worker(client: Any, seconds: float) -> None:
    """Waits up to ``seconds`` for the client's scheduler to have a worker, saying so first.

    Raises:
        ValueError: No worker joined in time.
    """
    address = client.scheduler.address
    warnings.warn(
        f"the dask scheduler {address} has no workers; waiting up to {seconds:g} s for one "
        f"(start some with: dask worker {address})",
        stacklevel=3,
    )
    try:
        client.wait_for_workers(1, timeout=seconds)
    except Exception:  # noqa: BLE001 (distributed's TimeoutError, or the scheduler gone)
        raise ValueError(
            f"the dask scheduler {address} has no workers after {seconds:g} s; "
            f"start some with: dask worker {address}"
        ) from None


class ClusterPool:
    """The Dask side of :class:`hpsearch.execution.pool.Pool`: submit, wait for the first to finish,
    read.

    Args:
        scheduler: A scheduler address (``"tcp://host:port"``) or a ``distributed.Client``.
        n_jobs: Most tasks on the cluster at once, or -1 for every thread it has now.
        timeout: Seconds to wait for the scheduler to answer.
        wait_for_workers: Seconds to wait for a first worker if the cluster has none
            (default :data:`WAIT_FOR_WORKERS`).

    Raises:
        ValueError: As :func:`connect`, or no worker joined in time.
    """

    def __init__(
        self,
        scheduler: Any,
        n_jobs: int,
        *,
        timeout: float = 5.0,
        wait_for_workers: float | None = None,
        no_workers_notice: float | None = None,
        time_limit: float | None = None,
    ) -> None:
        self._distributed = _distributed()
        self.time_limit = time_limit
        self._seen: dict[str, float] = {}  # when each task was first seen on a worker
        self._overdue: set[str] = set()  # tasks stopped past the time limit
        self.scheduler = scheduler
        self.no_workers_notice = (
            NO_WORKERS_NOTICE if no_workers_notice is None else no_workers_notice
        )
        self._futures: list[Any] = []
        self.client = connect(scheduler, timeout)
        # The study says in one line what befell the cluster; distributed's own log (failed
        # reconnections, lost workers) would bury it: held back meanwhile.
        self._levels = _quiet(["distributed"])
        try:
            self.limit = n_jobs if n_jobs > 0 else sum(self.client.ncores().values())
            if self.limit < 1:  # (a study has waited for a first worker before it opened)
                _wait_for_a_worker(
                    self.client, WAIT_FOR_WORKERS if wait_for_workers is None else wait_for_workers
                )
                self.limit = sum(self.client.ncores().values())
        except BaseException:
            self.close(cancel=True)
            raise
        self._finished = self._distributed.as_completed([], loop=self.client.loop)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            future = self.client.submit(fn, *args, pure=False, key=f"hpsearch-{uuid4().hex}")
        except OSError:  # distributed's CommClosedError ("Stream is closed"): the scheduler died
            raise ClusterLost(LOST) from None
        self._futures.append(future)
        self._finished.add(future)
        return future

    def wait(self, futures: Sequence[Any]) -> list[Any]:
        """The futures that have finished, waiting for at least one (``futures``: those running).

        While it waits it watches the cluster: with no worker left for ``no_workers_notice``
        seconds it says so (a warning, once a spell) and goes on waiting, since workers may
        come back and the scheduler will give them the trials; a scheduler gone for good ends
        the wait (:class:`ClusterLost`).

        Raises:
            ClusterLost: The client lost its scheduler.
        """
        alone_since: float | None = None
        checked = time.monotonic()
        while not self._finished.has_ready():
            if self._finished.is_empty():
                return []
            time.sleep(POLL)  # short sleeps: a signal stops the study at once
            now = time.monotonic()
            if now - checked < CHECK_EVERY:
                continue
            checked = now
            workers = self._workers()
            if self.time_limit is not None:
                stop_overdue(self, now)
            if workers:
                alone_since = None
            elif alone_since is None:
                alone_since = now
            elif alone_since != -1.0 and now - alone_since >= self.no_workers_notice:
                alone_since = -1.0  # said once for this spell without workers
                warnings.warn(
                    f"no dask workers for {self.no_workers_notice:g} s; waiting for some to join "
                    f"{self.client.scheduler.address} (Ctrl-C stops, finished trials are kept)",
                    stacklevel=2,
                )
        return list(self._finished.next_batch(block=False))

    def _workers(self) -> int:
        """Workers the scheduler has now.

        Raises:
            ClusterLost: The scheduler does not answer.
        """
        if self.client.status not in ("running", "connecting"):
            raise ClusterLost(LOST)
        try:
            return len(self.client.nthreads())
        except Exception:  # noqa: BLE001 (whatever the comm raised: the scheduler is gone)
            raise ClusterLost(LOST) from None

    def outcome(self, future: Any, task: Any) -> tuple[Any, Any]:
        """``(record, checkpoint)`` of a finished future; a task the scheduler gave up on is FAILED.

        Raises:
            ClusterLost: The connection to the scheduler broke (distributed's CommClosedError).
        """
        self._futures.remove(future)
        try:
            # A finished task's result is fetched from its worker, through the scheduler: a
            # scheduler gone since raises distributed's CommClosedError ("Stream is closed").
            if future.status == "finished":
                return future.result()
            if future.key in self._overdue:
                said = f"stopped past the time limit of {self.time_limit:g} s on a dask worker"
                return task.lost(said, TrialState.TIMEOUT), None
            if future.status == "cancelled":
                raise ClusterLost(LOST)
            exc = future.exception()
        except OSError:
            raise ClusterLost(LOST) from None
        if isinstance(exc, OSError):
            raise ClusterLost(LOST) from None
        if not isinstance(exc, self._distributed.KilledWorker):
            raise exc
        return task.lost(
            f"dask workers died while running this trial, killed or out "
            f"of memory? (KilledWorker: {first_line(exc)})"
        ), None

    def close(self, cancel: bool) -> None:
        """Cancels what is still on the cluster (if asked): the workers running this study's
        tasks are restarted, so the cluster is free at once; closes a client this pool opened."""
        if cancel and self._futures:
            running = list(running_on(self.client, self._futures))
            with contextlib.suppress(Exception):
                self.client.cancel(self._futures)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a study that stops says so itself
                restart(self.client, running)
        self._futures = []
        try:
            if self.client is not self.scheduler:
                with contextlib.suppress(Exception):
                    self.client.close(timeout=CLOSE_TIMEOUT)
        finally:
            _restore(self._levels)
            self._levels = {}


def _quiet(roots: Sequence[str]) -> dict[str, int]:
    """Raises the loggers under ``roots`` above CRITICAL; returns their levels, for
    :func:`_restore`."""
    names = [
        name
        for name in logging.Logger.manager.loggerDict
        if any(name == root or name.startswith(root + ".") for root in roots)
    ]
    levels = {name: logging.getLogger(name).level for name in {*roots, *names}}
    for name in levels:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    return levels


def _restore(levels: dict[str, int]) -> None:
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
