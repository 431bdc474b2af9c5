"""A study of a conditional space: the same trials on any number of workers and after a resume;
the conditions are part of what the study is."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hpsearch import Study, TrainConfig
from hpsearch.space.dimensions import Categorical, LogUniform, Uniform

QUICK = TrainConfig(epochs=2, hidden=(20, 20), samples=200)
COLUMNS = ["trial", "optimizer", "lr", "momentum", "val_acc", "state"]


def space(values=("momentum",)):
    return {
        "optimizer": Categorical(["sgd", "momentum", "nesterov"]),
        "momentum": Uniform(0.5, 0.95, when={"optimizer": list(values)}),
        "lr": LogUniform(1e-3, 1e-1),
    }


def run(tmp_path, name, n_trials, strategy="bayes", n_jobs=1, **kwargs):
    study = Study(
        name,
        strategy=strategy,
        space=kwargs.pop("space", space()),
        n_trials=n_trials,
        seed=4,
        config=QUICK,
        n_jobs=n_jobs,
        directory=tmp_path,
        progress=False,
        figures=False,
        confirm=0,
        strategy_options={"batch_size": 2, "n_initial_points": 4} if strategy == "bayes" else {},
        **kwargs,
    )
    study.optimize()
    return study, pd.read_csv(tmp_path / name / "ranking.csv")[COLUMNS].sort_values("trial")


@pytest.mark.parametrize("strategy", ["random", "bayes"])
def test_one_worker_two_workers_and_a_resume_give_the_same_trials(tmp_path, strategy):
    study, one = run(tmp_path, "one", 8, strategy)
    _, two = run(tmp_path, "two", 8, strategy, n_jobs=2)
    run(tmp_path, "resumed", 4, strategy)
    _, resumed = run(tmp_path, "resumed", 8, strategy, resume=True)
    pd.testing.assert_frame_equal(one.reset_index(drop=True), two.reset_index(drop=True))
    pd.testing.assert_frame_equal(one.reset_index(drop=True), resumed.reset_index(drop=True))
    # momentum is in a trial's params exactly when its optimizer is Momentum
    for trial in study.trials:
        assert ("momentum" in trial.params) == (trial.params["optimizer"] == "momentum")
    assert one["momentum"].isna().any() and one["momentum"].notna().any()


def test_the_conditions_are_stored_and_a_resume_with_others_is_refused(tmp_path, snapshot):
    run(tmp_path, "s", 2, "random")
    stored = json.loads((tmp_path / "s" / "study.json").read_text())
    assert stored["space"]["momentum"]["when"] == {"parent": "optimizer", "values": ["momentum"]}
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match="momentum") as caught:
        run(tmp_path, "s", 4, "random", space=space(("momentum", "nesterov")), resume=True)
    assert "\n" not in str(caught.value)
    assert snapshot(tmp_path) == before


def test_a_comparison_by_a_conditional_setting_leaves_the_trials_without_it_out():
    from hpsearch.records import TrialResult, TrialState
    from hpsearch.study.confirm import best_per_value

    def trial(number, acc, **params):
        return TrialResult(number, params, TrialState.COMPLETE, val_acc=acc, n_val=100)

    trials = [
        trial(0, 0.9, optimizer="sgd"),
        trial(1, 0.8, optimizer="momentum", momentum=0.5),
        trial(2, 0.7, optimizer="momentum", momentum=0.9),
    ]
    best = best_per_value(trials, "momentum", ["lr", "momentum", "optimizer"], "s")
    assert [t.number for t in best] == [1, 2]
