"""A study never loses a trial: interrupts, a killed worker, a torn log, a second writer.

Each test runs the real command line in a subprocess (its own session, so that a Ctrl-C to its
process group reaches only it and its workers) and compares the outcome with one uninterrupted
run of the same command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from _interrupt import is_worker

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="signals and /proc: Linux"
)

N_TRIALS = 24
NAME = "study"
# Trials of about 0.05 s: long enough to interrupt in the middle (a signal lands after 10 of
# 24), short enough to stay quick.
COMMAND = [
    "random",
    "--trials",
    str(N_TRIALS),
    "--jobs",
    "2",
    "--seed",
    "4",
    "--epochs",
    "10",
    "--samples",
    "500",
    "--hidden",
    "100,100",
    "--name",
    NAME,
    "--quiet",
    "--no-figures",
]
DEADLINE = 180.0  # seconds: only a guard against a hang, never a performance assertion


def start(cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hpsearch", *COMMAND],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def run(cwd: Path) -> subprocess.CompletedProcess:
    # Not subprocess.run(timeout=...): it kills the study alone, then waits with no bound for
    # the pipes that the study's workers still hold open.
    proc = start(cwd)
    try:
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        stop(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def stop(proc: subprocess.Popen) -> None:
    """Ends a study still running after a failed test: its whole session, workers included."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.communicate()


def folder(cwd: Path) -> Path:
    return cwd / "studies" / NAME


def finished_lines(cwd: Path) -> int:
    try:
        return folder(cwd).joinpath("trials.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_for_trials(cwd: Path, proc: subprocess.Popen, n: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while finished_lines(cwd) < n:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(
                f"the study ended (status {proc.returncode}) before {n} trials finished:\n{err}"
            )
        assert time.monotonic() < deadline, "the study hangs"
        time.sleep(0.01)


def workers_of(proc: subprocess.Popen) -> list[psutil.Process]:
    """The local worker processes of the study (not its resource trackers)."""
    return [c for c in psutil.Process(proc.pid).children(recursive=True) if is_worker(c)]


def log_records(cwd: Path) -> list[dict]:
    return [
        json.loads(line) for line in folder(cwd).joinpath("trials.jsonl").read_text().splitlines()
    ]


def by_number(records: list[dict]) -> dict[int, dict]:
    numbers = [r["number"] for r in records]
    assert len(numbers) == len(set(numbers)), f"a trial number twice: {sorted(numbers)}"
    return {r["number"]: r for r in records}


def outcome(record: dict) -> dict:
    """What a trial produced, without its wall time."""
    return {k: v for k, v in record.items() if k not in ("seconds", "finished")}


def ranking_without_seconds(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["seconds"])


def check_complete_and_equal_to(cwd: Path, baseline: Path) -> None:
    records = by_number(log_records(cwd))
    assert sorted(records) == list(range(N_TRIALS))
    expected = by_number(log_records(baseline))
    assert {n: outcome(r) for n, r in records.items()} == {
        n: outcome(r) for n, r in expected.items()
    }
    pd.testing.assert_frame_equal(
        ranking_without_seconds(folder(cwd) / "ranking.csv"),
        ranking_without_seconds(folder(baseline) / "ranking.csv"),
    )


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """The same command, never interrupted."""
    cwd = tmp_path_factory.mktemp("baseline")
    proc = run(cwd)
    assert proc.returncode == 0, proc.stderr
    records = log_records(cwd)
    assert len(records) == N_TRIALS
    assert {r["state"] for r in records} == {"COMPLETE"}
    return cwd


# ----------------------------------------------------------------------------- interrupts
@pytest.mark.parametrize(
    "how,expected_status",
    [("SIGINT", 130), ("SIGTERM", 143), ("Ctrl-C", 130)],
    ids=["sigint", "sigterm", "ctrl-c-to-the-process-group"],
)
def test_an_interrupted_study_keeps_its_trials_and_resumes_to_the_uninterrupted_result(
    tmp_path, baseline, how, expected_status
):
    proc = start(tmp_path)
    try:
        wait_for_trials(tmp_path, proc, 10)
        workers = workers_of(proc)
        seen = finished_lines(tmp_path)
        if how == "Ctrl-C":  # what a terminal does: the signal goes to the whole foreground group
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, getattr(signal, how))
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        stop(proc)
    assert proc.returncode == expected_status, err
    assert "Traceback" not in err
    # It tells how to resume: the same command, with the study's name.
    assert "resume" in err.lower()
    assert "hpsearch" in err and NAME in err
    # Every trial that had finished is in the log, each once, and the study did stop early.
    records = by_number(log_records(tmp_path))
    assert seen <= len(records) < N_TRIALS
    assert all(r["state"] == "COMPLETE" for r in records.values()), (
        "an interrupt is not a trial failure"
    )
    expected = by_number(log_records(baseline))
    assert {n: outcome(r) for n, r in records.items()} == {n: outcome(expected[n]) for n in records}
    # The reports of what finished are written.
    csv = pd.read_csv(folder(tmp_path) / "ranking.csv")
    assert sorted(csv["trial"]) == sorted(records)
    # The workers are ended too.
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, f"workers left running: {[p.pid for p in alive]}"

    again = run(tmp_path)
    assert again.returncode == 0, again.stderr
    check_complete_and_equal_to(tmp_path, baseline)


# ----------------------------------------------------------------------------- a worker dies
def test_a_killed_worker_costs_nothing_its_trial_runs_again_with_the_same_seed(tmp_path, baseline):
    """SIGKILL to a worker in the middle of a trial (what the out-of-memory killer does): the
    trial runs once more with the same seed, so the study ends as an uninterrupted one."""
    proc = start(tmp_path)
    try:
        wait_for_trials(tmp_path, proc, 6)
        workers = workers_of(proc)
        assert workers, "no worker process found"
        victim = workers[0]
        victim.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        stop(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    check_complete_and_equal_to(tmp_path, baseline)


# ----------------------------------------------------------------------------- a torn log
def test_a_torn_last_line_warns_and_the_resumed_study_completes(tmp_path, baseline):
    shutil.copytree(folder(baseline), folder(tmp_path))
    log = folder(tmp_path) / "trials.jsonl"
    data = log.read_bytes()
    start_of_last = data.rstrip(b"\n").rfind(b"\n") + 1
    last = data[start_of_last:]
    log.write_bytes(data[: start_of_last + len(last) // 2])  # a crash in mid-write
    proc = run(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"torn|truncat|warn", proc.stderr, re.IGNORECASE), proc.stderr
    assert "Traceback" not in proc.stderr
    check_complete_and_equal_to(tmp_path, baseline)


# ----------------------------------------------------------------------------- one writer
def test_a_second_process_on_the_same_study_is_refused(tmp_path, baseline):
    first = start(tmp_path)
    try:
        wait_for_trials(tmp_path, first, 1)
        log_before = folder(tmp_path).joinpath("study.json").read_bytes()
        # Held still while the second one tries: a fast first study cannot end before it.
        first.send_signal(signal.SIGSTOP)
        try:
            second = run(tmp_path)
        finally:
            first.send_signal(signal.SIGCONT)
        out, err = first.communicate(timeout=DEADLINE)
    finally:
        stop(first)
    assert second.returncode == 2, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "another process" in lines[0]
    assert "Traceback" not in second.stderr
    assert first.returncode == 0, err
    assert folder(tmp_path).joinpath("study.json").read_bytes() == log_before
    check_complete_and_equal_to(tmp_path, baseline)
