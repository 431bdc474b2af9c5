"""hpsearch: hyperparameter search for the NumPy ``MultiLayerNet`` of "Deep Learning from Scratch".

The public names below are loaded on first use (PEP 562), so that a worker process, which only
needs :mod:`hpsearch.execution.workers`, does not pay for pandas, scikit-optimize and matplotlib.

Example:
    >>> from hpsearch import Study
    >>> Study("demo", strategy="random", n_trials=100, n_jobs=2).optimize()  # doctest: +SKIP
"""

# No name of a helper module lands in the package's namespace: ``import hpsearch`` shows the
# public names alone (the imports below are private, and no ``from __future__`` import is needed).
import importlib as _importlib
import sys as _sys
import types as _types
import typing as _typing
from typing import Any as _Any

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
    "RepeatResult": "records",
    "Study": "study.study",
    "StudyError": "exceptions",
    "StudyInterrupted": "exceptions",
    "Settings": "settings",
    "TrainConfig": "builtin.config",
    "Trial": "trial",
    "TrialData": "trial",
    "TrialDiverged": "exceptions",
    "TrialTimedOut": "exceptions",
    "TrialResult": "records",
    "TrialState": "records",
    "Uniform": "space.dimensions",
    "default_space": "space.search_space",
    "train_trial": "builtin.objective",
}


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[_Any, _Any, list[str]]:
    """A package's ``__getattr__``, ``__dir__`` and ``__all__`` that import each name's module on
    first use.

    ``dir(package)`` lists its public names (``exports``, and ``__version__`` where there is one),
    the package's own submodules loaded so far and the module dunders: never a helper it
    imported for itself.

    Args:
        package: The package's ``__name__``.
        exports: Each public name and the module it lives in, relative to ``package``.
    """
    namespace = _sys.modules[package].__dict__

    def __getattr__(name: str) -> _Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(_importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        own = {
            name
            for name, value in namespace.items()
            if (name.startswith("__") and name.endswith("__"))
            or (isinstance(value, _types.ModuleType) and value.__name__ == f"{package}.{name}")
        }
        return sorted(own | set(exports))

    return __getattr__, __dir__, sorted(exports)


if _typing.TYPE_CHECKING:  # what a type checker and an editor see: the classes themselves
    from hpsearch.builtin.config import TrainConfig
    from hpsearch.builtin.objective import train_trial
    from hpsearch.exceptions import StudyError, StudyInterrupted, TrialDiverged, TrialTimedOut
    from hpsearch.records import RepeatResult, TrialResult, TrialState
    from hpsearch.settings import Settings
    from hpsearch.space.dimensions import Categorical, Dimension, IntUniform, LogUniform, Uniform
    from hpsearch.space.search_space import SearchSpace, default_space
    from hpsearch.strategies import BayesStrategy, GridStrategy, RandomStrategy, Strategy
    from hpsearch.study.study import Study
    from hpsearch.trial import Trial, TrialData

if not _typing.TYPE_CHECKING:  # a type checker reads the imports above: a misspelt name is flagged
    __getattr__, __dir__, _ = lazy_exports(__name__, _EXPORTS)
# Written out, so that a type checker and a linter read it (the layout test holds it to _EXPORTS).
__all__ = [
    "BayesStrategy",
    "Categorical",
    "Dimension",
    "GridStrategy",
    "IntUniform",
    "LogUniform",
    "RandomStrategy",
    "RepeatResult",
    "SearchSpace",
    "Settings",
    "Strategy",
    "Study",
    "StudyError",
    "StudyInterrupted",
    "TrainConfig",
    "Trial",
    "TrialData",
    "TrialDiverged",
    "TrialResult",
    "TrialState",
    "TrialTimedOut",
    "Uniform",
    "default_space",
    "train_trial",
    "__version__",
]
