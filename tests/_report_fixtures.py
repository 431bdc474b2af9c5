"""Synthetic trials for the report, plot and html tests: the score is a known function of the
params."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from hpsearch.records import RepeatResult, TrialResult, TrialState
from hpsearch.space.dimensions import Categorical, IntUniform, LogUniform, Uniform
from hpsearch.space.search_space import SearchSpace, default_space


def score_at_edge(params: dict) -> float:
    """Best at lr's upper bound 1e-2, as in the seed experiment; weight decay does not matter."""
    return 0.1 + 0.85 * (math.log10(params["lr"]) + 6) / 4


def score_inside(params: dict) -> float:
    """Best at lr = 1e-4 and weight decay = 1e-6, the middle of both log ranges."""
    u = math.log10(params["lr"]) + 4
    v = math.log10(params["weight_decay"]) + 6
    return 0.95 * math.exp(-(u * u + v * v) / 2)


def make_trials(
    n: int = 40,
    space: SearchSpace | None = None,
    score: Callable[[dict], float] = score_at_edge,
    failed: tuple[int, ...] = (),
    epochs: int = 4,
    seed: int = 0,
    n_val: int | None = None,
) -> list[TrialResult]:
    """``n`` trials drawn from ``space``; those numbered in ``failed`` are DIVERGED without a score.

    ``n_val`` is the validation size each trial records (None: a log from before it was recorded).
    """
    space = space if space is not None else default_space()
    rng = np.random.default_rng(seed)
    trials = []
    for number in range(n):
        params = space.sample(rng)
        if number in failed:
            trials.append(
                TrialResult(
                    number,
                    params,
                    TrialState.DIVERGED,
                    epochs=1,
                    train_curve=(0.1,),
                    val_curve=(0.1,),
                    loss_curve=(None,),
                    seconds=0.1,
                    error="loss became nan at epoch 2",
                    n_val=n_val,
                )
            )
            continue
        final = float(np.clip(score(params), 0.0, 1.0))
        val = tuple(final * (e + 1) / epochs for e in range(epochs))
        train = tuple(min(1.0, v + 0.02) for v in val)
        loss = tuple(2.3 * (1 - v) for v in val)
        trials.append(
            TrialResult(
                number,
                params,
                TrialState.COMPLETE,
                val_acc=val[-1],
                best_val_acc=max(val),
                train_acc=train[-1],
                epochs=epochs,
                train_curve=train,
                val_curve=val,
                loss_curve=loss,
                seconds=1.5,
                n_val=n_val,
            )
        )
    return trials


def mixed_space() -> SearchSpace:
    return SearchSpace(
        {
            "lr": LogUniform(1e-4, 1e-1),
            "weight_decay": Uniform(0.0, 1e-3),
            "batch_size": IntUniform(16, 256),
            "activation": Categorical(["relu", "sigmoid", "tanh"]),
        }
    )


def make_repeats(
    scores: dict[int, list[float | None]],
    params: dict[int, dict] | None = None,
    *,
    n_val: int | None = 100,
    n_test: int | None = 2000,
    epochs: int = 10,
    gap: float = 0.05,
) -> list[RepeatResult]:
    """Confirm-stage runs: ``scores[number]`` lists each repeat's final validation accuracy (None:
    the run FAILED). Test accuracy is validation minus ``gap`` (none without ``n_test``), train plus
    0.03; the test curve climbs linearly to its final value over ``epochs``."""
    runs = []
    for number, values in scores.items():
        p = (params or {}).get(number, {"lr": 0.01 * (number + 1), "weight_decay": 1e-6})
        for repeat, val in enumerate(values):
            if val is None:
                runs.append(
                    RepeatResult(
                        number,
                        repeat,
                        p,
                        TrialState.FAILED,
                        error="boom",
                        seconds=1.0,
                        n_val=n_val,
                        n_test=n_test,
                    )
                )
                continue
            test = val - gap if n_test else None
            curve = (
                tuple(test * (e + 1) / epochs for e in range(epochs)) if test is not None else ()
            )
            runs.append(
                RepeatResult(
                    number,
                    repeat,
                    p,
                    TrialState.COMPLETE,
                    train_acc=min(1.0, val + 0.03),
                    val_acc=val,
                    test_acc=test,
                    best_test_acc=test,
                    epochs=epochs,
                    train_curve=tuple(
                        min(1.0, val + 0.03) * (e + 1) / epochs for e in range(epochs)
                    ),
                    val_curve=tuple(val * (e + 1) / epochs for e in range(epochs)),
                    test_curve=curve,
                    seconds=2.0 + repeat,
                    n_val=n_val,
                    n_test=n_test,
                )
            )
    return runs


def definition(**changes):
    """A whole study definition (``study.json``) for the page, with ``changes``."""
    from hpsearch.storage.definition import Definition

    fields = dict(
        name="demo-study",
        strategy={"name": "random"},
        space={},
        seed=0,
        config={},
        objective=None,
        goal={"metric": "val_acc", "direction": "maximize"},
        pruning={"kind": "none", "min_epochs": 5, "eta": 3},
        n_trials=1,
        lag=0,
        confirm=5,
        repeats=3,
        refit=False,
        test_curves=False,
        hpsearch_version="0.1.0",
    )
    return Definition(**{**fields, **changes})
