"""The strategies by name: ``make_strategy("bayes", ...)`` and the settings a stored study names."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from hpsearch.space.search_space import SearchSpace
from hpsearch.strategies.base import Strategy
from hpsearch.strategies.bayes import BayesStrategy
from hpsearch.strategies.grid import GridStrategy
from hpsearch.strategies.random import RandomStrategy

__all__ = ["STRATEGIES", "make_strategy", "strategy_options"]

STRATEGIES: dict[str, type[Strategy]] = {
    "grid": GridStrategy,
    "random": RandomStrategy,
    "bayes": BayesStrategy,
}


def make_strategy(
    name: str, space: SearchSpace, seed: int, n_trials: int, **options: Any
) -> Strategy:
    """A strategy by name.

    Raises:
        ValueError: The name is unknown.
    """
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}; expected one of {sorted(STRATEGIES)}"
        ) from None
    return cls(space, seed, n_trials, **options)


def strategy_options(settings: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The name and constructor options of a strategy from its stored :meth:`Strategy.settings`.

    Settings a strategy derives itself (a grid's shape) are not options and are left out.

    Raises:
        ValueError: The name is unknown.
    """
    name = settings.get("name")
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; expected one of {sorted(STRATEGIES)}")
    accepted = inspect.signature(STRATEGIES[name].__init__).parameters
    skip = {"self", "space", "seed", "n_trials"}
    return name, {k: v for k, v in settings.items() if k in accepted and k not in skip}
