"""Search-space dimensions, their parsing from the CLI, and SearchSpace."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from hpsearch.space.dimensions import Categorical, IntUniform, LogUniform, Uniform
from hpsearch.space.search_space import SearchSpace, default_space, parse_dimension

N_DRAWS = 2000


def _draws(dim, n=N_DRAWS, seed=0):
    rng = np.random.default_rng(seed)
    return [dim.sample(rng) for _ in range(n)]


# ----------------------------------------------------------------------------- sampling
def test_uniform_samples_are_floats_within_bounds():
    values = _draws(Uniform(-0.5, 2.0))
    assert all(type(v) is float for v in values)
    assert all(-0.5 <= v <= 2.0 for v in values)
    # Spread over the range, not stuck at one end.
    assert min(values) < 0.0 and max(values) > 1.5


def test_loguniform_samples_are_positive_floats_within_bounds():
    values = _draws(LogUniform(1e-6, 1e-2))
    assert all(type(v) is float for v in values)
    assert all(1e-6 <= v <= 1e-2 for v in values)


def test_intuniform_samples_are_ints_covering_both_ends():
    values = _draws(IntUniform(3, 6))
    assert all(type(v) is int for v in values)
    assert set(values) == {3, 4, 5, 6}


def test_categorical_samples_come_from_the_choices():
    choices = ["relu", "sigmoid", "tanh"]
    values = _draws(Categorical(choices))
    assert set(values) == set(choices)


def test_sampling_is_reproducible_with_the_same_generator_seed():
    dim = LogUniform(1e-6, 1e-2)
    assert _draws(dim, 50, seed=3) == _draws(dim, 50, seed=3)
    assert _draws(dim, 50, seed=3) != _draws(dim, 50, seed=4)


# ----------------------------------------------------------------------------- grids
@pytest.mark.parametrize("n", [2, 3, 5, 9])
def test_loguniform_grid_is_log_spaced_from_low_to_high(n):
    low, high = 1e-6, 1e-2
    values = LogUniform(low, high).grid(n)
    assert len(values) == n
    assert values == sorted(values)
    assert values[0] == pytest.approx(low, rel=1e-9)
    assert values[-1] == pytest.approx(high, rel=1e-9)
    expected_ratio = (high / low) ** (1 / (n - 1))
    ratios = [b / a for a, b in itertools.pairwise(values)]
    assert ratios == pytest.approx([expected_ratio] * (n - 1), rel=1e-9)


def test_uniform_grid_is_evenly_spaced():
    values = Uniform(0.0, 1.0).grid(5)
    assert values == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


@pytest.mark.parametrize("low,high,n", [(1, 10, 4), (32, 256, 5), (0, 3, 4), (5, 7, 10)])
def test_intuniform_grid_is_distinct_sorted_ints_spanning_the_range(low, high, n):
    values = IntUniform(low, high).grid(n)
    assert all(type(v) is int for v in values)
    assert values == sorted(set(values))
    assert values[0] == low and values[-1] == high
    assert len(values) == min(n, high - low + 1)


def test_categorical_grid_holds_every_choice_once():
    assert sorted(Categorical(["b", "a", "c"]).grid(10)) == ["a", "b", "c"]


@pytest.mark.parametrize(
    "dim,centre",
    [
        (LogUniform(1e-6, 1e-2), 1e-4),  # the geometric centre, not the lower bound 1e-6
        (LogUniform(1e-8, 1e-4), 1e-6),
        (LogUniform(1e-3, 1e-1), 1e-2),
        (Uniform(0.0, 1e-3), 5e-4),
        (IntUniform(16, 256), 136),
        (IntUniform(1, 2), 1),
    ],
)
def test_a_grid_of_one_point_takes_the_centre_of_the_range(dim, centre):
    assert dim.grid(1) == [centre]
    assert dim.grid(0) == [centre]
    # An int range's centre is the lower of its two middle values when their count is even.
    tolerance = 0.5 / (dim.high - dim.low) if isinstance(dim, IntUniform) else 1e-12
    assert dim.position(dim.grid(1)[0]) == pytest.approx(0.5, abs=tolerance)


# ----------------------------------------------------------------------------- behaviour
def test_each_kind_tells_its_scale_and_whether_it_is_numeric():
    kinds = {
        LogUniform(1e-3, 1e-1): "log",
        Uniform(0.0, 1.0): "linear",
        IntUniform(1, 9): "linear",
        Categorical(["a", "b"]): "categorical",
    }
    for dim, scale in kinds.items():
        assert dim.scale == scale
        assert dim.numeric is (scale != "categorical")
        assert dim.is_choice is (scale == "categorical")


def test_position_is_measured_on_the_dimension_scale():
    assert LogUniform(1e-6, 1e-2).position(1e-3) == pytest.approx(0.75)
    assert LogUniform(1e-6, 1e-2).position(1e-6) == pytest.approx(0.0)
    assert Uniform(0.0, 1e-3).position(2.5e-4) == pytest.approx(0.25)
    assert IntUniform(16, 256).position(256) == pytest.approx(1.0)
    with pytest.raises(TypeError, match="no order"):
        Categorical(["a", "b"]).position("a")


def test_limits_pad_the_range_on_its_scale():
    lo, hi = LogUniform(1e-6, 1e-2).limits(0.25)
    assert (lo, hi) == (pytest.approx(1e-7), pytest.approx(1e-1))
    assert Uniform(0.0, 1.0).limits(0.1) == (pytest.approx(-0.1), pytest.approx(1.1))
    assert IntUniform(0, 10).limits() == (0.0, 10.0)
    with pytest.raises(TypeError):
        Categorical(["a"]).limits()


@pytest.mark.parametrize(
    "dim,side,positions,expected",
    [
        # A decade further; the far decade is dropped when none of the best trials used it.
        (LogUniform(1e-6, 1e-2), "upper", [0.9, 0.95], LogUniform(1e-5, 1e-1)),
        (LogUniform(1e-6, 1e-2), "upper", [0.1, 0.95], LogUniform(1e-6, 1e-1)),
        (LogUniform(1e-6, 1e-2), "lower", [0.0, 0.1], LogUniform(1e-7, 1e-3)),
        (LogUniform(1e-3, 1e-2), "lower", [0.0], LogUniform(1e-4, 1e-2)),  # one decade: kept
        # Half the width further on a linear range, never below 0 from a range starting at 0+.
        (Uniform(0.2, 0.4), "upper", [], Uniform(0.2, 0.5)),
        (Uniform(0.2, 0.4), "lower", [], Uniform(0.1, 0.4)),
        (Uniform(0.0, 1e-3), "lower", [], None),
        (Uniform(-1.0, 1.0), "lower", [], Uniform(-2.0, 1.0)),
        (IntUniform(16, 256), "upper", [], IntUniform(16, 376)),
        (IntUniform(16, 256), "lower", [], IntUniform(1, 256)),
        (IntUniform(0, 4), "lower", [], None),
        (Categorical(["a", "b"]), "upper", [], None),
    ],
)
def test_widened_is_the_range_to_try_next(dim, side, positions, expected):
    assert dim.widened(side, positions) == expected


# ----------------------------------------------------------------------------- invalid bounds
@pytest.mark.parametrize(
    "make,rule,values",
    [
        (lambda: LogUniform(0, 1), "low > 0", ["0"]),
        (lambda: LogUniform(-1e-3, 1), "low > 0", ["-0.001"]),
        (lambda: LogUniform(1e-2, 1e-3), "low < high", ["0.01", "0.001"]),
        (lambda: LogUniform(1e-3, 1e-3), "low < high", ["0.001"]),
        (lambda: Uniform(1.0, 0.5), "low < high", ["1.0", "0.5"]),
        (lambda: IntUniform(5, 2), "low < high", ["5", "2"]),
    ],
)
def test_invalid_bounds_raise_a_value_error_naming_rule_and_values(make, rule, values):
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    assert rule in message
    for value in values:
        assert value in message


@pytest.mark.parametrize(
    "make",
    [
        lambda: Uniform(0.0, math.inf),
        lambda: Uniform(math.nan, 1.0),
        lambda: IntUniform(1.5, 3),
        lambda: Categorical([]),
        lambda: Categorical(["a", "a"]),
    ],
)
def test_other_invalid_dimensions_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


# ----------------------------------------------------------------------------- parse_dimension
@pytest.mark.parametrize(
    "spec,expected",
    [
        ("log:1e-5:1e-1", LogUniform(1e-5, 1e-1)),
        ("float:0:1e-4", Uniform(0.0, 1e-4)),
        ("int:32:256", IntUniform(32, 256)),
        ("choice:relu,sigmoid", Categorical(["relu", "sigmoid"])),
    ],
)
def test_parse_dimension_reads_every_kind(spec, expected):
    dim = parse_dimension(spec)
    assert type(dim) is type(expected)
    assert dim == expected


def test_parse_dimension_reads_numeric_choices_as_numbers():
    dim = parse_dimension("choice:32,64")
    assert set(dim.grid(10)) == {32, 64}


@pytest.mark.parametrize(
    "spec",
    [
        "log:0:1",
        "choice:",
        "int:5:2",
        "foo:1:2",
        "log:1",
        "log",
        "",
        "log:a:b",
        "int:1.5:3",
        "log:1:2:3",
    ],
)
def test_parse_dimension_refuses_bad_specs(spec):
    with pytest.raises(ValueError) as info:
        parse_dimension(spec)
    assert str(info.value).strip()


def test_parse_dimension_message_names_the_unknown_kind():
    with pytest.raises(ValueError, match="foo"):
        parse_dimension("foo:1:2")


# ----------------------------------------------------------------------------- SearchSpace
def _mixed_space() -> SearchSpace:
    return SearchSpace(
        {
            "weight_decay": LogUniform(1e-8, 1e-4),
            "lr": LogUniform(1e-6, 1e-2),
            "batch_size": IntUniform(16, 128),
            "activation": Categorical(["relu", "sigmoid"]),
            "val_ratio": Uniform(0.1, 0.3),
        }
    )


def test_search_space_names_are_sorted_whatever_the_insertion_order():
    space = _mixed_space()
    expected = ("activation", "batch_size", "lr", "val_ratio", "weight_decay")
    assert space.names == expected
    assert tuple(space) == expected
    assert tuple(space.sample(np.random.default_rng(0))) == expected


def test_search_space_equality_ignores_insertion_order():
    a = SearchSpace({"lr": LogUniform(1e-6, 1e-2), "weight_decay": LogUniform(1e-8, 1e-4)})
    b = SearchSpace({"weight_decay": LogUniform(1e-8, 1e-4), "lr": LogUniform(1e-6, 1e-2)})
    assert a == b
    assert a != SearchSpace({"lr": LogUniform(1e-6, 1e-1), "weight_decay": LogUniform(1e-8, 1e-4)})


def test_default_space_is_the_seed_experiment():
    space = default_space()
    assert space.names == ("lr", "weight_decay")
    assert space["lr"] == LogUniform(1e-6, 1e-2)
    assert space["weight_decay"] == LogUniform(1e-8, 1e-4)


def test_to_list_from_list_round_trip():
    space = _mixed_space()
    rng = np.random.default_rng(1)
    for _ in range(20):
        params = space.sample(rng)
        values = space.to_list(params)
        assert len(values) == len(space)
        assert space.from_list(values) == params


def test_from_list_turns_numpy_scalars_into_python_values():
    space = _mixed_space()
    params = space.from_list(
        [np.str_("relu"), np.int64(64), np.float64(1e-3), np.float64(0.2), np.float64(1e-6)]
    )
    assert params == {
        "activation": "relu",
        "batch_size": 64,
        "lr": 1e-3,
        "val_ratio": 0.2,
        "weight_decay": 1e-6,
    }
    assert type(params["batch_size"]) is int
    assert type(params["lr"]) is float
    json.dumps(params)


def test_search_space_json_round_trip():
    space = _mixed_space()
    text = json.dumps(space.to_json())
    again = SearchSpace.from_json(json.loads(text))
    assert again == space
    assert again.names == space.names
    for name in space.names:
        assert type(again[name]) is type(space[name])


@pytest.mark.parametrize("dims", [{}, {"1x": LogUniform(1e-3, 1e-1)}, {"lr": (1e-3, 1e-1)}])
def test_search_space_refuses_bad_dimensions(dims):
    with pytest.raises(ValueError):
        SearchSpace(dims)


def test_with_dimensions_replaces_only_the_named_entry():
    space = default_space().with_dimensions({"lr": LogUniform(1e-5, 1e-1)})
    assert space.names == ("lr", "weight_decay")
    assert space["lr"] == LogUniform(1e-5, 1e-1)
    assert space["weight_decay"] == default_space()["weight_decay"]
