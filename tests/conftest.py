"""Shared fixtures for the hpsearch tests: tiny training settings and folder snapshots."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from _snapshots import _snapshot

from hpsearch import TrainConfig


@pytest.fixture
def tiny_config() -> TrainConfig:
    """Settings whose trials take a few hundredths of a second."""
    return TrainConfig(epochs=3, hidden=(20, 20), samples=200)


@pytest.fixture
def tiny_flags() -> list[str]:
    """The CLI flags of ``tiny_config``."""
    return ["--epochs", "3", "--hidden", "20,20", "--samples", "200"]


@pytest.fixture
def snapshot():
    """A function: every path under a folder with its mtime, size and (for files) content."""
    return _snapshot


@contextlib.contextmanager
def _held(root: str | os.PathLike[str], name: str) -> Iterator[int]:
    """Another process holds the study's lock (as a running study does); yields its pid."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from hpsearch.storage.folder import StudyStorage\n"
            f"with StudyStorage({str(root)!r}, {name!r}).lock():\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def held_lock():
    """``with held_lock(root, name) as pid:`` a study that another process is running."""
    return _held
