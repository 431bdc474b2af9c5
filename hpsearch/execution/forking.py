"""How local worker processes start: forked from a server process that has loaded what they need.

A worker started afresh (loky's own way: a new interpreter) spends about half a second of CPU
importing NumPy, joblib and hpsearch's trial code before its first trial, and loky starts a
resource tracker that imports them too. On Linux the workers are forked instead, by
multiprocessing's fork server: a process started once per Python process (the command, a
notebook's kernel) that imports them once (:data:`PRELOAD`). A worker is then ready in a few
milliseconds, and a pool started again after its idle timeout costs next to nothing.

What a worker must not take from the server it gets from the study's process: the environment
as it is when the pool opens (:func:`start_worker`), and the working directory and ``sys.path``
(multiprocessing's own preparation). It never runs the caller's main module again, as loky's own
start never does: a reader's script without ``if __name__ == "__main__":`` would otherwise start
its study once more in every worker. A task carries its function itself (by value, or by the
module it is imported from).

The server is hpsearch's only where hpsearch started it: a program that started multiprocessing's
fork server itself keeps it, and its studies start their workers loky's way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.context
import multiprocessing.spawn
import os
import sys
from collections.abc import Mapping
from typing import Any

from hpsearch.execution.workers import die_with_parent

__all__ = ["PRELOAD", "start_worker", "usable", "worker_context"]

#: What the fork server imports before it forks a worker: this module first (see
#: :func:`_prepare`), then what every trial needs.
PRELOAD = [
    __name__,
    "numpy",
    "joblib.externals.loky.process_executor",
    "hpsearch.execution.runner",
    "hpsearch.builtin.objective",
]
# The name of every worker process forked for hpsearch: the server prepares those alone its way.
_NAME = "hpsearch-worker"


class _WorkerProcess(multiprocessing.context.ForkServerProcess):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = f"{_NAME}-{self.name}"


class _Context(multiprocessing.context.ForkServerContext):
    """The fork server's context, whose processes are named as hpsearch's workers."""

    Process = _WorkerProcess


_CONTEXT = _Context()  # one object: loky reuses a pool only for the same context


def _server() -> Any:
    """multiprocessing's fork server if hpsearch may fork its workers there, else None."""
    if not sys.platform.startswith("linux"):
        return None
    from multiprocessing import forkserver

    server: Any = getattr(forkserver, "_forkserver", None)
    if server is None or not hasattr(server, "_preload_modules"):
        return None
    if server._forkserver_pid is not None and list(server._preload_modules) != PRELOAD:
        return None  # the program's own server: its preparation is not hpsearch's to change
    return server


def usable() -> bool:
    """Whether the local workers start from the fork server (see :func:`worker_context`)."""
    return _server() is not None


def worker_context() -> tuple[Any, int] | None:
    """The context that forks hpsearch's workers from the fork server, and the server's pid (a
    worker's parent); None where workers start loky's way (not Linux, or a fork server that
    hpsearch did not start).

    Starts the server if it is not running. Call it with SIGINT and SIGTERM blocked: the server
    keeps them blocked for good, and the workers it forks inherit that, as loky's do.
    """
    server = _server()
    if server is None:
        return None
    if server._forkserver_pid is None:
        server._preload_modules = list(PRELOAD)  # what set_forkserver_preload does
    try:
        server.ensure_running()
    except OSError:
        return None
    pid = server._forkserver_pid
    return (_CONTEXT, pid) if isinstance(pid, int) else None


def start_worker(server: int, env: dict[str, str]) -> None:
    """The set-up of a worker the fork server forked (the pool's initializer).

    :func:`~hpsearch.execution.workers.die_with_parent` for the server (which ends when the
    study's process has ended); the study's environment; and the server's lifeline let go: every
    child of the server inherits the write end of the pipe whose closing tells the server that
    its clients are gone, so a worker holding it would keep the server, and so itself, alive
    after the study was killed.
    """
    from multiprocessing import forkserver

    die_with_parent(server)
    os.environ.clear()
    os.environ.update(env)
    client: Any = forkserver._forkserver
    lifeline = getattr(client, "_forkserver_alive_fd", None)
    if isinstance(lifeline, int):
        client._forkserver_alive_fd = None
        with contextlib.suppress(OSError):
            os.close(lifeline)


def _prepare(data: Mapping[str, Any]) -> None:
    """multiprocessing's preparation of a forked child, without re-running the main module for
    hpsearch's workers (any other child of the server is prepared as multiprocessing does)."""
    if str(data.get("name", "")).startswith(_NAME):
        data = {k: v for k, v in data.items() if not k.startswith("init_main_from_")}
    _original_prepare(data)


_original_prepare = multiprocessing.spawn.prepare
# Only a process that the fork server forks prepares itself (spawn._main calls prepare): in the
# server, which imports this module first, this wraps the preparation its children run. In the
# study's process it changes nothing.
multiprocessing.spawn.prepare = _prepare
