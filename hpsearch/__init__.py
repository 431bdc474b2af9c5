"""hpsearch: hyperparameter search for the NumPy ``MultiLayerNet`` of "Deep Learning from Scratch".

The public names below are loaded on first use (PEP 562), so that a worker process, which only
needs :mod:`hpsearch.execution.workers`, does not pay for pandas, scikit-optimize and matplotlib.

Example:
    >>> from hpsearch import Study
    >>> Study("demo", strategy="random", n_trials=100, n_jobs=2).optimize()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "BayesStrategy": "hpsearch.strategies",
    "Categorical": "hpsearch.space.dimensions",
    "Dimension": "hpsearch.space.dimensions",
    "GridStrategy": "hpsearch.strategies",
    "IntUniform": "hpsearch.space.dimensions",
    "LogUniform": "hpsearch.space.dimensions",
    "RandomStrategy": "hpsearch.strategies",
    "SearchSpace": "hpsearch.space.search_space",
    "Strategy": "hpsearch.strategies",
    "Study": "hpsearch.study.study",
    "StudyError": "hpsearch.storage.folder",
    "StudyInterrupted": "hpsearch.execution.interrupts",
    "TrainConfig": "hpsearch.builtin.config",
    "TrialResult": "hpsearch.trial",
    "TrialState": "hpsearch.trial",
    "Uniform": "hpsearch.space.dimensions",
    "default_space": "hpsearch.space.search_space",
    "train_trial": "hpsearch.builtin.training",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'hpsearch' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
