"""hpsearch: hyperparameter search for the NumPy ``MultiLayerNet`` of "Deep Learning from Scratch".

The public names below are loaded on first use (PEP 562), so that a worker process, which only
needs :mod:`hpsearch.execution.workers`, does not pay for pandas, scikit-optimize and matplotlib.

Example:
    >>> from hpsearch import Study
    >>> Study("demo", strategy="random", n_trials=100, n_jobs=2).optimize()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "BayesStrategy": "strategies",
    "Categorical": "space.dimensions",
    "Dimension": "space.dimensions",
    "GridStrategy": "strategies",
    "IntUniform": "space.dimensions",
    "LogUniform": "space.dimensions",
    "RandomStrategy": "strategies",
    "SearchSpace": "space.search_space",
    "Strategy": "strategies",
    "Study": "study.study",
    "StudyError": "exceptions",
    "StudyInterrupted": "exceptions",
    "TrainConfig": "builtin.config",
    "Trial": "trial",
    "TrialData": "trial",
    "TrialDiverged": "exceptions",
    "TrialTimedOut": "exceptions",
    "TrialResult": "trial",
    "TrialState": "trial",
    "Uniform": "space.dimensions",
    "default_space": "space.search_space",
    "train_trial": "execution.runner",
}


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Any, Any, list[str]]:
    """A package's ``__getattr__``, ``__dir__`` and ``__all__`` that import each name's module on
    first use.

    Args:
        package: The package's ``__name__``.
        exports: Each public name and the module it lives in, relative to ``package``.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__, sorted(exports)


__getattr__, __dir__, _names = lazy_exports(__name__, _EXPORTS)
__all__ = [*_names, "__version__"]
