"""One contract every search strategy honours, run over hpsearch.strategies.STRATEGIES."""

from __future__ import annotations

import json

import pytest

from hpsearch.records import TrialResult, TrialState
from hpsearch.space.dimensions import Categorical, IntUniform, LogUniform, Uniform
from hpsearch.space.search_space import SearchSpace
from hpsearch.strategies import STRATEGIES, Strategy, make_strategy

N_TRIALS = 16


def _space() -> SearchSpace:
    return SearchSpace(
        {
            "lr": LogUniform(1e-5, 1e-1),
            "weight_decay": Uniform(0.0, 1e-4),
            "batch_size": IntUniform(16, 128),
            "activation": Categorical(["relu", "sigmoid"]),
        }
    )


_TYPES = {LogUniform: float, Uniform: float, IntUniform: int}


def _check_params(space: SearchSpace, params: list[dict], n: int) -> None:
    assert isinstance(params, list) and len(params) == n
    for p in params:
        assert isinstance(p, dict)
        assert set(p) == set(space.names)
        for name, value in p.items():
            dim = space[name]
            if type(dim) in _TYPES:
                assert type(value) is _TYPES[type(dim)], (name, value, type(value))
                assert dim.low <= value <= dim.high, (name, value)
            else:
                assert value in dim.choices, (name, value)
        json.dumps(p, allow_nan=False)


def _result(number: int, params: dict, kind: int) -> TrialResult:
    """A COMPLETE, FAILED or DIVERGED record, in turn."""
    if kind == 0:
        acc = 0.1 + 0.05 * (number % 7)
        return TrialResult(
            number,
            params,
            TrialState.COMPLETE,
            val_acc=acc,
            best_val_acc=acc,
            train_acc=acc,
            epochs=3,
            train_curve=(acc,) * 3,
            val_curve=(acc,) * 3,
            loss_curve=(2.0,) * 3,
            seconds=0.01,
        )
    if kind == 1:
        return TrialResult(
            number, params, TrialState.FAILED, seconds=0.01, error="ValueError: boom"
        )
    return TrialResult(
        number,
        params,
        TrialState.DIVERGED,
        best_val_acc=0.1,
        train_acc=0.1,
        epochs=1,
        train_curve=(0.1,),
        val_curve=(0.1,),
        loss_curve=(5.0,),
        seconds=0.01,
        error="loss became nan at epoch 2",
    )


def _drive(strategy: Strategy, rounds: int = 3, per_round: int = 4) -> list[dict]:
    """Asks and tells like a study would; returns every proposal."""
    asked: list[dict] = []
    number = 0
    for _ in range(rounds):
        numbers = list(range(number, number + per_round))
        params = strategy.ask(numbers)
        _check_params(strategy.space, params, len(numbers))
        strategy.tell([_result(n, p, n % 3) for n, p in zip(numbers, params, strict=True)])
        asked.extend(params)
        number += per_round
    return asked


@pytest.fixture(params=sorted(STRATEGIES))
def name(request) -> str:
    return request.param


def test_every_strategy_is_a_strategy(name):
    s = make_strategy(name, _space(), 0, N_TRIALS)
    assert isinstance(s, Strategy)
    assert isinstance(s, STRATEGIES[name])


def test_ask_returns_one_dict_per_number_inside_the_space(name):
    s = make_strategy(name, _space(), 0, N_TRIALS)
    for numbers in ([0], [1, 2, 3], [4, 5]):
        _check_params(s.space, s.ask(numbers), len(numbers))


def test_tell_accepts_complete_failed_and_diverged_results_and_asking_goes_on(name):
    s = make_strategy(name, _space(), 0, N_TRIALS)
    asked = _drive(s, rounds=3, per_round=4)  # 12 results: past bayes' random start
    assert len(asked) == 12
    more = s.ask([12, 13, 14, 15])
    _check_params(s.space, more, 4)


def test_tell_with_nothing_is_harmless(name):
    s = make_strategy(name, _space(), 0, N_TRIALS)
    s.tell([])
    _check_params(s.space, s.ask([0, 1]), 2)


def test_same_seed_gives_the_same_asks(name):
    a = _drive(make_strategy(name, _space(), 7, N_TRIALS))
    b = _drive(make_strategy(name, _space(), 7, N_TRIALS))
    assert a == b


def test_settings_are_json_and_name_the_strategy(name):
    s = make_strategy(name, _space(), 0, N_TRIALS)
    settings = s.settings()
    assert json.loads(json.dumps(settings)) == settings
    assert name in json.dumps(settings)


def test_capacity_if_any_covers_what_asks_reach(name):
    s = make_strategy(name, _space(), 0, N_TRIALS)
    cap = s.capacity
    assert cap is None or (isinstance(cap, int) and cap >= 1)
    n = min(cap or N_TRIALS, N_TRIALS)
    _check_params(s.space, s.ask(list(range(n))), n)


def test_make_strategy_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="sobol"):
        make_strategy("sobol", _space(), 0, N_TRIALS)
