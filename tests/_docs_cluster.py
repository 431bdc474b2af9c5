"""The ``run-on-cluster`` mark of ``tests/test_docs_examples.py``: a page's Dask blocks run
against a cluster started on this machine, as the block shows it.

In a marked block, ``SCHEDULER_HOST`` is 127.0.0.1 and ``8786`` a free port picked here. Each
``dask`` line (``dask scheduler``, ``dask worker``) starts in the background, in a process group
of its own, with the mark's options for it appended; a ``dask scheduler`` also gets
``--host 127.0.0.1 --port PORT``, so that nothing listens beyond this machine. A block that
starts a scheduler stops the page's earlier cluster first and takes a new port. After a block, the
test waits for its scheduler to listen, as a reader would before going on; the other lines of the
block run in order in bash, so a block that starts its cluster and uses it at once must wait
itself. Every process is stopped at the end of the page, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
SHOWN_HOST, SHOWN_PORT = "SCHEDULER_HOST", "8786"
DASK = re.compile(r"^\s*dask (?:scheduler|worker)\b")
# Bounds on what takes seconds: only a hang reaches them, however slow the machine.
HANG = 60.0


def append(line: str, options: str) -> str:
    """``line`` with ``options`` appended, before a trailing comment."""
    code, sep, comment = line.partition(" #")
    return f"{code.rstrip()} {options}" + (f"  #{comment}" if sep else "")


# The commands a cluster block's mark may name.
CLUSTER_COMMANDS = r"python -m hpsearch|dask scheduler|dask worker"


def options_by_command(value: str, commands: str = CLUSTER_COMMANDS) -> dict[str, str]:
    """A bash block's mark, ``COMMAND OPTIONS; ...``: the options each command gets (a
    ``COMMAND`` matching the regular expression ``commands``)."""
    out = {}
    for part in value.split(";"):
        command = re.match(rf"\s*({commands})\s+(--.*)$", part)
        if not command:
            raise ValueError(f"not 'COMMAND --OPTIONS': {part!r}")
        out[command[1]] = command[2].strip()
    return out


def joined(code: str) -> list[str]:
    """A bash block's lines, each command's continuation lines joined to it."""
    return re.sub(r"\s*\\\n\s*", " ", code).splitlines()


def study_keywords(value: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """A Python block's mark, ``Study(KEYWORDS)``: the keywords each ``Study(...)`` gets."""
    if not (value.startswith("Study(") and value.endswith(")")):
        raise ValueError(f"not 'Study(KEYWORDS)': {value!r}")
    keywords: dict[str, Any] = eval(f"dict{value[len('Study') :]}", namespace)  # noqa: S307
    return keywords


def steps(code: str, value: str, port: int) -> list[tuple[bool, str]]:
    """What a marked bash block runs, in order: (True, a ``dask`` line to start in the
    background) or (False, the lines between them, for bash), with the mark's options."""
    options = options_by_command(value)
    out: list[tuple[bool, str]] = []
    chunk: list[str] = []
    for line in joined(code):
        background = bool(DASK.match(line))
        if background:  # by the test, with a trailing & or without
            line = re.sub(r"\s*&\s*(#.*)?$", r"  \1", line).rstrip()
        command = next((c for c in options if line.lstrip().startswith(c)), None)
        if command:
            line = append(line, options[command])
        if not background:
            chunk.append(line)
            continue
        if chunk:
            out.append((False, "\n".join(chunk) + "\n"))
            chunk = []
        if line.lstrip().startswith("dask scheduler"):
            line = append(line, f"--host {HOST} --port {port}")
        out.append((True, line))
    if chunk:
        out.append((False, "\n".join(chunk) + "\n"))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class Cluster:
    """The page's Dask processes and the port its ``8786`` stands for."""

    def __init__(self, folder: Path, env: dict[str, str], logs: Path) -> None:
        self.folder, self.env, self.logs = folder, env, logs
        self.port = self.started = 0
        self.processes: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def substitute(self, code: str) -> str:
        """``code`` with the shown scheduler's host and port replaced by this machine's."""
        code = code.replace(SHOWN_HOST, HOST)
        return code.replace(SHOWN_PORT, str(self.port)) if self.port else code

    def run_block(self, code: str, value: str, run_bash: Callable[[str], None]) -> None:
        """Run a marked bash block: its ``dask`` lines in the background, the rest in bash."""
        if re.search(r"^\s*dask scheduler\b", code, flags=re.M):
            self.stop()
            self.port = _free_port()
        for background, script in steps(self.substitute(code), value, self.port):
            if background:
                self.start(script)
            else:
                run_bash(script)
        self.check()
        self.wait_for_scheduler()

    def start(self, line: str) -> None:
        self.started += 1  # the page's count, so that no log overwrites an earlier one
        log = self.logs / f"{self.started}-{line.split()[1]}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {line}"],
                cwd=self.folder,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append((line, process, log))

    def check(self) -> None:
        """Every ``dask`` process of the page still runs (a bad line exits at once)."""
        for line, process, _ in self.processes:
            assert process.poll() is None, f"{line!r} exited ({process.returncode}):{self.output()}"

    def wait_for_scheduler(self) -> None:
        deadline = time.monotonic() + HANG
        while self.port:
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 1):
                return
            self.check()
            assert time.monotonic() < deadline, f"no scheduler on port {self.port}:{self.output()}"
            time.sleep(0.1)

    def output(self) -> str:
        return "".join(f"\n--- {line}\n{log.read_text()}" for line, _, log in self.processes)

    def stop(self) -> None:
        """Stop every process started here, the last started first (workers before their
        scheduler: a worker whose scheduler closes first hangs for 8 s): SIGTERM, on which dask
        closes its workers, then SIGKILL for what is left of its process group."""
        for _, process, _ in reversed(self.processes):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(HANG / 6)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.processes = []


@contextlib.contextmanager
def cluster(folder: Path, env: dict[str, str], logs: Path) -> Iterator[Cluster]:
    """A page's :class:`Cluster`, stopped at the end however the page ended."""
    logs.mkdir(parents=True, exist_ok=True)
    # The workers' scratch folders, with the logs rather than in the system's temporary folder.
    running = Cluster(folder, {**env, "DASK_TEMPORARY_DIRECTORY": str(logs)}, logs)
    try:
        yield running
    finally:
        running.stop()
