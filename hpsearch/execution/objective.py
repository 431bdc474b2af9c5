"""A user's objective: found from its reference, and run as one trial of a study.

The reference is ``path/to/file.py:function`` or ``package.module:function``. A function from a
file is pickled by value, so that workers that cannot import the file (a Dask cluster started in
another folder) run it all the same. Before each call the runner seeds the global ``np.random``
and ``random`` generators from the trial's seed and pins one BLAS thread, in whichever process
runs it: book-style code that draws from ``np.random`` without a seed gives the same numbers
with 1 or N workers, on Dask, and after a resume.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import numbers
import os
import random
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.blas import one_blas_thread
from hpsearch.builtin.config import TrainConfig
from hpsearch.exceptions import ObjectiveError
from hpsearch.execution.workers import Task
from hpsearch.seeding import REPEAT, TRAIN, seed_for
from hpsearch.trial import RepeatResult, Trial, TrialData, TrialResult, TrialState

__all__ = [
    "load_objective",
    "objective_ref",
    "portable",
    "run_objective",
    "start_trial",
    "trial_result",
]

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
    module = sys.modules.get(getattr(objective, "__module__", "") or "")
    file = getattr(module, "__file__", None)
    if module is not None and file and "site-packages" not in Path(file).parts:
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
    """What a study's definition records of its objective: the reference it was given, or a
    function's ``module:name``."""
    if isinstance(objective, str):
        where, _, name = objective.rpartition(":")
        return f"{os.path.normpath(where)}:{name}" if where.endswith(".py") else objective
    return f"{objective.__module__}:{objective.__qualname__}"


def _data(config: TrainConfig, seed: int, test: bool) -> TrialData:
    from hpsearch.data.datasets import load_test, make_split

    split = make_split(config.dataset, config.samples, config.val_ratio, seed, config.dtype)
    held_out = load_test(config.dataset, config.samples, config.dtype) if test else None
    return TrialData(
        split.x_train,
        split.t_train,
        split.x_val,
        split.t_val,
        *(held_out if held_out is not None else (None, None)),
    )


def _metrics(value: Any, metric: str, ref: str) -> dict[str, float]:
    """The final metrics an objective returned: a number (the metric) or a mapping of numbers."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return {metric: float(value)}
    if isinstance(value, Mapping):
        out = {}
        for key, v in value.items():
            if not isinstance(v, numbers.Real) or isinstance(v, bool):
                raise ObjectiveError(
                    f"objective {ref} returned {key}={v!r}: expected a number for each metric"
                )
            out[str(key)] = float(v)
        if metric not in out:
            raise ObjectiveError(
                f"objective {ref} returned {sorted(out)}, without the metric {metric!r}"
            )
        return out
    raise ObjectiveError(
        f"objective {ref} returned {type(value).__name__}: expected a number ({metric}) or "
        f"a mapping of metrics that includes {metric!r}"
    )


def _last(metrics: Mapping[str, float], trial: Trial, name: str) -> float | None:
    if name in metrics:
        return metrics[name]
    curve = trial.curve(name)
    return curve[-1] if curve else None


def start_trial(config: TrainConfig, seed: int, task: Task) -> Trial:
    """The handle of ``task``, with the global ``np.random`` and ``random`` seeded from its
    seed: what a user's code runs with, in a worker or (ask and tell) in the user's process."""
    search = task.repeat is None
    key = (task.number, TRAIN) if search else (task.number, task.repeat or 0, REPEAT)
    trial_seed = seed_for(seed, *key)
    trial = Trial(
        task.number,
        task.params,
        trial_seed,
        task.until if search and task.until is not None else config.epochs,
        _data(config, seed, test=not search),
        repeat=0 if task.repeat is None else task.repeat + 1,
    )
    np.random.seed(trial_seed)
    random.seed(trial_seed)
    return trial


def trial_result(
    trial: Trial,
    task: Task,
    value: Any,
    metric: str,
    ref: str,
    config: TrainConfig,
    seconds: float,
) -> TrialResult | RepeatResult:
    """The record of a trial whose objective returned ``value`` (an exception: FAILED; a NaN
    or infinite metric: DIVERGED).

    Raises:
        ObjectiveError: ``value`` is not a number or a mapping of numbers with the metric.
    """
    if isinstance(value, BaseException):
        return _record(trial, task, TrialState.FAILED, {}, seconds, _said(value))
    metrics = _metrics(value, metric, ref)
    finite = math.isfinite(metrics[metric])  # another metric's NaN is left out, not a divergence
    state = TrialState.COMPLETE if finite else TrialState.DIVERGED
    error = None if finite else f"{metric} is not finite: {metrics[metric]}"
    if finite and task.repeat is None and task.until is not None and task.until < config.epochs:
        state = TrialState.PRUNED  # paused at a rung: the study promotes it or not
    return _record(trial, task, state, metrics, seconds, error)


def _said(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_objective(
    objective: Objective, ref: str, metric: str, config: TrainConfig, seed: int, task: Task
) -> tuple[TrialResult | RepeatResult, None]:
    """Runs ``task`` (a search trial or a confirm-stage run) through the user's objective.

    An exception in the objective makes the run FAILED with its message, a NaN or infinite
    metric DIVERGED; the study goes on.

    Raises:
        ObjectiveError: The objective returned something that is not a number or a mapping of
            numbers with the metric: the study stops with that one line.
    """
    start = time.perf_counter()
    trial = start_trial(config, seed, task)
    try:
        with one_blas_thread():
            value = objective(trial)
    except Exception as exc:  # the trial's failure is its outcome, never the study's
        value = exc
    return trial_result(trial, task, value, metric, ref, config, time.perf_counter() - start), None


def _record(
    trial: Trial,
    task: Task,
    state: TrialState,
    metrics: Mapping[str, float],
    seconds: float,
    error: str | None,
) -> TrialResult | RepeatResult:
    finite = {k: v for k, v in metrics.items() if math.isfinite(v)}
    val_curve, train_curve = trial.curve("val_acc"), trial.curve("train_acc")
    epochs = len(trial.reports) or (trial.epochs if state is TrialState.COMPLETE else 0)
    common: dict[str, Any] = dict(
        params=dict(task.params),
        state=state,
        val_acc=_last(finite, trial, "val_acc"),
        train_acc=_last(finite, trial, "train_acc"),
        epochs=epochs if state is not TrialState.PRUNED else trial.epochs,
        train_curve=train_curve,
        val_curve=val_curve,
        loss_curve=trial.curve("loss"),
        seconds=seconds,
        error=error,
        n_val=len(trial.data.t_val),
        metrics=dict(finite),
    )
    if task.repeat is None:
        best = max(val_curve) if val_curve else common["val_acc"]
        return TrialResult(task.number, best_val_acc=best, **common)
    test = trial.data.t_test
    return RepeatResult(
        task.number,
        task.repeat,
        test_acc=_last(finite, trial, "test_acc"),
        test_curve=trial.curve("test_acc"),
        n_test=None if test is None else len(test),
        **common,
    )
