"""The cheap Gaussian-process strategy: determinism, valid values, failures, batches, learning."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hpsearch.records import TrialResult, TrialState
from hpsearch.space.dimensions import Categorical, IntUniform, LogUniform, Uniform
from hpsearch.space.search_space import SearchSpace, default_space
from hpsearch.strategies import bayes
from hpsearch.strategies.base import FAILURE_SCORE
from hpsearch.strategies.bayes import BayesStrategy, fit_sizes
from hpsearch.strategies.model_points import model_subset
from hpsearch.strategies.posterior import Posterior

MIXED = SearchSpace(
    {
        "lr": LogUniform(1e-6, 1e-2),
        "weight_decay": Uniform(0.0, 0.5),
        "batch_size": IntUniform(16, 128),
        "optimizer": Categorical(["sgd", "adam"]),
        "activation": Categorical(["relu", "sigmoid", "tanh"]),
    }
)

# Small settings keep the tests fast; the algorithm is the same.
FAST = {"n_candidates": 300, "refit_growth": 2.0}


def objective(params: dict) -> float:
    """A smooth 'accuracy' peaking at lr = 10**-2.5, weight decay = 10**-6."""
    a, b = math.log10(params["lr"]), math.log10(params["weight_decay"])
    return 0.9 * math.exp(-((a + 2.5) ** 2) / 0.5 - ((b + 6.0) ** 2) / 4.0)


def mixed_objective(params: dict) -> float:
    score = objective({"lr": params["lr"], "weight_decay": 1e-6})
    score *= 1.0 if params["optimizer"] == "adam" else 0.8
    return score * (1 - abs(params["batch_size"] - 64) / 200)


def result(
    number: int, params: dict, score: float | None, state=TrialState.COMPLETE
) -> TrialResult:
    return TrialResult(number, params, state, val_acc=score)


def run(strategy, fn, n_trials: int) -> list[TrialResult]:
    """Drives ``strategy`` as the study does: ask a batch, tell its results in number order."""
    told: list[TrialResult] = []
    step = strategy.batch_size or n_trials
    for start in range(0, n_trials, step):
        numbers = list(range(start, min(start + step, n_trials)))
        batch = [result(n, p, fn(p)) for n, p in zip(numbers, strategy.ask(numbers), strict=True)]
        strategy.tell(batch)
        told.extend(batch)
    return told


def check_valid(space: SearchSpace, params: dict) -> None:
    assert list(params) == list(space.names)
    for name, dim in space.items():
        value = params[name]
        if isinstance(dim, IntUniform):
            assert type(value) is int
        elif isinstance(dim, (Uniform, LogUniform)):
            assert type(value) is float and math.isfinite(value)
        else:
            assert type(value) in (str, int, float, bool)
        assert dim.contains(value), (name, value)
    json.dumps(params)


def test_same_seed_and_tells_give_same_asks():
    a = BayesStrategy(default_space(), seed=3, n_trials=24, **FAST)
    b = BayesStrategy(default_space(), seed=3, n_trials=24, **FAST)
    ta, tb = run(a, objective, 20), run(b, objective, 20)
    assert [t.params for t in ta] == [t.params for t in tb]
    assert a.ask([20, 21, 22, 23]) == b.ask([20, 21, 22, 23])


def test_other_seed_gives_other_asks():
    a = run(BayesStrategy(default_space(), seed=0, n_trials=16, **FAST), objective, 16)
    b = run(BayesStrategy(default_space(), seed=1, n_trials=16, **FAST), objective, 16)
    assert [t.params for t in a] != [t.params for t in b]


def test_resume_proposes_what_the_uninterrupted_study_would():
    live = BayesStrategy(default_space(), seed=5, n_trials=40, **FAST)
    told = run(live, objective, 28)
    resumed = BayesStrategy(default_space(), seed=5, n_trials=40, **FAST)
    resumed.tell(told)  # a resume tells every stored trial at once
    assert resumed.ask([28, 29, 30, 31]) == live.ask([28, 29, 30, 31])


def test_initial_points_are_random_search_draws():
    from hpsearch.strategies.random import RandomStrategy

    bayes = BayesStrategy(default_space(), seed=2, n_trials=10, n_initial_points=4)
    assert bayes.ask([0, 1, 2, 3]) == RandomStrategy(default_space(), 2, 10).ask([0, 1, 2, 3])


def test_the_model_takes_over_by_trial_number_when_asks_run_ahead_of_results():
    # A study proposing batch k+1 while batch k trains has told fewer trials than the batch's
    # first number: random search still covers exactly the numbers below n_initial_points.
    from hpsearch.strategies.random import RandomStrategy

    draws = RandomStrategy(default_space(), 2, 12).ask(list(range(12)))
    strategy = BayesStrategy(default_space(), seed=2, n_trials=12, n_initial_points=6, **FAST)
    assert strategy.ask([0, 1, 2, 3]) == draws[:4]
    assert strategy.ask([4, 5, 6, 7]) == draws[4:8]  # nothing told yet: no model at all
    strategy.tell([result(n, p, objective(p)) for n, p in enumerate(draws[:4])])
    batch = strategy.ask([4, 5, 6, 7])  # 4 told: numbers 4, 5 random, 6, 7 from the model
    assert batch[:2] == draws[4:6] and batch[2] != draws[6] and batch[3] != draws[7]
    ahead = strategy.ask([8, 9, 10, 11])  # asked while 4..7 still train: all from the model
    assert all(p != d for p, d in zip(ahead, draws[8:12], strict=True))


@pytest.mark.parametrize(
    "space",
    [
        default_space(),
        MIXED,
        SearchSpace({"optimizer": Categorical(["sgd", "adam"]), "hidden_units": IntUniform(1, 3)}),
    ],
    ids=["log", "mixed", "discrete"],
)
def test_values_in_bounds_and_plain_python_types(space):
    strategy = BayesStrategy(space, seed=0, n_trials=24, n_initial_points=4, **FAST)
    fn = mixed_objective if space is MIXED else (lambda p: 0.5 + 0.01 * len(json.dumps(p)))
    told = run(strategy, fn, 24)
    for trial in told:
        check_valid(space, trial.params)


def test_failed_trials_are_told_as_finite_penalty():
    strategy = BayesStrategy(default_space(), seed=0, n_trials=20, n_initial_points=4, **FAST)
    params = strategy.ask([0, 1, 2, 3])
    strategy.tell(
        [
            result(0, params[0], None, TrialState.FAILED),
            result(1, params[1], None, TrialState.DIVERGED),
            result(2, params[2], float("nan"), TrialState.DIVERGED),
            result(3, params[3], 0.5),
        ]
    )
    assert np.all(np.isfinite(strategy._y))
    assert sorted(-strategy._y) == [FAILURE_SCORE] * 3 + [0.5]
    for p in strategy.ask([4, 5, 6, 7]):
        check_valid(default_space(), p)


def test_all_trials_failed_still_proposes():
    strategy = BayesStrategy(default_space(), seed=0, n_trials=12, n_initial_points=2, **FAST)
    told = run(strategy, lambda p: None, 8)
    assert all(t.val_acc is None for t in told)
    for p in strategy.ask([8, 9, 10, 11]):
        check_valid(default_space(), p)


@pytest.mark.parametrize("liar", ["cl_min", "cl_mean", "cl_max", "believer"])
def test_batch_points_are_distinct(liar):
    strategy = BayesStrategy(default_space(), seed=1, n_trials=30, batch_size=6, liar=liar, **FAST)
    run(strategy, objective, 18)
    batch = strategy.ask(list(range(18, 24)))
    assert len({json.dumps(p, sort_keys=True) for p in batch}) == 6


def test_small_discrete_space_batches_stay_distinct_while_possible():
    space = SearchSpace(
        {"optimizer": Categorical(["sgd", "adam"]), "hidden_units": IntUniform(1, 3)}
    )
    strategy = BayesStrategy(space, seed=0, n_trials=12, n_initial_points=2, batch_size=4, **FAST)
    run(strategy, lambda p: 0.5 + 0.1 * p["hidden_units"], 4)
    batch = strategy.ask([4, 5, 6, 7])
    assert len({json.dumps(p, sort_keys=True) for p in batch}) == 4


def test_beats_random_search_on_a_smooth_objective():
    # Fixed seeds: deterministic, so not flaky. Over 4 study seeds, the GP's best after 24
    # trials must beat random search's best after 24 in the majority, and on the median.
    from hpsearch.strategies.random import RandomStrategy

    bayes_best, random_best = [], []
    for seed in range(4):
        b = run(
            BayesStrategy(default_space(), seed=seed, n_trials=24, n_initial_points=8, **FAST),
            objective,
            24,
        )
        r = run(RandomStrategy(default_space(), seed, 24), objective, 24)
        bayes_best.append(max(t.val_acc for t in b))
        random_best.append(max(t.val_acc for t in r))
    wins = sum(b > r for b, r in zip(bayes_best, random_best, strict=True))
    assert wins >= 3, (bayes_best, random_best)
    assert np.median(bayes_best) > np.median(random_best)


def test_settings_json_round_trip():
    strategy = BayesStrategy(
        default_space(),
        seed=0,
        n_trials=10,
        batch_size=3,
        acq_func="LCB",
        kappa=2.5,
        liar="believer",
        n_candidates=500,
        refit_growth=1.5,
    )
    settings = json.loads(json.dumps(strategy.settings()))
    assert settings == strategy.settings()
    assert settings["name"] == "bayes"
    options = {k: v for k, v in settings.items() if k != "name"}
    again = BayesStrategy(default_space(), seed=0, n_trials=10, **options)
    assert again.settings() == settings
    assert again.batch_size == 3


def test_works_through_make_strategy_with_stored_settings():
    from hpsearch.strategies import make_strategy

    settings = BayesStrategy(default_space(), 0, 10).settings()
    options = {k: v for k, v in settings.items() if k != "name"}
    assert make_strategy("bayes", default_space(), 0, 10, **options).settings() == settings


@pytest.mark.parametrize(
    "options, message",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"n_initial_points": 0}, "n_initial_points"),
        ({"acq_func": "PI"}, "acq_func"),
        ({"liar": "cl_median"}, "liar"),
        ({"xi": -1.0}, "xi"),
        ({"n_candidates": 2.5}, "n_candidates"),
        ({"refit_growth": 1.0}, "refit_growth"),
        ({"max_model_points": 1}, "max_model_points"),
        ({"max_model_points": 8.0}, "max_model_points"),
    ],
)
def test_invalid_options_say_what_was_expected(options, message):
    with pytest.raises(ValueError, match=message):
        BayesStrategy(default_space(), 0, 10, **options)


def test_fit_sizes_grow_geometrically():
    assert fit_sizes(10, 1.25, 40) == [10, 13, 17, 22, 28, 35]
    assert fit_sizes(2, 1.25, 5) == [2, 3, 4, 5]


def test_ask_nothing():
    assert BayesStrategy(default_space(), 0, 10).ask([]) == []


# ---------------------------------------------------------------------- the bounded model
def covering_radius(X: np.ndarray, rows: np.ndarray) -> float:
    """The farthest any row of ``X`` lies from its nearest row in ``rows``."""
    d = np.sqrt(((X[:, None, :] - X[None, rows, :]) ** 2).sum(axis=2))
    return float(d.min(axis=1).max())


def test_subset_is_everything_up_to_the_cap():
    X = np.random.default_rng(0).random((30, 3))
    assert model_subset(X, X[:, 0], 30).tolist() == list(range(30))
    assert model_subset(X, X[:, 0], 100).tolist() == list(range(30))


def test_subset_holds_the_cap_the_best_and_the_incumbents_neighbours():
    rng = np.random.default_rng(1)
    X, y = rng.random((500, 3)), rng.random(500)
    rows = model_subset(X, y, 64)
    assert len(rows) == 64 and len(set(rows.tolist())) == 64
    assert rows.tolist() == sorted(rows.tolist())
    assert set(np.argsort(y)[:8].tolist()) <= set(rows.tolist())  # the best eighth
    incumbent = int(np.argmin(y))
    nearest = np.argsort(((X - X[incumbent]) ** 2).sum(axis=1))[:17]  # itself and 16 others
    assert set(nearest.tolist()) <= set(rows.tolist())
    assert np.array_equal(model_subset(X.copy(), y.copy(), 64), rows)  # deterministic


def test_subset_covers_the_space_better_than_random_subsets():
    # k-center greedy: the rest is filled farthest-point first, so the kept rows cover every row
    # left out more tightly than any of these random subsets of the same size.
    rng = np.random.default_rng(2)
    X = rng.random((800, 2))
    y = np.zeros(800)  # all tied: the best are the first rows, then their neighbours
    rows = model_subset(X, y, 48)
    ours = covering_radius(X, rows)
    randoms = [covering_radius(X, rng.choice(800, 48, replace=False)) for _ in range(20)]
    assert ours < min(randoms), (ours, min(randoms))


def test_subset_takes_distinct_points_before_duplicates():
    X = np.repeat(
        np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.5, 0.5]]), 10, axis=0
    )
    y = np.arange(50, dtype=float)
    rows = model_subset(X, y, 8)
    assert len(rows) == 8
    assert {tuple(p) for p in X[rows]} == {tuple(p) for p in X}  # each of the 5 distinct points


def test_posterior_with_lies_matches_scikit_learn_gp():
    # The incremental posterior (inverse Cholesky grown one lie at a time, candidates updated
    # by one row) must predict what a GP refitted from scratch on the data plus the lies does.
    from sklearn.gaussian_process import GaussianProcessRegressor
    from skopt.learning.gaussian_process.kernels import ConstantKernel, Matern

    rng = np.random.default_rng(3)
    X, y = rng.random((40, 3)), rng.random(40)
    signal, noise = ConstantKernel(1.7) * Matern(length_scale=[0.3, 0.6, 1.2], nu=2.5), 1e-3
    post = Posterior(signal, noise, X, y, room=3)
    Z = rng.random((500, 3))
    pool = post.project(Z, keep=True)
    lies = [(rng.random(3), float(v)) for v in (y.min(), y.mean(), 5.0)]
    for x, value in lies:
        post.add(x, value, kept=[pool])
    X_all = np.vstack([X] + [x[None, :] for x, _ in lies])
    y_all = np.concatenate([y, [v for _, v in lies]])
    gp = GaussianProcessRegressor(
        signal, alpha=noise + 1e-10, optimizer=None, normalize_y=True
    ).fit(X_all, y_all)
    want_mean, want_std = gp.predict(Z, return_std=True)
    for c in (pool, post.project(Z)):  # updated pool, and projected afresh
        mean, std = post.predictor(c).predict(Z, return_std=True)
        np.testing.assert_allclose(mean, want_mean, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(std, want_std, rtol=1e-5, atol=1e-7)


def watch_model(monkeypatch) -> dict[str, list[int]]:
    """Records how many points every posterior and every kernel fit is given."""
    from skopt.learning import GaussianProcessRegressor

    seen: dict[str, list[int]] = {"posterior": [], "fit": [], "best_kept": []}
    real_post, real_fit = Posterior.__init__, GaussianProcessRegressor.fit

    def post_init(self, signal, noise, X, y, room):
        seen["posterior"].append(len(y))
        real_post(self, signal, noise, X, y, room)

    def fit(self, X, y):
        seen["fit"].append(len(y))
        return real_fit(self, X, y)

    monkeypatch.setattr(Posterior, "__init__", post_init)
    monkeypatch.setattr(GaussianProcessRegressor, "fit", fit)
    return seen


def test_the_model_never_sees_more_than_the_cap(monkeypatch):
    seen = watch_model(monkeypatch)
    strategy = BayesStrategy(
        default_space(), seed=0, n_trials=80, batch_size=8, max_model_points=16, **FAST
    )
    run(strategy, objective, 80)
    assert len(strategy._y) == 80
    assert seen["posterior"] and max(seen["posterior"]) == 16
    assert seen["fit"] and max(seen["fit"]) == 16


def test_the_subset_the_model_sees_holds_the_best_trial(monkeypatch):
    kept = []
    real = model_subset
    monkeypatch.setattr(
        bayes, "model_subset", lambda X, y, cap: kept.append((y, real(X, y, cap))) or kept[-1][1]
    )
    strategy = BayesStrategy(default_space(), seed=4, n_trials=60, max_model_points=12, **FAST)
    run(strategy, objective, 60)
    capped = [(y, rows) for y, rows in kept if len(y) > 12]
    assert capped
    for y, rows in capped:
        assert len(rows) == 12 and int(np.argmin(y)) in rows


def test_beyond_the_cap_proposals_are_deterministic_and_resume_to_the_unbroken_run():
    options = {**FAST, "batch_size": 6, "max_model_points": 16}
    live = BayesStrategy(MIXED, seed=7, n_trials=60, **options)
    told = run(live, mixed_objective, 48)
    twin = BayesStrategy(MIXED, seed=7, n_trials=60, **options)
    assert [t.params for t in run(twin, mixed_objective, 48)] == [t.params for t in told]
    resumed = BayesStrategy(MIXED, seed=7, n_trials=60, **options)
    resumed.tell(told)  # a resume tells every stored trial at once
    cut = BayesStrategy(MIXED, seed=7, n_trials=60, **options)
    cut.tell(told[:35] + told[36:46])  # trial 35 cut by an interruption: told after the others
    cut.ask([46, 47])  # a kernel fitted now on the first 40 told lacks trial 35: it must not stick
    cut.tell([told[35], *told[46:]])
    want = live.ask(list(range(48, 54)))
    assert resumed.ask(list(range(48, 54))) == want
    assert cut.ask(list(range(48, 54))) == want
    for params in want:
        check_valid(MIXED, params)


def test_beyond_the_cap_failed_trials_stay_finite_and_proposals_valid():
    strategy = BayesStrategy(
        MIXED, seed=1, n_trials=40, n_initial_points=4, max_model_points=10, **FAST
    )
    fn = lambda p: None if p["optimizer"] == "sgd" else mixed_objective(p)  # noqa: E731
    for trial in run(strategy, fn, 40):
        check_valid(MIXED, trial.params)
    assert np.all(np.isfinite(strategy._y))
