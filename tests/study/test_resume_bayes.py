"""A Bayesian study interrupted mid-batch resumes to exactly the uninterrupted study."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from _interrupt import interrupt_when


def _cli(out: Path, name: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hpsearch",
        "bayes",
        "--trials",
        "12",
        "--bayes-batch",
        "4",
        "--epochs",
        "10",
        "--samples",
        "300",
        "--hidden",
        "50,50",
        "--jobs",
        "2",
        "--seed",
        "3",
        "--name",
        name,
        "--out",
        str(out),
        "--quiet",
        "--no-figures",
        *extra,
    ]


@pytest.mark.parametrize(
    "prune", [[], ["--prune", "halving", "--min-epochs", "2"]], ids=["plain", "halving"]
)
def test_interrupted_bayes_study_resumes_to_the_uninterrupted_one(
    tmp_path: Path, prune: list[str]
) -> None:
    subprocess.run(_cli(tmp_path, "whole", *prune), check=True, capture_output=True)
    log = tmp_path / "cut" / ("rungs.jsonl" if prune else "trials.jsonl")
    interrupt_when(_cli(tmp_path, "cut", *prune), log, at_least=6)
    again = subprocess.run(_cli(tmp_path, "cut", *prune), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    whole = pd.read_csv(tmp_path / "whole" / "ranking.csv").drop(columns=["seconds"])
    cut = pd.read_csv(tmp_path / "cut" / "ranking.csv").drop(columns=["seconds"])
    assert len(cut) == 12 and cut["trial"].is_unique
    pd.testing.assert_frame_equal(whole, cut)
