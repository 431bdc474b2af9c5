"""Every trial computes on one BLAS thread, whoever calls it and whatever the environment says."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

import threadpoolctl

__all__ = ["loading_libraries", "one_blas_thread"]


_controller: tuple[int, threadpoolctl.ThreadpoolController] | None = None

# Held by a thread that imports beside the trials (the figure warm-up) and while the loaded
# libraries are inspected. On Linux threadpoolctl inspects them in a dl_iterate_phdr callback,
# which holds the dynamic loader's lock and needs the GIL, while an import that loads an
# extension module holds the GIL and needs the loader's lock: the two at once, in a trial
# thread and the warm-up thread, waited for each other forever.
loading_libraries = threading.Lock()


def _blas() -> threadpoolctl.ThreadpoolController:
    # Inspecting the loaded libraries costs ~0.2 ms, a limit on a known one ~0.01 ms: the
    # controller is made again only when modules were imported since (scipy, imported late by
    # the Bayesian strategy, brings a BLAS library of its own), so a worker makes it once.
    # While another thread is importing, the controller made before serves (a figure's
    # libraries hold no BLAS); the first one waits for the import to end.
    global _controller
    if _controller is None or _controller[0] != len(sys.modules):
        if loading_libraries.acquire(blocking=_controller is None):
            try:
                _controller = (len(sys.modules), threadpoolctl.ThreadpoolController())
            finally:
                loading_libraries.release()
    assert _controller is not None
    return _controller[1]


def _take_blas_control() -> None:
    # OpenBLAS has one thread pool per process, and threadpoolctl >= 3.8 lets only the first
    # thread that set it change it again (others silently do nothing). The count below is the
    # arbiter here, so whichever thread sets or restores the limit takes control for that call.
    cls = getattr(threadpoolctl, "OpenBLASController", None)
    clear = getattr(cls, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


_pin_lock = threading.Lock()
_pin_depth = 0
_pin_limiter: Any = None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Runs the block with the BLAS library on one thread, whoever calls it.

    A matrix product split over a different number of threads sums in a different order, and
    float32 results would then depend on the caller's environment (``OPENBLAS_NUM_THREADS``,
    the number of cores, a notebook's settings). Every trial therefore trains on one BLAS
    thread, in a worker process or in the caller's own. The limit is process-wide, so nested
    and concurrent blocks (the threading backend) share it: the first sets it, the last one out
    gives the caller's setting back.
    """
    global _pin_depth, _pin_limiter
    with _pin_lock:
        if _pin_depth == 0:
            _take_blas_control()
            _pin_limiter = _blas().limit(limits=1, user_api="blas")
        _pin_depth += 1
    try:
        yield
    finally:
        with _pin_lock:
            _pin_depth -= 1
            if _pin_depth == 0:
                _take_blas_control()
                _pin_limiter.restore_original_limits()
                _pin_limiter = None
                _take_blas_control()
