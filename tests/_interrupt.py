"""Run a study command and signal it at a chosen moment: the harness of the signal tests and sweep.

A study runs as ``python -m hpsearch ...`` in its own session, so that a Ctrl-C sent to its
process group reaches it and its workers only, and so that every process it started (workers,
loky's resource tracker) can be found afterwards by its session id, even once orphaned.

The moments are conditions on what the study has written (lines in its logs, words on its
stdout), polled every few milliseconds, plus an optional delay: never a guess at how long
Python takes to start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

# Acceptance deadlines (seconds), not performance measurements: exit this soon after a signal,
# and leave no process behind this long after exiting.
EXIT_DEADLINE = 5.0
LINGER_DEADLINE = 5.0
HANG = 180.0  # a guard against a hang only
LOGS = ("trials.jsonl", "asked.jsonl", "rungs.jsonl", "repeats.jsonl")
# What must never reach a person's terminal: a traceback, or one Python printed while exiting.
NOISE = ("Traceback", "Exception ignored", "KeyboardInterrupt", "Error in atexit")
# How every line a study writes on stderr begins (with --quiet: no progress bar).
OWN_WORDS = ("hpsearch: ", "interrupted (", "resume with: ", "note: ", "the grid holds")


def lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def interrupt_when(
    command: list[str], log: Path, at_least: int, timeout: float = 60.0, tries: int = 5
) -> bytes:
    """Starts ``command``, sends SIGINT once ``log`` has ``at_least`` lines; returns its stderr.

    The command must stop with exit status 130. A run that finished before the signal landed
    (on a busy machine this process may look at the log too late) is not a failure of the
    study: its folder, ``log``'s, is removed and the command tried again, up to ``tries``
    times; the test fails only if every run finished first (then its trials are too short to
    interrupt).
    """
    for _ in range(tries):
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout
            while lines(log) < at_least and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=timeout)
        finally:
            kill_session(proc.pid)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            assert proc.returncode == 130, err.decode()
            return err
        # Finished first: the moment was missed, which is not the study's fault.
        shutil.rmtree(log.parent, ignore_errors=True)
    pytest.fail(f"the study finished before it was interrupted, {tries} times: make trials longer")


# ----------------------------------------------------------------------------- processes
def session_processes(sid: int) -> list[psutil.Process]:
    """The live (not zombie) processes of session ``sid``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == sid and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
    return found


def describe(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            out.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.Error:
            out.append(f"{p.pid} (gone)")
    return out


def is_worker(proc: psutil.Process) -> bool:
    """Whether ``proc`` is a local worker process: started loky's way (its command line says
    so), or forked by the fork server (whose command line it shares, as a child of the server's);
    not a resource tracker, nor the fork server itself."""
    try:
        if "LokyProcess" in " ".join(proc.cmdline()):
            return True
        parent = proc.parent()
        return parent is not None and all(
            "multiprocessing.forkserver" in " ".join(p.cmdline()) for p in (proc, parent)
        )
    except psutil.Error:
        return False


def workers(sid: int) -> list[psutil.Process]:
    """The local worker processes of session ``sid`` (not its resource trackers)."""
    return [proc for proc in session_processes(sid) if is_worker(proc)]


def kill_session(sid: int) -> None:
    """SIGKILL to every process left in session ``sid`` (a test's clean-up)."""
    for proc in session_processes(sid):
        try:
            proc.kill()
        except psutil.Error:
            pass


def lingering(sid: int, deadline: float = LINGER_DEADLINE) -> list[str]:
    """The processes of session ``sid`` still alive ``deadline`` seconds from now (or none,
    sooner)."""
    end = time.monotonic() + deadline
    while True:
        alive = session_processes(sid)
        if not alive or time.monotonic() >= end:
            return describe(alive)
        time.sleep(0.05)


# ----------------------------------------------------------------------------- a signalled run
@dataclass
class Run:
    """A study command running in its own session, its output gathered as it comes."""

    command: list[str]
    cwd: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen = field(init=False)
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    sent: list[tuple[float, int]] = field(default_factory=list)
    started: float = 0.0
    ended: float | None = None

    def __post_init__(self) -> None:
        self.started = time.monotonic()
        # faulthandler in every process of the run: a hang's Python stacks (see wait) are then
        # one SIGABRT away.
        env = {**(os.environ if self.env is None else self.env), "PYTHONFAULTHANDLER": "1"}
        self.proc = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._readers = [
            threading.Thread(target=self._read, args=(stream, sink), daemon=True)
            for stream, sink in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    @property
    def sid(self) -> int:
        return self.proc.pid

    def out(self) -> str:
        return "".join(self.stdout)

    def err(self) -> str:
        return "".join(self.stderr)

    def wait_until(self, ready: Callable[[], bool], timeout: float = HANG) -> bool:
        """Polls ``ready`` until it holds (True) or the command has ended first (False)."""
        end = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                return ready()
            if time.monotonic() > end:
                self.abort()
                pytest.fail(f"nothing happened in {timeout:g} s: {self.command}")
            time.sleep(0.005)
        return True

    def send(self, signum: int, group: bool = False) -> None:
        """``signum`` to the study (``group``: to its whole process group, as a terminal's
        Ctrl-C)."""
        if self.proc.poll() is not None:
            return
        self.sent.append((time.monotonic(), signum))
        try:
            if group:
                os.killpg(self.proc.pid, signum)
            else:
                self.proc.send_signal(signum)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float = HANG) -> int:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"hung for {timeout:g} s: {self.command}\n{self.hung()}")
        self.ended = time.monotonic()
        for reader in self._readers:
            reader.join(timeout=LINGER_DEADLINE)
        return self.proc.returncode

    def exit_seconds(self) -> float | None:
        """Seconds from the first signal to the command's exit."""
        return None if not self.sent or self.ended is None else self.ended - self.sent[0][0]

    def hung(self) -> str:
        """What each process of a hung run was doing (its Python stacks, dumped by faulthandler on
        SIGABRT), then the run stopped: for the message of the failure."""
        procs = session_processes(self.sid)
        where = describe(procs)
        for proc in procs:
            try:
                where[procs.index(proc)] += f" ({proc.status()})"
                proc.send_signal(signal.SIGABRT)
            except psutil.Error:
                continue
        time.sleep(2.0)  # the dumps written (a guard, not a wait for an event: they may not come)
        self.abort()
        for reader in self._readers:
            reader.join(timeout=LINGER_DEADLINE)
        return "\n".join(["processes:", *where, "stderr:", self.err()[-20000:]])

    def abort(self) -> None:
        kill_session(self.sid)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


# ----------------------------------------------------------------------------- the study folder
def read_log(path: Path) -> list[dict]:
    """Every record of a JSON Lines log; raises on a line that is not whole JSON."""
    if not path.exists():
        return []
    data = path.read_text()
    assert not data or data.endswith("\n"), f"{path}: the last line is cut"
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def key(name: str, record: dict) -> tuple:
    if name == "repeats.jsonl":
        return record["number"], record["repeat"], record.get("refit", False)
    if name == "rungs.jsonl":
        return record["number"], record["epochs"]
    return (record["number"],)


def intact(folder: Path) -> list[str]:
    """What is wrong with a study folder's logs: a torn or doubled line, a temporary file left."""
    problems = []
    for name in LOGS:
        try:
            records = read_log(folder / name)
        except (AssertionError, ValueError) as exc:
            problems.append(f"{name}: {exc}")
            continue
        keys = [key(name, r) for r in records]
        if len(keys) != len(set(keys)):
            problems.append(f"{name}: a record twice")
    problems += [f"left behind: {p.name}" for p in folder.glob("*.tmp")] if folder.exists() else []
    problems += [f"left behind: {p.name}" for p in folder.glob(".*.tmp")] if folder.exists() else []
    return problems


def outcomes(folder: Path) -> dict[str, dict]:
    """Every log's records by key, without wall times: what a resume must reproduce."""

    def strip(record: dict) -> dict:
        return {k: v for k, v in record.items() if k not in ("seconds", "test_seconds", "finished")}

    return {name: {key(name, r): strip(r) for r in read_log(folder / name)} for name in LOGS}


def noise(text: str) -> list[str]:
    """The lines of a study's stderr that are not its own words: tracebacks, library warnings."""
    return [
        line
        for line in text.splitlines()
        if any(word in line for word in NOISE) or (line.strip() and not line.startswith(OWN_WORDS))
    ]


def hpsearch(*args: str) -> list[str]:
    return [sys.executable, "-m", "hpsearch", *args]


# ----------------------------------------------------------------------------- moments
def handlers_installed(pid: int) -> bool:
    """Whether ``python -m hpsearch`` has started running its own code: it then catches SIGTERM,
    which Python alone does not (bit 15 of the caught-signals mask in /proc)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            caught = next(line for line in fh if line.startswith("SigCgt:")).split()[1]
    except (OSError, StopIteration):
        return False
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def moment(run: Run, folder: Path, name: str, *, confirm_runs: int) -> Callable[[], bool]:
    """The condition that says ``run`` has reached the moment ``name``.

    ``interpreter``: at once (Python itself is starting); ``start-up``: hpsearch's own code
    runs (imports, checks); ``workers``: a worker process is there, maybe still starting;
    ``trials``: two more trials are logged than when it started; ``confirm``: a confirm-stage
    run more is logged; ``reports``: every confirm run is logged, so the reports are being
    written; ``exit``: the command prints what it wrote.
    """
    trials = lines(folder / "trials.jsonl")
    repeats = lines(folder / "repeats.jsonl")
    return {
        "interpreter": lambda: True,
        "start-up": lambda: handlers_installed(run.proc.pid),
        "workers": lambda: bool(workers(run.sid)),
        "trials": lambda: lines(folder / "trials.jsonl") >= trials + 2,
        "confirm": lambda: lines(folder / "repeats.jsonl") >= repeats + 1,
        "reports": lambda: lines(folder / "repeats.jsonl") >= confirm_runs,
        "exit": lambda: any(line.startswith("wrote ") for line in run.stdout),
    }[name]


def signalled(
    command: list[str],
    cwd: Path,
    folder: Path,
    when: str,
    signum: int,
    *,
    confirm_runs: int,
    delay: float = 0.0,
    second: float | None = None,
    group: bool = False,
) -> Run:
    """Runs ``command`` and sends ``signum`` ``delay`` seconds after the moment ``when`` (and
    again ``second`` seconds later); returns the finished run."""
    run = Run(command, cwd)
    reached = moment(run, folder, when, confirm_runs=confirm_runs)
    if run.wait_until(reached):
        time.sleep(delay)
        run.send(signum, group)
        if second is not None:
            time.sleep(second)
            run.send(signum, group)
    run.wait()
    return run


def problems(run: Run, folder: Path, statuses: set[int]) -> list[str]:
    """Everything a signalled run did wrong: its status, a slow exit, noise on stderr, a process
    left behind, a damaged log. Empty when the way out was clean."""
    found = []
    if run.proc.returncode not in statuses:
        found.append(f"exit status {run.proc.returncode}, expected one of {sorted(statuses)}")
    seconds = run.exit_seconds()
    if seconds is not None and seconds > EXIT_DEADLINE:
        found.append(f"exited {seconds:.1f} s after the signal")
    found += [f"stderr: {line}" for line in noise(run.err())[:3]]
    found += [f"still running: {p}" for p in lingering(run.sid)]
    found += intact(folder)
    return found


def same_records(folder: Path, baseline: Path) -> list[str]:
    """Records of ``folder`` that differ from the uninterrupted study's (each must be one of
    them)."""
    mine, theirs = outcomes(folder), outcomes(baseline)
    found = []
    for name, records in mine.items():
        for k, record in records.items():
            if theirs[name].get(k) != record:
                found.append(f"{name} {k}: differs from the uninterrupted study")
    return found
