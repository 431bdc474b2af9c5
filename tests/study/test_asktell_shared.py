"""Several processes (notebooks, machines sharing a folder) ask and tell one study together."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hpsearch import LogUniform, Settings, Study
from hpsearch.exceptions import StudyError

WORKER = """
import sys, time
from hpsearch import LogUniform, Settings, Study

study = Study("shared", space={{"lr": LogUniform(1e-3, 1.0)}},
              config=Settings(epochs=1, samples=100), n_trials=8, resume=True,
              progress=False, figures=False, directory={directory!r})
for _ in range({asks}):
    trial = study.ask()
    print(trial.number, flush=True)
    time.sleep(0.2)                      # the training, while the other process asks
    {end}
"""


def _worker(directory: Path, asks: int, end: str = "study.tell(trial, 0.5)") -> list[str]:
    code = textwrap.dedent(WORKER.format(directory=str(directory), asks=asks, end=end))
    return [sys.executable, "-c", code]


def _told(directory: Path) -> list[int]:
    lines = (directory / "shared" / "trials.jsonl").read_text().splitlines()
    return [r["number"] for r in map(json.loads, lines) if r.get("state")]


def test_two_processes_asking_at_once_get_distinct_trials_and_both_are_kept(tmp_path):
    procs = [subprocess.Popen(_worker(tmp_path, 3), stdout=subprocess.PIPE, text=True,
                              stderr=subprocess.PIPE) for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    asked = [int(n) for out, _ in outs for n in out.split()]
    assert sorted(asked) == list(range(6)), asked
    assert sorted(_told(tmp_path)) == list(range(6))
    assert all("written twice" not in err for _, err in outs)


def test_a_trial_held_by_a_process_that_died_is_asked_again(tmp_path):
    died = subprocess.run(
        _worker(tmp_path, 1, end="import os; os._exit(0)"), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert died.stdout.split() == ["0"], died.stderr
    again = subprocess.run(_worker(tmp_path, 1), capture_output=True, text=True, timeout=300)
    assert again.stdout.split() == ["0"], again.stderr


def test_a_trial_asked_by_another_study_is_refused(tmp_path):
    options = dict(space={"lr": LogUniform(1e-3, 1.0)}, config=Settings(epochs=1, samples=100),
                   n_trials=4, progress=False, figures=False, directory=tmp_path)  # fmt: skip
    one, other = Study("one", **options), Study("other", **options)
    foreign = other.ask()
    one.ask()
    files = lambda: {f: f.read_bytes() for f in (tmp_path / "one").rglob("*") if f.is_file()}  # noqa: E731
    before = files()
    with pytest.raises(StudyError, match="not asked by this study object"):
        one.tell(foreign, 0.9)
    assert files() == before


def test_fixed_values_in_a_told_trial_stay_settings_not_params(tmp_path):
    study = Study("fixed", space={"lr": LogUniform(1e-3, 1.0)}, n_trials=2, progress=False,
                  figures=False, config=Settings(epochs=1, samples=100, fixed={"hidden": 30}),
                  directory=tmp_path)  # fmt: skip
    trial = study.ask()
    assert trial.params["hidden"] == 30
    record = study.tell(trial, 0.5)
    assert set(record.params) == {"lr"}
    # the study's best configuration holds the fixed values the reader gave, not the network's
    assert study.best_config == Settings(epochs=1, samples=100, fixed={"hidden": 30})
