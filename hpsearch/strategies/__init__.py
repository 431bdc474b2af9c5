"""Search strategies behind one interface: :class:`Strategy` with ``ask`` and ``tell``.

The names below load on first use, so that importing one strategy's module does not load them all.
"""

from __future__ import annotations

from hpsearch import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
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
