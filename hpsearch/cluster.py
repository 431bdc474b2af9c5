"""Running a study's trials on a Dask cluster, through the ``distributed`` client.

The study driver (strategy, storage, reports) stays in the user's process; only
:func:`hpsearch.workers.run_task` calls travel to the workers. Each call carries the small
settings and params, never the data: a worker loads the dataset by name the first time it needs
it and keeps it (:func:`hpsearch.data.make_split` caches per process), so the data reaches each
worker once. A trial depends only on its params, the study seed and its number, so the results
are those of a local run with the same seed.

When a worker process dies, the scheduler runs the trials it held again on another worker
(``distributed.scheduler.allowed-failures`` times, 3 by default). A trial that takes down more
workers than that is recorded FAILED and the study goes on. (The client is used directly rather
than through joblib's ``dask`` backend, which ignores ``n_jobs`` and waits forever for a task
the scheduler gave up on.)

Example:
    >>> from hpsearch.cluster import connect, cluster_info
    >>> client = connect("tcp://127.0.0.1:8786")  # doctest: +SKIP
    >>> cluster_info(client)  # doctest: +SKIP
    ClusterInfo(address='tcp://127.0.0.1:8786', workers=2, threads=2)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Sequence
from uuid import uuid4

from hpsearch.storage import StudyError

__all__ = ["ClusterInfo", "ClusterLost", "ClusterPool", "connect", "cluster_info", "describe"]

INSTALL_HINT = 'pip install "hpsearch[dask]"'


class ClusterLost(StudyError):
    """The connection to the scheduler broke during a study (one line, as the CLI prints it)."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ValueError(f"backend 'dask' needs dask.distributed, which is not installed: {INSTALL_HINT}") from None
    return distributed


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
            raise ValueError(f"the distributed.Client given as scheduler is {scheduler.status}, not running")
        return scheduler
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(
            "backend 'dask' needs a scheduler address like 'tcp://HOST:8786' or a distributed.Client, "
            f"but got {scheduler!r}"
        )
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be positive seconds, but got {timeout!r}")
    address = scheduler.strip()
    import dask

    # Both settings: the client's own timeout bounds its first handshake, the comm timeout
    # every connection it makes (distributed's default is 30 s).
    with dask.config.set({"distributed.comm.timeouts.connect": f"{timeout}s"}):
        try:
            return distributed.Client(address, timeout=timeout, set_as_default=False)
        except Exception as exc:
            raise ValueError(
                f"cannot reach the dask scheduler at {address} within {timeout:g} s: {_first_line(exc)}"
            ) from None


def cluster_info(client: Any) -> ClusterInfo:
    """The workers and threads the client's scheduler has now."""
    ncores = client.ncores()
    return ClusterInfo(str(client.scheduler.address), len(ncores), int(sum(ncores.values())))


def describe(scheduler: Any, timeout: float = 5.0) -> ClusterInfo:
    """Connects, reports the cluster's size, and closes the connection if it opened one.

    What a :class:`~hpsearch.study.Study` calls on construction, so that a wrong address fails
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


class ClusterPool:
    """The Dask side of :class:`hpsearch.execution.Pool`: submit, wait for the first to finish, read.

    Args:
        scheduler: A scheduler address (``"tcp://host:port"``) or a ``distributed.Client``.
        n_jobs: Most tasks on the cluster at once, or -1 for every thread it has now.
        timeout: Seconds to wait for the scheduler to answer.
        wait_for_workers: Seconds to wait for a first worker if the cluster has none.

    Raises:
        ValueError: As :func:`connect`, or no worker joined in time.
    """

    def __init__(self, scheduler: Any, n_jobs: int, *, timeout: float = 5.0,
                 wait_for_workers: float = 30.0) -> None:
        self._distributed = _distributed()
        self.scheduler = scheduler
        self.client = connect(scheduler, timeout)
        try:
            self.limit = n_jobs if n_jobs > 0 else sum(self.client.ncores().values())
            if self.limit < 1:
                try:
                    self.client.wait_for_workers(1, timeout=wait_for_workers)
                except Exception:
                    address = self.client.scheduler.address
                    raise ValueError(
                        f"the dask scheduler {address} has no workers after {wait_for_workers:g} s; "
                        f"start some with: dask worker {address}"
                    ) from None
                self.limit = sum(self.client.ncores().values())
        except BaseException:
            self.close(cancel=True)
            raise
        self._futures: list[Any] = []
        self._finished = self._distributed.as_completed([], loop=self.client.loop)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        future = self.client.submit(fn, *args, pure=False, key=f"hpsearch-{uuid4().hex}")
        self._futures.append(future)
        self._finished.add(future)
        return future

    def wait(self, futures: Sequence[Any]) -> list[Any]:
        """The futures that have finished, waiting for at least one (``futures``: those running)."""
        first = next(self._finished)
        return [first, *self._finished.next_batch(block=False)]

    def outcome(self, future: Any, task: Any) -> tuple[Any, Any]:
        """``(record, checkpoint)`` of a finished future; a task the scheduler gave up on is FAILED.

        Raises:
            ClusterLost: The connection to the scheduler broke.
        """
        self._futures.remove(future)
        if future.status == "finished":
            return future.result()
        if future.status == "cancelled":
            raise ClusterLost(
                "lost the connection to the dask scheduler; the finished trials are saved: "
                "run the same study again to resume it"
            )
        exc = future.exception()
        if not isinstance(exc, self._distributed.KilledWorker):
            raise exc
        return task.lost(f"dask workers died while running this trial, killed or out "
                         f"of memory? (KilledWorker: {_first_line(exc)})"), None

    def close(self, cancel: bool) -> None:
        """Cancels what is still on the cluster (if asked), and closes a client this pool opened."""
        if cancel and self._futures:
            with contextlib.suppress(Exception):
                self.client.cancel(self._futures)
        self._futures = []
        if self.client is not self.scheduler:
            with contextlib.suppress(Exception):
                self.client.close()
