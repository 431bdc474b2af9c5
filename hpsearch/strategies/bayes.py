"""Bayesian optimisation with a Gaussian process (scikit-optimize)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from hpsearch.seeding import STRATEGY
from hpsearch.space import SearchSpace
from hpsearch.strategies.base import Strategy, score_of
from hpsearch.training import TrialResult

__all__ = ["BayesStrategy"]


class BayesStrategy(Strategy):
    """A Gaussian-process model of validation accuracy, asked ``batch_size`` points at a time.

    scikit-optimize minimises, so it is told ``-accuracy``; failed trials are told
    ``-FAILURE_SCORE``, a finite penalty. The batch size is a setting of its own, not the
    number of workers, so the same seed proposes the same trials on 1 worker or 16.

    Args:
        space: The search space.
        seed: The study seed.
        n_trials: Trials planned.
        batch_size: Points proposed between two model updates.
        n_initial_points: Random points before the model takes over.

    Example:
        >>> from hpsearch.space import default_space
        >>> b = BayesStrategy(default_space(), seed=0, n_trials=30)
        >>> len(b.ask([0, 1, 2, 3]))
        4
    """

    name = "bayes"

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        n_trials: int,
        *,
        batch_size: int = 4,
        n_initial_points: int = 10,
    ) -> None:
        super().__init__(space, seed, n_trials)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, but got {batch_size!r}")
        if n_initial_points < 1:
            raise ValueError(f"n_initial_points must be >= 1, but got {n_initial_points!r}")
        from skopt import Optimizer

        self.batch_size = batch_size
        self.n_initial_points = n_initial_points
        seed_seq = np.random.SeedSequence(seed, spawn_key=STRATEGY)
        self._opt = Optimizer(
            space.to_skopt(),
            base_estimator="GP",
            n_initial_points=n_initial_points,
            initial_point_generator="random",
            acq_func="EI",
            random_state=int(seed_seq.generate_state(1)[0]),
        )

    def ask(self, numbers: Sequence[int]) -> list[dict[str, Any]]:
        n = len(numbers)
        points = self._opt.ask(n_points=n, strategy="cl_min") if n > 1 else [self._opt.ask()]
        return [self.space.from_list(p) for p in points]

    def tell(self, trials: Sequence[TrialResult]) -> None:
        if not trials:
            return
        xs = [self.space.to_list(t.params) for t in trials]
        ys = [-score_of(t) for t in trials]
        self._opt.tell(xs, ys)

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "batch_size": self.batch_size, "n_initial_points": self.n_initial_points}
