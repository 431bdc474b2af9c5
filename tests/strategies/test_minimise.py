"""A minimised metric is sought downhill: the Gaussian process learns from its negation.

The strategies learn "higher is better"; a study that ranks by ``val_loss``, minimised, must have
its losses turned around before they reach the model, or Bayesian search climbs to the worst
loss there is. The bowl here is deterministic and its floor far from the edges, so a search that
seeks it and one that flees it end in different places whatever the seed.
"""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch import Study, Uniform
from hpsearch.records import Goal, TrialResult, TrialState
from hpsearch.space.search_space import SearchSpace
from hpsearch.strategies.bayes import BayesStrategy

FLOOR = 0.3  # where the loss is lowest, inside (0, 1)
INITIAL = 8  # random proposals before the model guides the search
TRIALS = 24
# The loss 0.316 away from the floor. Expected improvement, once it has found the floor, still
# spends trials on what it has not seen; but most of its guided trials stay within that
# distance of the floor, where a search that sought the worst loss goes to x = 1 (0.49).
NEAR = 0.1


def bowl(x: float) -> float:
    return (x - FLOOR) ** 2


def _search(seed: int, goal: Goal, sign: float = 1.0) -> tuple[list[dict], list[float]]:
    """The params and losses of a Bayesian search of ``sign * bowl`` by ``goal``, in trial
    order (the value is told as ``goal``'s metric)."""
    strategy = BayesStrategy(
        SearchSpace({"x": Uniform(0.0, 1.0)}),
        seed,
        TRIALS,
        batch_size=4,
        n_initial_points=INITIAL,
        n_candidates=300,
    )
    strategy.goal = goal
    params: list[dict] = []
    for start in range(0, TRIALS, 4):
        numbers = list(range(start, start + 4))
        asked = strategy.ask(numbers)
        strategy.tell(
            [
                TrialResult(n, p, TrialState.COMPLETE, metrics={goal.metric: sign * bowl(p["x"])})
                for n, p in zip(numbers, asked, strict=True)
            ]
        )
        params += asked
    return params, [bowl(p["x"]) for p in params]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bayes_on_a_minimised_loss_spends_its_guided_trials_near_the_floor(seed):
    _, losses = _search(seed, Goal("val_loss", "minimize"))
    assert np.median(losses[INITIAL:]) < NEAR
    assert min(losses) < 0.05**2  # within 0.05 of the floor


def test_minimising_a_loss_proposes_what_maximising_its_negation_does():
    minimised, _ = _search(4, Goal("val_loss", "minimize"))
    maximised, _ = _search(4, Goal("score", "maximize"), sign=-1.0)
    assert minimised == maximised


def _own_objective(trial):
    return {"val_loss": bowl(trial.params["x"])}


def test_a_study_of_an_own_minimised_metric_searches_near_its_floor_with_bayes(tmp_path):
    study = Study(
        "bowl",
        strategy="bayes",
        objective=_own_objective,
        metric="val_loss",
        direction="minimize",
        space={"x": Uniform(0.0, 1.0)},
        n_trials=TRIALS,
        seed=5,
        strategy_options={"n_initial_points": INITIAL, "n_candidates": 300},
        directory=tmp_path,
        progress=False,
        figures=False,
        confirm=0,
    )
    study.optimize()
    losses = [t.metrics["val_loss"] for t in sorted(study.trials, key=lambda t: t.number)]
    assert len(losses) == TRIALS
    assert np.median(losses[INITIAL:]) < NEAR
    assert study.best_trial is not None
    assert abs(study.best_trial.params["x"] - FLOOR) < 0.05
