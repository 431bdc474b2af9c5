"""A signal's stop is never raised inside an import: raised there, it can leave one of importlib's
module locks held, and a thread that imports that module next (the figure warm-up) then waits for
it forever, and the study with it."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from hpsearch import __main__ as command
from hpsearch.exceptions import StudyInterrupted
from hpsearch.execution import interrupts as study_signals
from hpsearch.execution.interrupts import Interrupts

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "setitimer"), reason="the stop is delivered again by a timer signal"
)

# A module whose import is interrupted half-way: the signal arrives, then the import goes on.
MODULE = """
import os
import os
import signal
import time

os.kill(os.getpid(), signal.{signal})
for _ in range(200):
    time.sleep(0.001)  # the signal's handler runs here, in the middle of the import
FINISHED = True
"""


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, signum: int) -> str:
    (tmp_path / f"{name}.py").write_text(MODULE.format(signal=signal.Signals(signum).name))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def _import(name: str) -> None:
    __import__(name)


def test_a_study_stop_that_lands_inside_an_import_comes_once_the_import_is_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _module(tmp_path, monkeypatch, "interrupted_import_study", signal.SIGINT)
    monkeypatch.setattr(study_signals, "_stopping", [])
    alarm = signal.getsignal(signal.SIGALRM)
    interrupts = Interrupts()
    with pytest.raises(StudyInterrupted), interrupts.handling():
        _import(name)
        time.sleep(10)  # the stop arrives here, delivered again (a bound, not a measure)
    assert sys.modules[name].FINISHED  # the import was not cut short
    assert interrupts.received == signal.SIGINT
    assert signal.getsignal(signal.SIGALRM) == alarm  # the timer's handler is given back


def test_the_command_lets_an_import_finish_when_another_thread_could_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _module(tmp_path, monkeypatch, "interrupted_import_command", signal.SIGTERM)
    monkeypatch.setattr(command, "_decided", [])
    monkeypatch.setattr(study_signals, "_stopping", [])  # no study of this process is stopping
    previous = signal.signal(signal.SIGTERM, command._stop)
    other = threading.Event()
    helper = threading.Thread(target=other.wait)  # a second thread, as a study leaves at exit
    helper.start()
    try:
        with pytest.raises(SystemExit) as stopped:
            _import(name)
            time.sleep(10)
    finally:
        other.set()
        helper.join()
        signal.signal(signal.SIGTERM, previous)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert sys.modules[name].FINISHED


def test_a_study_stop_that_lands_while_workers_start_comes_once_they_have_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Workers starting fork this process, and a fork runs Python's at-fork callbacks, where an
    # exception is printed as "ignored" and dropped (logging's lock release, on 3.10): a signal
    # handled there must not raise the stop, or the stop is lost and the study goes on.
    from hpsearch.execution.pool import _signals_blocked

    monkeypatch.setattr(study_signals, "_stopping", [])
    interrupts = Interrupts()
    dropped: list[BaseException] = []

    def at_fork() -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(200):
                time.sleep(0.001)  # the handler runs here, inside the callback
        except BaseException as exc:  # what Python would print as ignored, and drop
            dropped.append(exc)

    # A thread that does not block the signal, as a study has (the progress bar, the pool's):
    # the kernel hands the signal to it, and the main thread's handler runs at once.
    other = threading.Event()
    helper = threading.Thread(target=other.wait)
    helper.start()
    try:
        with pytest.raises(StudyInterrupted), interrupts.handling():
            with _signals_blocked(processes=False):
                at_fork()
            time.sleep(10)  # the stop arrives here, delivered again (a bound, not a measure)
    finally:
        other.set()
        helper.join()
    assert dropped == []
    assert interrupts.received == signal.SIGINT


PROBE = """
import importlib.abc, runpy, signal, sys

seen = []

class Probe(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith("hpsearch.") and name != "hpsearch.__main__" and not seen:
            seen.append((name, signal.getsignal(signal.SIGINT) is signal.default_int_handler))
            print(seen, flush=True)  # the command ends with os._exit
        return None

sys.meta_path.insert(0, Probe())
sys.argv = ["hpsearch", "--version"]
runpy.run_module("hpsearch", run_name="__main__", alter_sys=True)
"""


def test_python_m_hpsearch_catches_signals_before_importing_anything_of_its_own() -> None:
    """Under ``python -m hpsearch`` a Ctrl-C gets Python's own traceback only until the first
    lines of hpsearch's ``__main__``: its handlers are in before it imports any module of
    hpsearch's (the signal sweep's interpreter moment)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    first = done.stdout.strip().splitlines()[0] if done.stdout.strip() else done.stderr
    assert first.startswith("[('hpsearch."), first
    assert first.endswith("False)]"), f"Python's own SIGINT handler at {first}"
