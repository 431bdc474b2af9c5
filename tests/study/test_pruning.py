"""Pruning: the schedule's arithmetic, exact continuation, and worker-count independence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from _interrupt import interrupt_when

from hpsearch import Study, TrainConfig, TrialState
from hpsearch.builtin.objective import train_rung, train_trial
from hpsearch.records import TrialResult
from hpsearch.study.pruning import Pruning, rungs_for, survivors

TINY = TrainConfig(epochs=9, hidden=(20, 20), samples=200)


def test_rungs_are_geometric_and_end_at_the_full_epochs() -> None:
    assert rungs_for(50, 5, 3) == [round(50 / 9), round(50 / 3), 50]
    assert rungs_for(9, 1, 3) == [1, 3, 9]
    assert rungs_for(10, 10, 3) == [10]


def test_halving_brackets_cover_every_trial_once() -> None:
    brackets = Pruning("halving", 1, 3).brackets(10, 9, bracket_size=4)
    numbers = [n for b in brackets for n in b.numbers]
    assert numbers == list(range(10))
    assert [len(b.numbers) for b in brackets] == [4, 4, 2]


def test_hyperband_brackets_start_at_later_rungs_with_fewer_trials() -> None:
    brackets = Pruning("hyperband", 1, 3).brackets(100, 9)
    numbers = [n for b in brackets for n in b.numbers]
    assert numbers == list(range(100))
    first = brackets[:3]
    # s = 2: ceil(3/3 * 9) = 9 trials from 1 epoch; s = 1: ceil(3/2 * 3) = 5 from 3; s = 0: 3 at 9.
    assert [len(b.numbers) for b in first] == [9, 5, 3]
    assert [b.rungs for b in first] == [(1, 3, 9), (3, 9), (9,)]


def _result(number: int, acc: float | None) -> TrialResult:
    state = TrialState.PRUNED if acc is not None else TrialState.DIVERGED
    return TrialResult(number, {}, state, val_acc=acc)


def test_survivors_keep_the_best_third_and_never_a_diverged_trial() -> None:
    at_rung = [
        _result(0, 0.5),
        _result(1, 0.9),
        _result(2, None),
        _result(3, 0.9),
        _result(4, 0.1),
        _result(5, 0.7),
    ]
    assert survivors(at_rung, 6, 3) == [1, 3]  # ties go to the lower number, both kept here
    assert survivors(at_rung, 6, 2) == [1, 3, 5]
    assert survivors([_result(0, None)], 1, 3) == []


def test_bad_pruning_settings_are_refused() -> None:
    # From Python the errors name the Python arguments; the CLI maps them to its flags.
    with pytest.raises(ValueError, match="^prune must be one of"):
        Pruning("sometimes")
    with pytest.raises(ValueError, match="^reduction_factor must be an integer >= 2"):
        Pruning("halving", eta=1)
    with pytest.raises(ValueError, match="^min_epochs must be a positive integer"):
        Pruning("halving", min_epochs=0)


@pytest.mark.parametrize(("epochs", "min_epochs"), [(3, 5), (2, 10), (7, 5)])
def test_pruning_that_could_stop_nothing_is_refused(epochs: int, min_epochs: int) -> None:
    with pytest.raises(ValueError, match=rf"would stop nothing.*epochs={epochs}"):
        Pruning("halving", min_epochs=min_epochs).check(epochs)
    Pruning("halving", min_epochs=min_epochs).check(min_epochs * 3)  # a rung before the last: fine


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_a_continued_trial_equals_one_trained_without_a_stop(optimizer: str) -> None:
    config = TrainConfig(epochs=7, hidden=(30, 30), samples=200, optimizer=optimizer)
    params = {"lr": 0.02, "weight_decay": 1e-4}
    unbroken = train_trial(config, params, 3, 5)
    first, checkpoint = train_rung(config, params, 3, 5, until=2)
    assert first.state is TrialState.PRUNED and first.epochs == 2 and checkpoint is not None
    second, checkpoint = train_rung(config, params, 3, 5, until=5, checkpoint=checkpoint)
    last, none = train_rung(config, params, 3, 5, checkpoint=checkpoint)
    assert none is None and last.state is TrialState.COMPLETE
    assert last.val_curve == unbroken.val_curve
    assert last.train_curve == unbroken.train_curve
    assert last.loss_curve == unbroken.loss_curve
    assert first.val_curve == unbroken.val_curve[:2]
    assert second.val_curve == unbroken.val_curve[:5]


def _study(tmp_path: Path, name: str, prune: str, n_jobs: int, **kw) -> Study:
    return Study(
        name,
        strategy=kw.pop("strategy", "random"),
        n_trials=kw.pop("n_trials", 14),
        n_jobs=n_jobs,
        seed=4,
        config=TINY,
        directory=tmp_path,
        progress=False,
        figures=False,
        prune=prune,
        min_epochs=1,
        reduction_factor=3,
        **kw,
    )


def _scores(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["seconds"])


@pytest.mark.parametrize("prune", ["halving", "hyperband"])
def test_pruned_study_is_the_same_with_one_or_two_workers(tmp_path: Path, prune: str) -> None:
    one = _study(tmp_path, "one", prune, 1).optimize()
    two = _study(tmp_path, "two", prune, 2).optimize()
    pd.testing.assert_frame_equal(_scores(one), _scores(two))
    assert (one["state"] == "PRUNED").any() and (one["state"] == "COMPLETE").any()


def test_pruned_study_trains_fewer_epochs_and_curves_match_unpruned(tmp_path: Path) -> None:
    pruned = _study(tmp_path, "pruned", "halving", 2)
    pruned.optimize()
    full = _study(tmp_path, "full", "none", 2)
    full.optimize()
    trained = sum(t.epochs for t in pruned.trials)
    assert trained < sum(t.epochs for t in full.trials) / 2
    by_number = {t.number: t for t in full.trials}
    for trial in pruned.trials:
        reference = by_number[trial.number]
        assert trial.params == reference.params
        if trial.ok:
            assert trial.val_curve == reference.val_curve[: trial.epochs]
    assert not list((pruned.path / "checkpoints").glob("*.npz"))  # finished trials keep none


def test_bayes_study_with_pruning_completes(tmp_path: Path) -> None:
    study = _study(
        tmp_path,
        "bayes",
        "halving",
        2,
        strategy="bayes",
        n_trials=12,
        strategy_options={"batch_size": 4, "n_initial_points": 4},
    )
    df = study.optimize()
    assert len(df) == 12 and set(df["trial"]) == set(range(12))
    assert set(df["state"]) <= {"COMPLETE", "PRUNED", "DIVERGED"}


def _cli(out: Path, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hpsearch",
        "random",
        "--trials",
        "30",
        "--epochs",
        "9",
        "--samples",
        "300",
        "--hidden",
        "60,60",
        "--prune",
        "halving",
        "--min-epochs",
        "1",
        "--jobs",
        "2",
        "--seed",
        "1",
        "--name",
        name,
        "--out",
        str(out),
        "--quiet",
    ]


def test_interrupted_pruned_study_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    subprocess.run(_cli(tmp_path, "whole"), check=True, capture_output=True)
    err = interrupt_when(_cli(tmp_path, "cut"), tmp_path / "cut" / "rungs.jsonl", at_least=12)
    assert b"resume with:" in err
    again = subprocess.run(_cli(tmp_path, "cut"), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    whole = pd.read_csv(tmp_path / "whole" / "ranking.csv")
    cut = pd.read_csv(tmp_path / "cut" / "ranking.csv")
    pd.testing.assert_frame_equal(_scores(whole), _scores(cut))
    assert os.listdir(tmp_path / "cut" / "checkpoints") == []
