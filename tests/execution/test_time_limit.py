"""A trial past the study's time limit ends TIMEOUT, whether its function reports epochs (it
stops after one) or hangs (its worker is replaced), and the study goes on."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import pytest

HANGS = """
import time

def objective(trial):
    if trial.number == 1:
        time.sleep(10_000)            # a loop that never ends
    for epoch in range(1, trial.epochs + 1):
        trial.report(epoch, val_acc=0.1 * epoch)
        if trial.number == 2:
            time.sleep(0.4)           # slow, but reports each epoch
    return 0.1 * trial.epochs
"""


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_hanging_trial_is_timeout_and_a_slow_one_stops_after_its_epoch(tmp_path, jobs):
    path = tmp_path / "hangs.py"
    path.write_text(textwrap.dedent(HANGS))
    argv = [sys.executable, "-m", "hpsearch", "random", "--objective", f"{path}:objective"]
    argv += ["--param", "lr=log:1e-2:1", "--trials", "4", "--epochs", "8", "--samples", "100"]
    argv += ["--time-limit", "1", "--jobs", str(jobs), "--confirm", "0", "--quiet"]
    argv += ["--out", str(tmp_path / "studies"), "--name", "t"]
    # The guard only stops a hang (the trial sleeps for hours): no speed is asserted.
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    ranking = pd.read_csv(tmp_path / "studies" / "t" / "ranking.csv").set_index("trial")
    assert ranking.loc[1, "state"] == "TIMEOUT" and "time limit" in ranking.loc[1, "error"]
    assert ranking.loc[2, "state"] == "TIMEOUT"
    assert 1 <= ranking.loc[2, "epochs"] < 8  # the epochs it reported are kept
    assert (ranking.loc[[0, 3], "state"] == "COMPLETE").all()
