"""Random search: independent draws, log-uniform on log dimensions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpsearch.records import TrialResult
from hpsearch.seeding import PARAMS, rng_for
from hpsearch.strategies.base import Strategy

__all__ = ["RandomStrategy"]


class RandomStrategy(Strategy):
    """Draws each trial's params from its own stream, seeded by the study seed and trial number.

    Example:
        >>> from hpsearch.space.search_space import default_space
        >>> r = RandomStrategy(default_space(), seed=0, n_trials=100)
        >>> r.ask([3]) == r.ask([3])
        True
    """

    name = "random"

    def ask(self, numbers: Sequence[int]) -> list[dict[str, Any]]:
        return [self.space.sample(rng_for(self.seed, number, PARAMS)) for number in numbers]

    def tell(self, trials: Sequence[TrialResult]) -> None:
        pass
