"""Local workers forked from the fork server (Linux): a reader's script runs once, whatever its
guard; the workers take the study's environment as the pool opens; a study's end ends them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork server: Linux")

# A reader's script as readers write them: no ``if __name__ == "__main__":``, a function of the
# script itself as the objective, global np.random, and a line appended each time its body runs.
SCRIPT = """
import os
import sys

import numpy as np

from hpsearch import Settings, Study, Uniform

with open("body.log", "a") as log:
    log.write(f"{os.getpid()}\\n")


def objective(trial):
    noise = np.random.rand()
    return 0.4 * float(os.environ.get("MARK", "0")) + trial.params["x"] * 0.01 + noise * 1e-6


def study(name):
    s = Study(name, objective=objective, space={"x": Uniform(0.0, 1.0)},
              config=Settings(epochs=1, samples=100), n_trials=4, confirm=0, n_jobs=2,
              backend="loky", progress=False, figures=False, directory="studies")
    s.optimize()
    return sorted(round(t.val_acc / 0.4) for t in s.trials)


first = study("first")
os.environ["MARK"] = "1"
second = study("second")
print(json.dumps({"first": first, "second": second}))
"""


def test_a_script_without_a_main_guard_runs_once_and_its_workers_see_its_environment(tmp_path):
    script = tmp_path / "tune.py"
    script.write_text("import json\n" + textwrap.dedent(SCRIPT))
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert out.returncode == 0, out.stderr
    # The workers never ran the script's body: only the script's own process did, once.
    assert len((tmp_path / "body.log").read_text().split()) == 1
    scores = json.loads(out.stdout.strip().splitlines()[-1])
    # The second study's workers saw the variable set between the two studies, the first's did
    # not: each pool takes the environment of the study's process as it opens.
    assert scores == {"first": [0, 0, 0, 0], "second": [1, 1, 1, 1]}
