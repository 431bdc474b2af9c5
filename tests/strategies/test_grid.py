"""Grid search: exact, sorted, log-spaced, sized to the trial budget."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hpsearch.space.dimensions import Categorical, IntUniform, LogUniform
from hpsearch.space.search_space import SearchSpace, default_space
from hpsearch.strategies import GridStrategy, make_strategy


def test_default_space_16_trials_is_4_by_4_log_spaced_points():
    g = make_strategy("grid", default_space(), 0, 16)
    assert g.capacity == 16
    points = g.ask(list(range(16)))
    assert len(points) == 16
    lrs = sorted({p["lr"] for p in points})
    wds = sorted({p["weight_decay"] for p in points})
    # 4 log-spaced points of each default range: 10**-6 .. 10**-2 and 10**-8 .. 10**-4.
    expected_lr = [10.0**e for e in np.linspace(-6, -2, 4)]
    expected_wd = [10.0**e for e in np.linspace(-8, -4, 4)]
    assert lrs == pytest.approx(expected_lr, rel=1e-9)
    assert wds == pytest.approx(expected_wd, rel=1e-9)
    # Every combination exactly once.
    pairs = [(p["lr"], p["weight_decay"]) for p in points]
    assert len(set(pairs)) == 16
    assert set(pairs) == set(itertools.product(lrs, wds))


def test_grid_points_come_in_sorted_order():
    points = make_strategy("grid", default_space(), 0, 16).ask(list(range(16)))
    keys = [(p["lr"], p["weight_decay"]) for p in points]
    assert keys == sorted(keys)


def test_grid_knows_its_length_and_refuses_to_ask_past_it():
    g = make_strategy("grid", default_space(), 0, 16)
    assert g.capacity == 16
    with pytest.raises((IndexError, ValueError)):
        g.ask([16])


def test_grid_ask_depends_on_the_trial_number_only():
    g1 = make_strategy("grid", default_space(), 0, 16)
    g2 = make_strategy("grid", default_space(), 99, 16)
    everything = g1.ask(list(range(16)))
    assert g1.ask([5, 2]) == [everything[5], everything[2]]
    assert g2.ask(list(range(16))) == everything


@pytest.mark.parametrize("n_trials", list(range(1, 50)))
def test_grid_fits_the_trial_budget(n_trials):
    g = make_strategy("grid", default_space(), 0, n_trials)
    side = math.isqrt(n_trials)
    # It fits, and is at least the largest square grid that fits.
    assert side * side <= g.capacity <= n_trials


def test_grid_over_a_categorical_and_a_log_dimension_is_their_product():
    space = SearchSpace(
        {"lr": LogUniform(1e-4, 1e-1), "activation": Categorical(["relu", "sigmoid"])}
    )
    g = make_strategy("grid", space, 0, 8)
    assert g.capacity == 8
    points = g.ask(list(range(8)))
    got = {(p["activation"], p["lr"]) for p in points}
    assert len(got) == 8
    assert {a for a, _ in got} == {"relu", "sigmoid"}
    for activation in ("relu", "sigmoid"):
        lrs = sorted(lr for a, lr in got if a == activation)
        assert lrs == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1], rel=1e-9)


def test_grid_takes_every_value_of_a_small_int_range():
    space = SearchSpace({"batch_size": IntUniform(1, 3), "lr": LogUniform(1e-3, 1e-1)})
    g = make_strategy("grid", space, 0, 9)
    points = g.ask(list(range(g.capacity)))
    assert {p["batch_size"] for p in points} == {1, 2, 3}
    assert len({tuple(sorted(p.items())) for p in points}) == g.capacity == 9


def test_grid_settings_record_its_shape_so_a_resume_can_check_it():
    a = GridStrategy(default_space(), 0, 16).settings()
    b = GridStrategy(default_space(), 0, 25).settings()
    assert a != b


def test_a_grid_over_one_categorical_pins_the_other_ranges_at_their_centres():
    """`grid --trials 5 --param activation=choice:...` leaves lr and weight decay one point each:
    the geometric centre of each log range, not its lower bound, and the grid says so."""
    space = default_space().with_dimensions(
        {"activation": Categorical(["relu", "sigmoid", "tanh"])}
    )
    g = GridStrategy(space, 0, 5)
    assert g.capacity == 3
    points = g.ask(list(range(3)))
    assert [p["activation"] for p in points] == ["relu", "sigmoid", "tanh"]
    assert {p["lr"] for p in points} == {1e-4} and {p["weight_decay"] for p in points} == {1e-6}
    assert g.pinned == {"lr": 1e-4, "weight_decay": 1e-6}


def test_a_grid_that_varies_every_range_pins_nothing():
    assert GridStrategy(default_space(), 0, 16).pinned == {}
    space = SearchSpace({"lr": LogUniform(1e-4, 1e-1), "activation": Categorical(["relu"])})
    g = GridStrategy(space, 0, 4)
    assert g.pinned == {}  # a single choice is a fixed setting, not a range cut to one point
    assert GridStrategy(space, 0, 1).pinned == {"lr": pytest.approx(10**-2.5)}
