"""Shared fixtures for the hpsearch tests: tiny training settings and folder snapshots."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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


# The files that take longest (tens of seconds each, mostly waiting on the processes they
# start), longest first. They are collected first, so that the suite's test processes (it runs
# in three, each taking whole files) start them first and the short files fill the end, instead
# of one process running a long file alone while the others have nothing left.
LONG_FILES = (
    "execution/test_cluster.py",
    "test_docs_examples.py",
    "study/test_resilience.py",
    "execution/test_signals.py",
    "study/test_confirm.py",
    "study/test_resume_bayes.py",
    "cli/test_cli.py",
    "execution/test_objective.py",
    "study/test_pruning.py",
    "execution/test_time_limit.py",
    "storage/test_faults.py",
    "execution/test_cluster_limits.py",
    "study/test_study.py",
    "data/test_download.py",
    "study/test_story_definition.py",
    "test_layout.py",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--without-long-files",
        action="store_true",
        help="leave out the files of LONG_FILES (tests/conftest.py): a quick run of the rest",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    missing = [name for name in LONG_FILES if not (here / name).exists()]
    if missing:
        raise pytest.UsageError(f"tests/conftest.py: LONG_FILES names no file {missing}")
    rank = {(here / name).resolve(): i for i, name in enumerate(LONG_FILES)}
    of = {id(item): rank.get(item.path.resolve(), len(rank)) for item in items}
    if config.getoption("--without-long-files"):
        config.hook.pytest_deselected(items=[item for item in items if of[id(item)] < len(rank)])
        items[:] = [item for item in items if of[id(item)] == len(rank)]
    items.sort(key=lambda item: of[id(item)])
