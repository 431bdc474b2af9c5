"""SIGINT and SIGTERM at every moment of a study, and SIGKILL: out fast and clean, nothing lost.

One study is interrupted again and again in one folder, each run at another moment (start-up,
workers starting, trials, a second signal, the confirm stage, the reports, the exit), each run
resuming the last; every way out must be clean (status, no traceback, no process left, whole
logs), every record must equal the uninterrupted study's, and the last run must complete it
exactly. The slower sweep over every moment, both signals and many delays is
``benchmarks/signal_sweep.py``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from _interrupt import (
    LINGER_DEADLINE,
    Run,
    describe,
    hpsearch,
    intact,
    lines,
    outcomes,
    problems,
    same_records,
    session_processes,
    signalled,
    workers,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="signals and /proc: Linux"
)

NAME = "study"
CONFIRM_RUNS = 4  # --confirm 2 --repeats 2
# Trials of about 0.1 s: long enough to be caught in the middle, short enough to stay quick.
COMMAND = hpsearch(
    "random",
    "--trials",
    "12",
    "--jobs",
    "2",
    "--seed",
    "4",
    "--epochs",
    "20",
    "--samples",
    "500",
    "--hidden",
    "100,100",
    "--confirm",
    "2",
    "--repeats",
    "2",
    "--name",
    NAME,
    "--quiet",
)
INT, TERM = signal.SIGINT, signal.SIGTERM
STOPPED = {INT: {130}, TERM: {143}}
# Runs a moment is tried in before the test gives up on catching it.
ATTEMPTS = 5


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The study, never interrupted."""
    cwd = tmp_path_factory.mktemp("baseline")
    run = Run(COMMAND, cwd)
    assert run.wait() == 0, run.err()
    folder = cwd / "studies" / NAME
    assert lines(folder / "trials.jsonl") == 12 and lines(folder / "repeats.jsonl") == CONFIRM_RUNS
    return folder


# (moment, signal, to the process group as a terminal's Ctrl-C, a second signal after,
#  finished allowed)
CHAIN = [
    ("start-up", INT, False, None, False),
    ("workers", INT, True, None, False),  # a Ctrl-C reaches workers still importing, too
    ("trials", TERM, False, None, False),
    ("trials", INT, True, 0.3, False),  # twice (the sweep tries 0.1 to 0.8 s apart)
    ("confirm", TERM, False, None, False),
    ("reports", INT, True, None, True),
    ("exit", TERM, False, None, True),
]


def test_a_study_stopped_at_every_moment_leaves_cleanly_and_resumes_to_the_uninterrupted_one(
    tmp_path: Path, baseline: Path
) -> None:
    folder = tmp_path / "studies" / NAME
    for when, signum, group, second, finished_ok in CHAIN:
        step = f"{signal.Signals(signum).name} at {when}" + (
            f", again {second:.2f} s later" if second else ""
        )
        delay = 0.3 if when == "start-up" else 0.0  # in the middle of the imports
        for _ in range(ATTEMPTS):
            run = signalled(
                COMMAND,
                tmp_path,
                folder,
                when,
                signum,
                confirm_runs=CONFIRM_RUNS,
                delay=delay,
                second=second,
                group=group,
            )
            if run.sent:
                break
            # A fast run can end before a late moment is seen: it must have ended cleanly, and
            # the moment is tried again (on the finished study, whose command still reaches it).
            assert finished_ok and problems(run, folder, {0}) == [], f"{step}:\n{run.err()}"
        assert run.sent, f"{step}: the study ended before that moment {ATTEMPTS} times"
        statuses = STOPPED[signum] | ({0} if finished_ok else set())
        assert problems(run, folder, statuses) == [], f"{step}:\n{run.err()}"
        assert same_records(folder, baseline) == [], step
        if run.proc.returncode != 0:
            # It said why it ended; once the study had begun, how far it got and how to resume.
            # At start-up the signal may come before the study began (the command says it was
            # interrupted) or, on a fast machine, just after (the study says how to resume).
            # At exit the study is done: a signal before the command's very end says only that
            # the command was interrupted (there is nothing to resume).
            said = ["resume with: python -m hpsearch random"]
            said += ["hpsearch: interrupted"] if when in ("start-up", "exit") else []
            assert any(s in run.err() for s in said), f"{step}:\n{run.err()}"
    last = Run(COMMAND, tmp_path)
    assert last.wait() == 0, last.err()
    assert intact(folder) == []
    assert outcomes(folder) == outcomes(baseline)
    import pandas as pd

    def ranking(f: Path) -> pd.DataFrame:
        return pd.read_csv(f / "ranking.csv", dtype=str, keep_default_na=False).drop(
            columns=["seconds"]
        )

    pd.testing.assert_frame_equal(ranking(folder), ranking(baseline))


# ----------------------------------------------------------------------------- SIGKILL
@pytest.mark.parametrize("when", ["workers-starting", "trials"])
def test_sigkill_of_the_study_takes_its_workers_with_it(tmp_path: Path, when: str) -> None:
    folder = tmp_path / "studies" / NAME
    run = Run(COMMAND, tmp_path)
    try:
        if when == "trials":
            ready = run.wait_until(lambda: lines(folder / "trials.jsonl") >= 2)
        else:  # before a worker has run its set-up, which asks to die with the study
            ready = run.wait_until(lambda: bool(workers(run.sid)))
        assert ready, f"the study ended first:\n{run.err()}"
        started = workers(run.sid)
        assert started, "no worker process found"
        run.proc.kill()
        run.wait()
        killed = time.monotonic()
        gone, alive = psutil.wait_procs(started, timeout=LINGER_DEADLINE)
        assert not alive, f"workers outlived the study: {describe(alive)}"
        assert time.monotonic() - killed <= LINGER_DEADLINE
        left = session_processes(run.sid)
        if left:  # the resource trackers end when the last worker has gone
            _, still = psutil.wait_procs(left, timeout=LINGER_DEADLINE)
            assert not still, f"left behind: {describe(still)}"
    finally:
        run.abort()
    assert intact(folder) == []


# ----------------------------------------------------------------------------- inside an import
PROBE = """
import sys
from hpsearch.__main__ import _stop
_stop(15, sys._getframe())  # as if SIGTERM landed here, inside this module's import
print("imported", flush=True)
"""


@pytest.mark.parametrize("loaded", [False, True], ids=["before-the-study-module", "with-it"])
def test_a_stop_inside_an_import_waits_for_the_import_then_ends_the_command(
    tmp_path: Path, loaded: bool
) -> None:
    """Raised inside an import, the stop can leave a module lock held or be dropped (seen: a
    command that went on to finish its study, and one that hung in the confirm stage); it comes
    once the import is over, with the command's status, even while the command has one thread."""
    (tmp_path / "probe.py").write_text(PROBE)
    code = (
        "import time\n"
        + ("import hpsearch.execution.interrupts\n" if loaded else "")
        + "from hpsearch.__main__ import _catch\n"
        "_catch()\n"
        "try:\n"
        "    import probe\n"
        "    time.sleep(5)\n"  # the stop ends this wait at once: a guard, not a measure
        "    print('not stopped', flush=True)\n"
        "except SystemExit as exc:\n"
        "    print('stopped', exc.code, flush=True)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert out.stdout.split("\n")[:2] == ["imported", "stopped 143"], out.stdout + out.stderr
