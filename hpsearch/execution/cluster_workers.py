"""The Dask workers running a study's tasks: which they are, and restarting them.

Cancelling a Dask future leaves a running task's thread at work; a task that hangs (past the
time limit, or in a study stopped early) only ends with its worker process. A worker's nanny
starts it again: the cluster keeps its size and is free at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from hpsearch.exceptions import first_line

__all__ = ["restart", "running_on", "stop_overdue"]


def running_on(client: Any, futures: Sequence[Any]) -> dict[str, list[str]]:
    """The workers running (or holding) ``futures``: worker address to task keys."""
    ours = {f.key for f in futures}
    try:
        processing = client.processing()
    except Exception:  # noqa: BLE001 (the scheduler is gone: nothing to stop)
        return {}
    return {w: [k for k in keys if k in ours] for w, keys in processing.items() if ours & {*keys}}


def restart(client: Any, workers: Sequence[str]) -> None:
    """Restarts ``workers`` through their nannies; a worker without a nanny cannot be: said."""
    if not workers:
        return
    try:
        done = client.restart_workers(list(workers), timeout=30, raise_for_error=False)
    except Exception as exc:  # noqa: BLE001
        done = dict.fromkeys(workers, first_line(exc))
    left = [w for w, state in done.items() if state != "OK"]
    if left:
        warnings.warn(
            f"dask worker(s) {', '.join(left)} still run a stopped trial's code: they have "
            "no nanny to restart them (start workers without --no-nanny)",
            stacklevel=3,
        )


def stop_overdue(pool: Any, now: float) -> None:
    """Cancels each task of ``pool`` (a :class:`~hpsearch.execution.cluster.ClusterPool`) past
    its time limit by ``OVERDUE`` seconds, restarting the worker that runs it (its thread cannot
    be stopped otherwise); the pool then records the task TIMEOUT (its ``_overdue`` keys)."""
    from hpsearch.execution.pool import OVERDUE

    by_key = {f.key: f for f in pool._futures}
    stuck = []
    for worker, keys in running_on(pool.client, pool._futures).items():
        for key in keys:
            since = pool._seen.setdefault(key, now)
            if now - since > pool.time_limit + OVERDUE and key not in pool._overdue:
                pool._overdue.add(key)
                stuck.append(worker)
                pool.client.cancel([by_key[key]])
    restart(pool.client, stuck)
