"""Random search: per-trial streams, log-uniform draws."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpsearch.space.dimensions import LogUniform
from hpsearch.space.search_space import SearchSpace, default_space
from hpsearch.strategies import make_strategy


def test_params_of_trial_k_depend_only_on_seed_and_k():
    a = make_strategy("random", default_space(), 5, 100)
    b = make_strategy("random", default_space(), 5, 100)
    ten = a.ask(list(range(10)))
    assert b.ask([5]) == [ten[5]]
    assert b.ask([7, 3]) == [ten[7], ten[3]]
    # Telling results does not change what later numbers get.
    assert a.ask([9]) == [ten[9]]


def test_params_do_not_depend_on_n_trials():
    a = make_strategy("random", default_space(), 5, 10).ask(list(range(10)))
    b = make_strategy("random", default_space(), 5, 100).ask(list(range(10)))
    assert a == b


def test_different_seeds_or_numbers_give_different_params():
    a = make_strategy("random", default_space(), 1, 10).ask(list(range(10)))
    b = make_strategy("random", default_space(), 2, 10).ask(list(range(10)))
    assert a != b
    assert len({p["lr"] for p in a}) == 10


def test_draws_are_log_uniform():
    space = SearchSpace({"lr": LogUniform(1e-6, 1e-2)})
    n = 4000
    draws = make_strategy("random", space, 0, n).ask(list(range(n)))
    logs = np.array([math.log10(p["lr"]) for p in draws])
    assert np.all((logs >= -6) & (logs <= -2))
    # Uniform on [-6, -2]: mean -4 (standard error 1.155 / sqrt(n) ~ 0.018).
    assert abs(logs.mean() + 4) < 0.1
    # Each decade holds a quarter of the draws (standard error ~ 0.007).
    counts = np.histogram(logs, bins=[-6, -5, -4, -3, -2])[0] / n
    assert counts == pytest.approx([0.25] * 4, abs=0.04)
    # A linear-uniform draw would put nearly all values in the top decade.
    assert np.median([p["lr"] for p in draws]) < 1e-3
    from scipy import stats

    assert stats.kstest(logs, stats.uniform(loc=-6, scale=4).cdf).pvalue > 1e-3
