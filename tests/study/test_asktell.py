"""Ask and tell: the user trains, the study proposes and records, durably across processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpsearch import Study, TrainConfig
from hpsearch.exceptions import ObjectiveError, StudyError
from hpsearch.seeding import TRAIN, seed_for

CONFIG = TrainConfig(epochs=2, samples=200)

# One process's loop: ask and tell ``told`` trials, then ask one more and leave it untold.
LOOP = """
import json, sys
import numpy as np
from hpsearch import Study, TrainConfig
folder, strategy, told = sys.argv[1], sys.argv[2], int(sys.argv[3])
study = Study("loop", strategy=strategy, n_trials=8, seed=4, directory=folder, resume=True,
              config=TrainConfig(epochs=2, samples=200), progress=False, figures=False)
for _ in range(told):
    trial = study.ask()
    noise = float(np.random.rand())  # the user's own unseeded draw
    study.tell(trial, {"val_acc": min(1.0, trial.params["lr"] * 50 + noise / 100)})
left = study.ask()  # asked, never told: the process ends here
print(json.dumps(left.params))
"""


def _loop(folder: Path, strategy: str, told: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", LOOP, str(folder), strategy, str(told)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def _told(folder: Path) -> list[dict]:
    rows = [
        json.loads(line) for line in (folder / "loop" / "trials.jsonl").read_text().splitlines()
    ]
    return [{k: r[k] for k in ("number", "params", "val_acc")} for r in rows]


@pytest.mark.parametrize("strategy", ["grid", "random", "bayes"])
def test_a_second_process_asks_what_an_uninterrupted_loop_would_have(tmp_path, strategy):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    _loop(whole, strategy, 7)
    left = _loop(cut, strategy, 3)  # trials 0-2 told, trial 3 asked and lost
    again = _loop(cut, strategy, 4)  # a new process: trial 3 is asked again, then 4-6
    assert _told(cut) == _told(whole)
    assert [r["number"] for r in _told(cut)] == list(range(7))
    assert _told(whole)[3]["params"] == left
    assert again == json.loads(
        json.dumps(Study.load("loop", whole).journal.params_of(7))
    )  # and the next one asked is the same too


def test_a_told_study_ranks_and_reports_like_any_other(tmp_path):
    study = Study(
        "asked", n_trials=4, directory=tmp_path, config=CONFIG, progress=False, figures=False
    )
    for _ in range(4):
        trial = study.ask()
        assert trial.seed == seed_for(0, trial.number, TRAIN) and trial.data.x_test is None
        assert np.random.get_state()[1][0] == np.random.RandomState(trial.seed).get_state()[1][0]
        for epoch in range(trial.epochs):
            trial.report(epoch, val_acc=0.1 * trial.number + 0.01 * epoch, train_acc=0.5)
        study.tell(trial, 0.1 * trial.number + 0.01)
    ranking = study.ranking()
    assert list(ranking["trial"]) == [3, 2, 1, 0]
    paths = study.write_reports()
    assert pd.read_csv(paths["curves"])["val_acc"].notna().sum() == 4 * CONFIG.epochs
    with pytest.raises(StudyError, match="every one of the study's 4 trials"):
        study.ask()


def test_tell_refuses_what_it_cannot_record(tmp_path):
    study = Study(
        "refused", n_trials=3, directory=tmp_path, config=CONFIG, progress=False, figures=False
    )
    trial = study.ask()
    with pytest.raises(ObjectiveError, match="returned str"):
        study.tell(trial, "good")
    failed = study.tell(trial, RuntimeError("out of memory"))
    assert failed.state.name == "FAILED" and "out of memory" in failed.error
    with pytest.raises(StudyError, match="told already"):
        study.tell(trial, 0.5)


def test_a_study_given_only_the_settings_every_study_has_shows_no_network(tmp_path):
    """Ask and tell of the reader's own loop: Settings, not the network's TrainConfig."""
    from hpsearch import LogUniform, Settings

    def study() -> Study:
        return Study(
            "mine",
            directory=tmp_path,
            n_trials=3,
            space={"lr": LogUniform(1e-3, 1.0)},
            config=Settings(epochs=5, samples=200),
            confirm=0,
            progress=False,
            figures=False,
            resume=True,
        )

    s = study()
    for _ in range(3):
        trial = s.ask()
        assert trial.epochs == 5
        s.tell(trial, {"val_acc": 0.5 + trial.params["lr"] / 10, "train_acc": 0.6})
    paths = s.write_reports()
    page = paths["index"].read_text()
    for word in ("hidden", "activation", "optimizer", "batch_size", "batchnorm", "weight_init"):
        assert f"<th>{word}</th>" not in page, word
    assert "<th>epochs</th>" in page
    assert set(pd.read_csv(paths["ranking"]).columns).isdisjoint({"hidden", "optimizer"})
    # best_config: the settings the reader gave, with nothing of the network's
    assert s.best_config == Settings(epochs=5, samples=200) and s.best_params is not None
    assert (s.ranking()["epochs"] == 5).all()
    with pytest.raises(StudyError, match="no objective to train"):
        s.optimize()
    again = study()  # opened again with the same settings: the same study
    assert len(again.trials) == 3 and again.config is None


def test_trials_told_by_hand_may_be_ranked_by_another_metric(tmp_path):
    from hpsearch import LogUniform, Settings

    study = Study(
        "loss",
        directory=tmp_path,
        n_trials=2,
        space={"lr": LogUniform(1e-3, 1.0)},
        config=Settings(epochs=2, samples=200),
        metric="val_loss",
        direction="minimize",
        progress=False,
        figures=False,
    )
    for loss in (0.9, 0.4):
        study.tell(study.ask(), {"val_loss": loss})
    assert study.best_trial is not None and study.best_trial.metrics["val_loss"] == 0.4
    with pytest.raises(ValueError, match="another metric needs your own objective"):
        Study("net", directory=tmp_path, metric="val_loss", direction="minimize")
