"""A user's objective: found from its reference, and made ready to travel to any worker.

The reference is ``path/to/file.py:function`` or ``package.module:function``. A function of a
file travels by reference, as the module it is: each worker process imports the file once, so
module-level names, lookups by name (``globals()[name]``), module-level data and resources
(a lock, an open file) behave as under ``python file.py``, and errors and warnings name the file
and its lines. The file's source travels with it, for workers that cannot read the file (a Dask
cluster started elsewhere); a worker that can read it imports it from there. A function defined
in ``__main__`` or a notebook cell, a lambda or a closure travels by value (cloudpickle).
:mod:`hpsearch.execution.runner` runs it, trial by trial.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import linecache
import os
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from hpsearch.exceptions import ObjectiveError
from hpsearch.trial import Trial

__all__ = ["load_objective", "objective_ref", "portable", "source_digest"]

Objective = Callable[[Trial], Any]

_PACKAGE = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Source:
    """A user's module as it travels to the workers: its name, its file and the file's text."""

    name: str
    path: str
    text: bytes

    @functools.cached_property
    def digest(self) -> str:
        return hashlib.sha256(self.text).hexdigest()


class _Finder(importlib.abc.MetaPathFinder):
    """Imports the user's modules that the worker cannot find itself (last on ``sys.meta_path``):
    from their file when it holds the same text, else from the text sent with the task."""

    def __init__(self) -> None:
        self.sources: dict[str, Source] = {}

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        source = self.sources.get(name)
        if source is None:
            if any(known.startswith(name + ".") for known in self.sources):
                return importlib.machinery.ModuleSpec(name, None, is_package=True)
            return None
        file = Path(source.path)
        try:
            same = hashlib.sha256(file.read_bytes()).hexdigest() == source.digest
        except OSError:
            same = False
        if same:
            return importlib.util.spec_from_file_location(name, file)
        return importlib.util.spec_from_loader(name, _TextLoader(source), origin=source.path)


class _TextLoader(importlib.abc.Loader):
    def __init__(self, source: Source) -> None:
        self.source = source

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        text = self.source.text.decode("utf-8")
        # Tracebacks and warnings show the file's lines though the file is not here.
        lines = text.splitlines(keepends=True)
        linecache.cache[self.source.path] = (len(text), None, lines, self.source.path)
        module.__file__ = self.source.path
        exec(compile(text, self.source.path, "exec"), module.__dict__)


_FINDER = _Finder()
_LOCK = threading.Lock()


def _install(sources: tuple[Source, ...]) -> None:
    with _LOCK:
        if _FINDER not in sys.meta_path:
            sys.meta_path.append(_FINDER)
        for source in sources:
            _FINDER.sources.setdefault(source.name, source)


def _restore(sources: tuple[Source, ...], pickled: bytes) -> Portable:
    import cloudpickle

    _install(sources)
    return Portable(cloudpickle.loads(pickled), sources)


class Portable:
    """An objective that travels to any worker: cloudpickled (by reference where its module is a
    file, which the worker imports), with the text of the user's modules it needs."""

    def __init__(self, objective: Objective, sources: tuple[Source, ...] = ()) -> None:
        self.objective = objective
        self.sources = sources
        self._pickled: bytes | None = None

    def __call__(self, trial: Trial) -> Any:
        return self.objective(trial)

    def __reduce__(self) -> tuple[Any, tuple[tuple[Source, ...], bytes]]:
        import cloudpickle

        if self._pickled is None:  # once: the same bytes travel with every task
            self._pickled = cloudpickle.dumps(self.objective)
        return _restore, (self.sources, self._pickled)


def _installed(file: str) -> bool:
    """Whether ``file`` belongs to Python, to an installed package or to hpsearch: every worker
    imports those itself."""
    path = Path(file).resolve()
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return True
    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")} | {str(_PACKAGE)}
    return any(path.is_relative_to(Path(root).resolve()) for root in roots if root)


def _user_module(name: str | None) -> ModuleType | None:
    module = sys.modules.get(name or "")
    file = getattr(module, "__file__", None)
    if module is None or not file or not str(file).endswith(".py") or _installed(file):
        return None
    return module


def _homes(objective: Any) -> Iterator[Any]:
    """What ``objective`` is made of: a partial's function, a bound method's function and
    object, a callable instance's class."""
    while isinstance(objective, functools.partial):
        yield from (v for v in (*objective.args, *objective.keywords.values()) if callable(v))
        objective = objective.func
    if hasattr(objective, "__func__"):  # a bound method
        yield type(objective.__self__)
        objective = objective.__func__
    if not hasattr(objective, "__code__") and not isinstance(objective, type):
        objective = type(objective)  # a callable instance
    yield objective


def _module_of(value: Any) -> str:
    return value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", "")


def _reached(function: Any) -> Iterator[Any]:
    """What a function that travels by value takes with it by reference: the values of its
    closure's cells and of the globals its code names."""
    for cell in getattr(function, "__closure__", None) or ():
        try:
            yield cell.cell_contents
        except ValueError:  # a cell not yet filled
            continue
    scope = getattr(function, "__globals__", {})
    yield from (scope[name] for name in function.__code__.co_names if name in scope)


def _sources(objective: Any) -> tuple[Source, ...]:
    """The user's modules ``objective`` needs in a worker: those it was defined in, and for a
    function that travels by value (defined in ``__main__``, a closure or a lambda) the user's
    modules of what it reaches: its globals (all of them, in ``__main__``) and its closure."""
    names: dict[str, None] = {}  # in order, each once
    for part in _homes(objective):
        home = _module_of(part)
        names[home] = None
        if home == "__main__":
            names.update(dict.fromkeys(map(_module_of, getattr(part, "__globals__", {}).values())))
        qualname = getattr(part, "__qualname__", "")
        if hasattr(part, "__code__") and ("<locals>" in qualname or "<lambda>" in qualname):
            names.update(dict.fromkeys(map(_module_of, _reached(part))))
    found = []
    for name in names:
        module = None if name == "__main__" else _user_module(name)
        if module is None:
            continue
        path = str(Path(module.__file__ or "").resolve())
        try:
            found.append(Source(name, path, Path(path).read_bytes()))
        except OSError:
            continue
    return tuple(found)


def portable(objective: Objective) -> Portable:
    """``objective``, ready to travel to any worker (see the module's notes)."""
    if isinstance(objective, Portable):
        return objective
    made = Portable(objective, _sources(objective))
    try:  # now, before the study writes anything: what cannot travel is said in one line
        made.__reduce__()
    except Exception as exc:
        name = getattr(objective, "__qualname__", type(objective).__qualname__)
        raise ObjectiveError(
            f"objective {name} cannot be sent to the worker processes: {type(exc).__name__}: "
            f"{exc} (define it in a file, or keep such objects at the module level of a file)"
        ) from None
    return made


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


def source_digest(objective: Any) -> str | None:
    """A fingerprint of the user's code ``objective`` is made of (None for the built-in network
    or code that has no file): its modules' text."""
    if isinstance(objective, Portable):
        sources = objective.sources
    elif callable(objective):
        sources = _sources(objective)
    else:
        return None
    if not sources:
        return None
    return hashlib.sha256("".join(s.digest for s in sources).encode()).hexdigest()[:16]
