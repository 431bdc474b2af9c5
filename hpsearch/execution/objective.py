"""A user's objective: found from its reference, and made ready to travel to any worker.

The reference is ``path/to/file.py:function`` or ``package.module:function``. A function from a
file is pickled by value, so that workers that cannot import the file (a Dask cluster started in
another folder) run it all the same. :mod:`hpsearch.execution.runner` runs it, trial by trial.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpsearch.exceptions import ObjectiveError
from hpsearch.trial import Trial

__all__ = ["load_objective", "objective_ref", "portable"]

Objective = Callable[[Trial], Any]


def _by_value(module: Any) -> None:
    """Pickles the module's functions by value, with every cloudpickle the pools use (joblib
    vendored its own copy before it required the package)."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    import joblib.externals

    vendored = getattr(joblib.externals, "cloudpickle", None)  # joblib before 1.5 only
    if vendored is not None and vendored is not cloudpickle:
        vendored.register_pickle_by_value(module)


class _ByValue:
    """An objective that pickles itself with cloudpickle, by value: Dask pickles a function by
    reference first, which a worker that cannot import the user's file would fail to load."""

    def __init__(self, objective: Objective) -> None:
        self.objective = objective
        self._pickled: bytes | None = None

    def __call__(self, trial: Trial) -> Any:
        return self.objective(trial)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        import cloudpickle

        if self._pickled is None:  # once: the same bytes travel with every task
            self._pickled = cloudpickle.dumps(self.objective)
        return cloudpickle.loads, (self._pickled,)


def portable(objective: Objective) -> Objective:
    """``objective``, ready to travel to any worker: its module pickled by value unless it is
    installed (a package the workers import too)."""
    name = getattr(objective, "__module__", "") or ""
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    installed = name.split(".")[0] == "hpsearch" or "site-packages" in Path(file or "").parts
    if module is not None and file and not installed:
        _by_value(module)
    return _ByValue(objective)


def _load_file(path: str) -> Any:
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ObjectiveError(f"objective {path!r}: no such file")
    name = "hpsearch_objective_" + hashlib.sha1(str(file).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ObjectiveError(f"objective {path!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ObjectiveError(
            f"objective {path!r} failed to import: {type(exc).__name__}: {exc}"
        ) from None
    _by_value(module)
    return module


def load_objective(ref: str) -> Objective:
    """The function ``ref`` names: ``path/to/file.py:function`` or ``package.module:function``.

    Raises:
        ObjectiveError: The reference is malformed, the file or module is missing or fails to
            import, or it has no such function.
    """
    where, sep, name = str(ref).rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise ObjectiveError(
            f"objective {ref!r}: expected PATH.py:FUNCTION or package.module:FUNCTION"
        )
    if where == "__main__":
        raise ObjectiveError(
            f"objective {ref!r} was a function of the script that made the study, which no "
            "other process can import: give the function again (Study.load(name, "
            "objective=fn)), or put it in a file and name that file (PATH.py:FUNCTION)"
        )
    if where.endswith(".py") or os.sep in where:
        module = _load_file(where)
    else:
        try:
            module = importlib.import_module(where)
        except Exception as exc:
            raise ObjectiveError(
                f"objective {ref!r}: module {where!r} failed to import: {type(exc).__name__}: {exc}"
            ) from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ObjectiveError(f"objective {ref!r}: {where} has no function {name!r}")
    return fn


def objective_ref(objective: Objective | str) -> str:
    """What a study's definition records of its objective: the reference it was given (a file
    by its absolute path), or a function's ``module:name``."""
    if isinstance(objective, str):
        where, _, name = objective.rpartition(":")
        if where.endswith(".py"):  # absolute: found again from any folder (confirm, compare)
            return f"{Path(where).expanduser().resolve()}:{name}"
        return objective
    name = getattr(objective, "__qualname__", None) or type(objective).__qualname__
    return f"{objective.__module__}:{name}"
