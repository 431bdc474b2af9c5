"""Conditional parameters: searched only where a categorical parameter takes given values."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.records import TrialResult, TrialState
from hpsearch.space.conditions import Condition
from hpsearch.space.dimensions import Categorical, Dimension, LogUniform, Uniform
from hpsearch.space.search_space import SearchSpace, parse_dimension
from hpsearch.strategies.bayes import BayesStrategy
from hpsearch.strategies.grid import GridStrategy
from hpsearch.strategies.random import RandomStrategy


def rmsprop_adagrad(extra: dict[str, Dimension] | None = None) -> SearchSpace:
    return SearchSpace(
        {
            "optimizer": parse_dimension("choice:rmsprop,adagrad"),
            "decay_rate": parse_dimension("float:0.9:0.999 if optimizer=rmsprop"),
            **(extra or {}),
        }
    )


def test_the_command_line_form_reads_one_value_or_several():
    one = parse_dimension("float:0.9:0.999 if optimizer=rmsprop")
    assert one == Uniform(0.9, 0.999, when={"optimizer": "rmsprop"})
    several = parse_dimension("log:1e-4:1e-1   if  optimizer=rmsprop,adam")
    assert several.when == Condition("optimizer", ("rmsprop", "adam"))
    assert parse_dimension(several.spec()) == several
    assert parse_dimension("choice:1,2 if a=true").when == Condition("a", (True,))


def test_python_takes_the_condition_on_the_dimension():
    space = SearchSpace(
        {
            "optimizer": Categorical(["rmsprop", "adagrad"]),
            "decay_rate": Uniform(0.9, 0.999, when={"optimizer": ["rmsprop"]}),
        }
    )
    assert space == rmsprop_adagrad()
    assert SearchSpace.from_json(space.to_json()) == space
    assert "when" not in SearchSpace({"lr": LogUniform(1e-3, 1.0)}).to_json()["lr"]


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("float:0.9:0.999 if opt=rmsprop", "names opt, which is not searched"),
        ("float:0.9:0.999 if optimizer=sgd", "optimizer=sgd, which optimizer cannot take"),
        ("float:0.9:0.999 if lr=0.1", "names lr, a range"),
        ("float:0.9:0.999 if decay=0.5", "leads back to itself"),
    ],
)
def test_a_condition_that_cannot_hold_is_refused_in_one_line(spec, said):
    with pytest.raises(ValueError, match=said) as caught:
        SearchSpace(
            {
                "optimizer": parse_dimension("choice:rmsprop,adagrad"),
                "lr": parse_dimension("log:1e-3:1"),
                "decay": parse_dimension(spec),
            }
        )
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "spec", ["float:0.9:0.999 if", "float:0.9:0.999 if optimizer", "float:1:2 if a="]
)
def test_a_malformed_condition_is_refused(spec):
    with pytest.raises(ValueError):
        parse_dimension(spec)


def test_a_condition_may_hang_on_a_conditional_parameter():
    space = SearchSpace(
        {
            "dropout": parse_dimension("choice:true,false"),
            "kind": parse_dimension("choice:plain,scaled if dropout=true"),
            "scale": parse_dimension("float:1:2 if kind=scaled"),
        }
    )
    assert space.active({"dropout": True, "kind": "scaled", "scale": 1.5}) == {
        "dropout": True,
        "kind": "scaled",
        "scale": 1.5,
    }
    # scale's parent is there, but the parent is itself unsearched: scale goes too
    assert space.active({"dropout": False, "kind": "scaled", "scale": 1.5}) == {"dropout": False}
    seen = {tuple(sorted(space.sample(np.random.default_rng(k)))) for k in range(60)}
    assert seen == {("dropout",), ("dropout", "kind"), ("dropout", "kind", "scale")}


def test_a_grid_runs_each_distinct_active_point_once():
    grid = GridStrategy(rmsprop_adagrad(), seed=0, n_trials=4)
    assert len(grid.points) == 4
    assert [p for p in grid.points if p["optimizer"] == "adagrad"] == [{"optimizer": "adagrad"}]
    assert sorted(p["decay_rate"] for p in grid.points if "decay_rate" in p) == [0.9, 0.9495, 0.999]


def test_random_draws_the_active_parameters_only_and_keeps_a_flat_space_as_it_was():
    space = rmsprop_adagrad({"lr": LogUniform(1e-3, 1.0)})
    points = RandomStrategy(space, seed=3, n_trials=40).ask(range(40))
    for p in points:
        assert ("decay_rate" in p) == (p["optimizer"] == "rmsprop")
        assert 1e-3 <= p["lr"] <= 1.0
    flat = SearchSpace({**space, "decay_rate": Uniform(0.9, 0.999)})
    # a condition takes values out, it moves none: the flat space's draws, less the unsearched
    flat_points = RandomStrategy(flat, seed=3, n_trials=40).ask(range(40))
    assert points == [space.active(p) for p in flat_points]
    assert points != flat_points


def test_bayes_proposes_points_with_exactly_their_active_parameters():
    space = rmsprop_adagrad({"lr": LogUniform(1e-3, 1.0)})
    bayes = BayesStrategy(space, seed=1, n_trials=16, n_initial_points=6, n_candidates=300)

    def score(p):
        return (
            0.9 - abs(np.log10(p["lr"]) + 1.5) * 0.1 - (0 if p["optimizer"] == "rmsprop" else 0.1)
        )

    proposed = []
    for first in range(0, 16, 4):
        numbers = list(range(first, first + 4))
        asked = bayes.ask(numbers)
        proposed += asked
        bayes.tell(
            [
                TrialResult(n, p, TrialState.COMPLETE, val_acc=score(p))
                for n, p in zip(numbers, asked, strict=True)
            ]
        )
    for p in proposed:
        assert ("decay_rate" in p) == (p["optimizer"] == "rmsprop")
    # The model's candidates: an AdaGrad one has its decay rate's column (the first, by name)
    # where every AdaGrad trial is encoded, never a random value along a dimension it lacks.
    cube = bayes._cube
    Z = cube.sample(np.random.default_rng(0), 200)
    adagrad = np.array([cube.to_params(z)["optimizer"] == "adagrad" for z in Z])
    told = cube.encode([p for p in proposed if p["optimizer"] == "adagrad"])
    assert 0 < adagrad.sum() < len(Z)
    assert np.all(Z[adagrad, 0] == told[0, 0]) and np.all(told[:, 0] == told[0, 0])
    assert len(set(Z[~adagrad, 0])) == (~adagrad).sum()  # RMSProp ones: drawn


@pytest.mark.parametrize(
    ("condition", "said"),
    [("if optimiser=momentum", "names optimiser, which is not searched"),
     ("if optimizer=adam", "optimizer=adam, which optimizer cannot take")],
)  # fmt: skip
def test_the_command_line_refuses_a_condition_that_cannot_hold_writing_nothing(
    tmp_path, condition, said
):
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "hpsearch", "random", "--param", "optimizer=choice:sgd,momentum",
         "--param", f"momentum=float:0.5:0.9 {condition}", "--trials", "2", "--name", "z"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and said in run.stderr
    assert list(tmp_path.iterdir()) == []
