"""``python -m hpsearch``: the command line, with a clean way out at every moment.

Until a study takes over the signals (and after it gives them back), SIGINT and SIGTERM end
the command with 130 or 143 and no traceback: at once, or in the middle of an import as soon as
the import is over (a stop raised inside one can leave a module lock held that another thread
then waits for forever, or be dropped). Each way out is taken once: after the first signal has
decided the outcome (here, or in a study that is stopping on it), later signals change nothing,
so a second Ctrl-C cannot cut short the saving of what is finished. Once the command is done,
signals are blocked, the local workers are stopped and the process leaves without running exit
handlers that a late signal could break.

A signal in the first instants of the interpreter, before this module runs, is Python's own.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import Any, NoReturn

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# The signal that decided the outcome, once one has.
_decided: list[int] = []


def _stop(signum: int, frame: FrameType | None) -> None:
    if _decided:
        return  # decided already: the way out under way is the one to finish
    interrupts: Any = sys.modules.get("hpsearch.execution.interrupts")
    if all(hasattr(interrupts, name) for name in ("stopping", "unsafe_to_raise", "try_again_soon")):
        if interrupts.stopping() is not None:
            return  # a study is stopping on an earlier signal: its way out is the one to finish
        if interrupts.unsafe_to_raise(frame):
            interrupts.try_again_soon(signum)
            return
    elif _in_import(frame):  # the study's signal module not loaded yet: the same, here
        _again_soon(signum)
        return
    _decided.append(signum)
    raise SystemExit(128 + signum)


# Inside an import, never raise, even with one thread: raised in the import machinery's own
# bookkeeping, the stop can leave a module's lock held (a thread started later, the figure
# warm-up, then waits for it forever) or, inside an extension module's set-up, be dropped (the
# command went on to finish the study). The signal comes again once the import is over. These
# two are hpsearch.execution.interrupts' in_import and try_again_soon, for the instants before
# that module is loaded.
_due: list[int] = []


def _in_import(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _again_soon(signum: int) -> None:
    if _due or not hasattr(signal, "setitimer"):
        return

    def again(_signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        _due.clear()
        os.kill(os.getpid(), signum)

    _due.append(signum)
    signal.signal(signal.SIGALRM, again)
    signal.setitimer(signal.ITIMER_REAL, 0.02)


def _catch() -> None:
    for sig in _SIGNALS:
        signal.signal(sig, _stop)


if __name__ == "__main__":
    # Under ``python -m hpsearch``, first of all, before any other import: the window in which
    # a signal gets Python's own traceback is then only the interpreter's start and the loading
    # of this module. (The ``hpsearch`` script imports this module: it catches them in entry.)
    _catch()


def _command() -> int:
    try:
        _catch()
        from hpsearch.cli.main import main

        return main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:  # a study's stop that no command caught
        return 130


def _say(text: str) -> None:
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # nobody reads stderr any more
        pass


def _run() -> int:
    try:
        code = _command()
    except SystemExit as exc:  # the first signal, in the instant the command returned
        code = exc.code if isinstance(exc.code, int) else 0
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)  # decided: a late signal changes nothing
    if _decided:  # a signal outside a study (a study says more itself): say why the command ended
        _say(f"hpsearch: interrupted ({signal.Signals(_decided[0]).name})")
    _decided.append(0)
    if "joblib.externals.loky" in sys.modules:
        try:
            from multiprocessing import util

            from hpsearch.execution.pool import shutdown

            shutdown()
            # What exit handlers would do for the pool's semaphores, which an interrupted pool may
            # still hold: unlink them and tell loky's resource tracker, else it warns of a leak.
            util._run_finalizers(0)  # type: ignore[attr-defined]  # private: not in typeshed
        except Exception:  # noqa: BLE001 (the workers die with this process anyway: PR_SET_PDEATHSIG)
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return code


def entry() -> NoReturn:
    """Runs the command line and ends the process with its status (also the ``hpsearch`` script's
    target)."""
    try:
        code = _run()
    except SystemExit as exc:  # the first signal, in the instant before signals were blocked
        code = exc.code if isinstance(exc.code, int) else 0
    os._exit(code)


if __name__ == "__main__":
    entry()
