"""Search strategies behind one interface: :class:`Strategy` with ``ask`` and ``tell``.

The names below load on first use, so that importing one strategy's module does not load them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpsearch import lazy_exports

if TYPE_CHECKING:  # what a type checker sees: the names themselves
    from hpsearch.strategies.base import FAILURE_SCORE, Strategy, score_of
    from hpsearch.strategies.bayes import BayesStrategy
    from hpsearch.strategies.grid import GridStrategy, grid_shape
    from hpsearch.strategies.random import RandomStrategy
    from hpsearch.strategies.registry import STRATEGIES, make_strategy, strategy_options

if not TYPE_CHECKING:  # the checker reads the imports above: a misspelt name is flagged
    __getattr__, __dir__, _ = lazy_exports(
        __name__,
        {
            "STRATEGIES": "registry",
            "BayesStrategy": "bayes",
            "FAILURE_SCORE": "base",
            "GridStrategy": "grid",
            "RandomStrategy": "random",
            "Strategy": "base",
            "grid_shape": "grid",
            "make_strategy": "registry",
            "strategy_options": "registry",
            "score_of": "base",
        },
    )
__all__ = [
    "BayesStrategy",
    "FAILURE_SCORE",
    "GridStrategy",
    "RandomStrategy",
    "STRATEGIES",
    "Strategy",
    "grid_shape",
    "make_strategy",
    "score_of",
    "strategy_options",
]
