"""Running a study's trials on a Dask cluster, through the ``distributed`` client.

The study driver (strategy, storage, reports) stays in the user's process; only
:func:`hpsearch.workers.run_trial` calls travel to the workers. Each call carries the small
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
from typing import Any, Callable, Iterator, Sequence
from uuid import uuid4

from hpsearch.storage import StudyError

__all__ = ["ClusterInfo", "ClusterLost", "connect", "cluster_info", "describe", "run_on_cluster"]

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


def run_on_cluster(
    scheduler: Any,
    n_jobs: int,
    calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]],
    on_lost: Callable[[int, str], Any],
    *,
    timeout: float = 5.0,
    wait_for_workers: float = 30.0,
) -> Iterator[Any]:
    """Runs each ``fn(*args)`` of ``calls`` on the cluster, yielding results as they finish.

    At most ``n_jobs`` calls are on the cluster at once (-1: every thread it has when the
    calls start). When a worker dies, the scheduler runs its calls again elsewhere; a call it
    gives up on (``KilledWorker``) yields ``on_lost(index, message)`` instead of a result, so
    the study records it and goes on. Leaving the loop early (an interrupt) cancels the calls
    still queued.

    Args:
        scheduler: A scheduler address (``"tcp://host:port"``) or a ``distributed.Client``.
        n_jobs: Most calls running at once, or -1 for the cluster's threads.
        calls: Functions and their positional arguments.
        on_lost: Builds the stand-in result of a call the scheduler gave up on.
        timeout: Seconds to wait for the scheduler to answer.
        wait_for_workers: Seconds to wait for a first worker if the cluster has none.

    Raises:
        ValueError: As :func:`connect`, or no worker joined in time.
        ClusterLost: The connection to the scheduler broke.
    """
    distributed = _distributed()
    client = connect(scheduler, timeout)
    futures: dict[str, int] = {}
    queue = list(enumerate(calls))
    try:
        limit = n_jobs if n_jobs > 0 else sum(client.ncores().values())
        if limit < 1:
            try:
                client.wait_for_workers(1, timeout=wait_for_workers)
            except Exception:
                raise ValueError(
                    f"the dask scheduler {client.scheduler.address} has no workers after "
                    f"{wait_for_workers:g} s; start some with: dask worker {client.scheduler.address}"
                ) from None
            limit = sum(client.ncores().values())

        def submit_next() -> Any:
            index, (fn, args) = queue.pop(0)
            future = client.submit(fn, *args, pure=False, key=f"hpsearch-{index}-{uuid4().hex}")
            futures[future.key] = index
            return future

        finished = distributed.as_completed(
            [submit_next() for _ in range(min(limit, len(queue)))], loop=client.loop
        )
        for future in finished:
            index = futures.pop(future.key)
            if future.status == "finished":
                yield future.result()
            elif future.status == "cancelled":
                raise ClusterLost(
                    "lost the connection to the dask scheduler; the finished trials are saved: "
                    "run the same study again to resume it"
                )
            else:
                exc = future.exception()
                if not isinstance(exc, distributed.KilledWorker):
                    raise exc
                yield on_lost(index, f"dask workers died while running this trial, killed or out "
                                     f"of memory? (KilledWorker: {_first_line(exc)})")
            if queue:
                finished.add(submit_next())
    finally:
        if futures:
            with contextlib.suppress(Exception):
                client.cancel(list(futures))
        if client is not scheduler:
            client.close()
