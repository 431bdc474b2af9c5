"""A Bayesian study interrupted mid-batch resumes to exactly the uninterrupted study."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest


def _cli(out: Path, name: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hpsearch", "bayes", "--trials", "16", "--bayes-batch", "4",
            "--epochs", "20", "--samples", "300", "--hidden", "50,50", "--jobs", "2", "--seed", "3",
            "--name", name, "--out", str(out), "--quiet", *extra]


def _lines(path: Path) -> int:
    return sum(1 for _ in path.open()) if path.exists() else 0


@pytest.mark.parametrize("prune", [[], ["--prune", "halving", "--min-epochs", "2"]], ids=["plain", "halving"])
def test_interrupted_bayes_study_resumes_to_the_uninterrupted_one(tmp_path: Path, prune: list[str]) -> None:
    subprocess.run(_cli(tmp_path, "whole", *prune), check=True, capture_output=True)
    proc = subprocess.Popen(_cli(tmp_path, "cut", *prune), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        log = tmp_path / "cut" / ("rungs.jsonl" if prune else "trials.jsonl")
        deadline = time.monotonic() + 60
        while _lines(log) < 6 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode == 0:
        pytest.fail("the study finished before it could be interrupted; make trials longer")
    assert proc.returncode == 130, err.decode()
    again = subprocess.run(_cli(tmp_path, "cut", *prune), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    whole = pd.read_csv(tmp_path / "whole" / "ranking.csv").drop(columns=["seconds"])
    cut = pd.read_csv(tmp_path / "cut" / "ranking.csv").drop(columns=["seconds"])
    assert len(cut) == 16 and cut["trial"].is_unique
    pd.testing.assert_frame_equal(whole, cut)
