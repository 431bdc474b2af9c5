"""train_trial: pure, seeded, never raising; TrialResult: frozen and JSON round-tripping."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle

import pytest
from threadpoolctl import threadpool_limits

from hpsearch.builtin.config import TrainConfig
from hpsearch.builtin.objective import train_trial
from hpsearch.records import TrialResult, TrialState

PARAMS = {"lr": 0.05, "weight_decay": 1e-5}


def _without_seconds(result: TrialResult) -> dict:
    data = result.to_json()
    data.pop("seconds")
    return data


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # The trials are tiny; more threads only fight the other tests for the cores.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def test_train_trial_is_deterministic_for_params_seed_and_number(tiny_config):
    a = train_trial(tiny_config, PARAMS, 3, 7)
    b = train_trial(tiny_config, PARAMS, 3, 7)
    assert a.state is TrialState.COMPLETE
    assert _without_seconds(a) == _without_seconds(b)


def test_different_trial_numbers_train_differently(tiny_config):
    a = train_trial(tiny_config, PARAMS, 3, 7)
    b = train_trial(tiny_config, PARAMS, 3, 8)
    assert a.params == b.params
    assert a.loss_curve != b.loss_curve


def test_different_seeds_train_differently(tiny_config):
    a = train_trial(tiny_config, PARAMS, 3, 7)
    b = train_trial(tiny_config, PARAMS, 4, 7)
    assert a.loss_curve != b.loss_curve


def test_record_holds_one_curve_entry_per_epoch_and_consistent_scores():
    config = TrainConfig(epochs=4, hidden=(20, 20), samples=200)
    r = train_trial(config, PARAMS, 0, 0)
    assert r.state is TrialState.COMPLETE and r.ok
    assert r.number == 0 and r.params == PARAMS
    assert r.epochs == 4
    assert len(r.train_curve) == len(r.val_curve) == len(r.loss_curve) == 4
    assert r.val_acc == r.val_curve[-1]
    assert r.best_val_acc == max(r.val_curve)
    assert r.train_acc == r.train_curve[-1]
    assert all(0.0 <= v <= 1.0 for v in r.train_curve + r.val_curve)
    assert all(math.isfinite(v) and v > 0 for v in r.loss_curve)
    assert r.seconds > 0
    assert r.error is None


def test_a_huge_learning_rate_diverges_and_is_recorded_not_raised():
    # A deep ReLU net (the seed experiment's 6 x 100) blows up at lr=10 within a few epochs.
    config = TrainConfig(epochs=5, hidden=(100,) * 6, samples=200)
    r = train_trial(config, {"lr": 10.0}, 0, 0)
    assert r.state is TrialState.DIVERGED
    assert not r.ok
    assert r.error and "epoch" in r.error
    # The epoch named in the error is where it happened, and training stopped there.
    epoch = int(r.error.split("epoch")[-1].split()[0].strip(" :,."))
    assert 1 <= epoch <= 5
    assert r.epochs == len(r.val_curve) <= epoch
    assert r.epochs < 5  # stopped early
    json.dumps(r.to_json(), allow_nan=False)


@pytest.mark.parametrize(
    "params,fragment",
    [
        ({"lr": -1.0}, "lr"),
        ({"no_such_setting": 1}, "no_such_setting"),
        ({"activation": "bogus"}, "bogus"),
        ({"optimizer": "nope"}, "nope"),
    ],
)
def test_a_bad_param_gives_failed_with_the_message(tiny_config, params, fragment):
    r = train_trial(tiny_config, params, 0, 3)
    assert r.state is TrialState.FAILED
    assert r.number == 3 and r.params == params
    assert r.error and fragment in r.error
    assert r.val_acc is None


def test_a_time_limit_stops_training_as_timeout():
    config = TrainConfig(epochs=5, hidden=(20, 20), samples=200, time_limit=1e-9)
    r = train_trial(config, PARAMS, 0, 0)
    assert r.state is TrialState.TIMEOUT
    assert r.epochs == 1 == len(r.val_curve)
    assert r.error


@pytest.mark.parametrize("params", [PARAMS, {"lr": 10.0}, {"lr": -1.0}])
def test_trial_result_json_round_trip(params):
    config = TrainConfig(epochs=3, hidden=(100,) * 6, samples=200)
    r = train_trial(config, params, 0, 1)
    text = json.dumps(r.to_json(), allow_nan=False)
    again = TrialResult.from_json(json.loads(text))
    assert again == r
    assert isinstance(again.state, TrialState)
    assert json.loads(text)["state"] == r.state.name


def test_trial_result_is_frozen(tiny_config):
    r = train_trial(tiny_config, PARAMS, 0, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.val_acc = 1.0  # type: ignore[misc]


def test_train_trial_and_its_record_pickle(tiny_config):
    r = pickle.loads(pickle.dumps(train_trial))(tiny_config, PARAMS, 0, 0)
    assert pickle.loads(pickle.dumps(r)) == r
    assert pickle.loads(pickle.dumps(tiny_config)) == tiny_config


def test_a_correct_trainer_learns():
    config = TrainConfig(epochs=15, hidden=(100, 100), samples=500)
    r = train_trial(config, {"lr": 0.1}, 0, 0)
    assert r.state is TrialState.COMPLETE
    # Ten classes: chance is 0.1; a working backprop + SGD gets far above it.
    assert r.val_acc >= 0.6
    assert r.train_curve[-1] > r.train_curve[0]
    assert r.loss_curve[-1] < r.loss_curve[0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epochs": 0},
        {"samples": -1},
        {"val_ratio": 0.0},
        {"val_ratio": 1.5},
        {"hidden": "a,b"},
        {"batch_size": 0},
    ],
)
def test_train_config_refuses_bad_settings(kwargs):
    with pytest.raises(ValueError):
        TrainConfig(**kwargs)


def test_train_config_json_round_trip():
    config = TrainConfig(epochs=4, hidden=(30, 20), samples=300, val_ratio=0.25)
    assert TrainConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
