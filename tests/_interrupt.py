"""Run a study command and interrupt it once its log holds enough lines (for resume tests)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest


def lines(path: Path) -> int:
    return sum(1 for _ in path.open()) if path.exists() else 0


def interrupt_when(command: list[str], log: Path, at_least: int, timeout: float = 60.0) -> bytes:
    """Starts ``command``, sends SIGINT once ``log`` has ``at_least`` lines; returns its stderr.

    Fails the test unless the command stopped with exit status 130 (it must not have finished
    first: then its trials are too short to interrupt).
    """
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while lines(log) < at_least and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode == 0:
        pytest.fail("the study finished before it could be interrupted; make trials longer")
    assert proc.returncode == 130, err.decode()
    return err
