"""The interface every search strategy implements."""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any, ClassVar

from hpsearch.records import Goal, TrialResult
from hpsearch.space.search_space import SearchSpace

__all__ = ["Strategy", "score_of", "FAILURE_SCORE"]

# What a DIVERGED, TIMEOUT or FAILED trial scores for a model-based strategy: the worst
# accuracy there is, finite so that it never poisons a Gaussian process with NaN.
FAILURE_SCORE = 0.0


def score_of(trial: TrialResult, goal: Goal | None = None) -> float:
    """The score a strategy learns from, higher is better: the validation accuracy
    (``FAILURE_SCORE`` for failed trials), or another goal's metric, negated when minimised (NaN
    for a failed trial: the strategy gives it the worst score it has seen, since such a metric
    has no known worst)."""
    aim = goal or Goal()
    value = aim.of(trial) if trial.ok else None
    if value is None:
        return FAILURE_SCORE if aim.accuracy else math.nan
    return float(value) if aim.direction == "maximize" else -float(value)


class Strategy(abc.ABC):
    """Proposes the params of trials and learns from their results (by :attr:`goal`, which the
    study sets: validation accuracy, maximised, unless an own objective names another metric).

    Lifecycle, driven by :class:`hpsearch.Study`:

    1. The study builds the strategy with the search space, the study seed and the number of
       trials it plans.
    2. On resume it calls :meth:`tell` once with every trial already in the study's log.
    3. It then repeats: :meth:`ask` for the next trial numbers (at most :attr:`batch_size` at
       a time when that is set), runs those trials in parallel, and :meth:`tell` the results,
       in trial-number order.
    4. It stops when the planned trials are done, or when :attr:`capacity` (a grid's exact
       length) is reached: the strategy is then used up.

    ``ask`` takes trial numbers rather than a count so that a strategy whose proposals are a
    function of the number (grid, random) proposes the same params for the same trial, on
    resume too; a model-based strategy may ignore them.

    Args:
        space: The search space.
        seed: The study seed; every random draw derives from it.
        n_trials: How many trials the study plans (a grid sizes itself to fit).
    """

    goal: Goal = Goal()

    name: ClassVar[str]
    #: How many trials to run between two ``tell`` calls; None: as many as are planned.
    batch_size: int | None = None

    def __init__(self, space: SearchSpace, seed: int, n_trials: int) -> None:
        self.space = space
        self.seed = seed
        self.n_trials = n_trials

    @abc.abstractmethod
    def ask(self, numbers: Sequence[int]) -> list[dict[str, Any]]:
        """Params for each of the trial ``numbers``, in the same order."""

    @abc.abstractmethod
    def tell(self, trials: Sequence[TrialResult]) -> None:
        """Learns from finished trials."""

    def tell_new(self, trials: Sequence[TrialResult]) -> None:
        """Tells those of ``trials`` this strategy has not learned yet, in trial-number order:
        each trial once, whichever loop (the search, ask and tell) hands it over."""
        told: set[int] = self.__dict__.setdefault("_told", set())
        new = sorted((t for t in trials if t.number not in told), key=lambda t: t.number)
        told.update(t.number for t in new)
        if new:
            self.tell(new)

    @property
    def capacity(self) -> int | None:
        """The most trials this strategy can propose (None: no limit)."""
        return None

    def notes(self) -> list[str]:
        """What the study should be told before it trains, one line each (a grid that leaves
        points out); none by default."""
        return []

    def settings(self) -> dict[str, Any]:
        """What defines the strategy, stored with the study so a resume can check it."""
        return {"name": self.name}
