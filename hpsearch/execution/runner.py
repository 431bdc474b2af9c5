"""One task, run through an objective: the trial handle in, the trial's record out.

Every trial of every study goes this way, the built-in network's
(:class:`~hpsearch.builtin.objective.NetworkObjective`) and a user's function alike:
:func:`start_trial` builds the handle (params, seed, budget, data, the last rung's checkpoint) and
seeds the global ``np.random`` and ``random`` generators from the trial's seed;
:func:`run_objective` calls the objective on one BLAS thread and turns what it returned (or
raised) into the record with :func:`trial_result`. Nothing here raises for a trial's own failure.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.exceptions import TrialEnded
from hpsearch.execution.blas import one_blas_thread
from hpsearch.execution.workers import Task, restore_malloc_thresholds
from hpsearch.records import CURVES, SCORES, RepeatResult, TrialResult, TrialState
from hpsearch.seeding import REFIT, REPEAT, TRAIN, seed_for, stream
from hpsearch.settings import Settings
from hpsearch.trial import (
    ObjectiveState,
    Trial,
    TrialData,
    check_accuracies,
    final_metrics,
    global_generators,
)

__all__ = ["run_objective", "start_trial", "trial_result"]

Objective = Callable[[Trial], Any]
Saved = ObjectiveState | None

# hpsearch's own folder: a failure is told where it left the user's code, not ours.
_PACKAGE = str(Path(__file__).resolve().parents[1])


def _data(settings: Settings, seed: int, task: Task) -> TrialData:
    from hpsearch.data.split import load_test, make_split

    # A trial that searches a setting of the data (samples, say) gets its own split.
    cfg = settings.with_params(task.params)
    split = make_split(cfg.dataset, cfg.samples, cfg.val_ratio, seed, cfg.dtype)
    test = load_test(cfg.dataset, cfg.samples, cfg.dtype) if task.repeat is not None else None
    x_test, t_test = test if test is not None else (None, None)
    if task.refit:
        x = np.concatenate([split.x_train, split.x_val])
        t = np.concatenate([split.t_train, split.t_val])
        return TrialData(x, t, split.x_val[:0], split.t_val[:0], x_test, t_test)
    return TrialData(split.x_train, split.t_train, split.x_val, split.t_val, x_test, t_test)


def _total_epochs(settings: Settings, params: Mapping[str, Any]) -> int:
    epochs = params.get("epochs", settings.epochs)
    return int(epochs) if isinstance(epochs, numbers.Integral) else settings.epochs


def start_trial(settings: Settings, seed: int, task: Task) -> Trial:
    """The handle of ``task``, with the global ``np.random`` and ``random`` seeded from its
    seed: what an objective runs with, in a worker or (ask and tell) in the user's process."""
    if task.repeat is None:
        key: tuple[int, ...] = (task.number, TRAIN)
    else:
        key = (task.number, task.repeat, REFIT if task.refit else REPEAT)
    trial_seed = seed_for(seed, *key)
    total = _total_epochs(settings, task.params)
    trial = Trial(
        task.number,
        {**settings.fixed, **task.params},  # the fixed values beside the searched ones
        trial_seed,
        min(task.until, total) if task.repeat is None and task.until is not None else total,
        _data(settings, seed, task),
        repeat=0 if task.repeat is None else task.repeat + 1,
        refit=task.refit,
        test_curve=task.test_curve,
        checkpoint=task.checkpoint,
        stream=stream(seed, *key),
    )
    if settings.time_limit is not None:
        trial.deadline = time.monotonic() + settings.time_limit
    np.random.seed(trial_seed)
    random.seed(trial_seed)
    if task.checkpoint is not None and task.checkpoint.generators is not None:
        global_generators(task.checkpoint.generators)  # as the last rung left them
    return trial


def run_objective(
    objective: Objective, ref: str, metric: str, settings: Settings, seed: int, task: Task
) -> tuple[TrialResult | RepeatResult, Saved]:
    """Runs ``task`` (a search trial, a rung or a confirm-stage run) through ``objective``.

    An exception in the objective makes the run FAILED with its message, a NaN or infinite
    metric DIVERGED; the study goes on.

    Returns:
        The record and, for a trial paused at a rung, what it kept for the next one.

    Raises:
        ObjectiveError: The objective returned something that is not a number or a mapping of
            numbers with the metric: the study stops with that one line.
    """
    restore_malloc_thresholds()
    start = time.perf_counter()
    try:
        trial = start_trial(settings, seed, task)
    except Exception as exc:  # the data cannot be made (a user's file broke): this trial fails
        seconds = time.perf_counter() - start
        failed = task.lost(f"{type(exc).__name__}: {exc}")
        return dataclasses.replace(failed, seconds=seconds), None
    try:
        with one_blas_thread():
            value = objective(trial)
    except Exception as exc:  # the trial's failure is its outcome, never the study's
        value = exc
    except (KeyboardInterrupt, SystemExit) as exc:
        if _may_be_a_signal():
            raise  # a Ctrl-C of the caller's own (train_trial called in a script)
        value = exc  # raised by the objective itself: its trial fails, the study goes on
    record = trial_result(trial, task, value, metric, ref, settings, time.perf_counter() - start)
    return record, trial.saved() if record.state is TrialState.PRUNED else None


def _may_be_a_signal() -> bool:
    """Whether a KeyboardInterrupt (or the command's SystemExit) here may come from a signal:
    only in a process's main thread that does not ignore SIGINT. A study's trials run in
    worker threads, or in worker processes that ignore SIGINT, so there one is the objective's
    own: ``raise KeyboardInterrupt`` or ``sys.exit(3)`` in a reader's code."""
    if threading.current_thread() is not threading.main_thread():
        return False
    return signal.getsignal(signal.SIGINT) is not signal.SIG_IGN


def trial_result(
    trial: Trial,
    task: Task,
    value: Any,
    metric: str,
    ref: str,
    settings: Settings,
    seconds: float,
) -> TrialResult | RepeatResult:
    """The record of a trial whose objective returned ``value``: an exception makes it FAILED
    (:class:`~hpsearch.exceptions.TrialEnded`: the state it names), a NaN or infinite metric
    or training ``loss`` (returned, else the last reported) DIVERGED, a budget short of the
    study's epochs PRUNED (paused at a rung). A report at epoch 0 before the epochs trained
    (see :func:`_trained`) is not one of them.

    Raises:
        ObjectiveError: ``value`` is not a number or a mapping of numbers with the metric.
    """
    # A bad answer's line names the run that gave it.
    run = f"trial {task.number}" + ("" if task.repeat is None else f", confirm run r{task.repeat}")
    who = f"{ref} ({run})"
    if isinstance(value, TrialEnded):
        metrics = final_metrics(value.metrics, metric, who, required=False)
        check_accuracies(metrics, who)
        return _record(trial, task, TrialState(value.state), metrics, seconds, str(value))
    if isinstance(value, BaseException):
        return _record(trial, task, TrialState.FAILED, {}, seconds, _failure(value, ref))
    # A refit run has no validation images: it cannot return a validation metric, and what it
    # returns for one (the mean of nothing: NaN) says nothing of the run.
    validated = len(trial.data.t_val) > 0
    metrics = final_metrics(value, metric, who, required=validated)
    if not validated:
        metrics.pop(metric, None)
    check_accuracies(metrics, who)
    score = metrics.get(metric, 0.0)
    finite = math.isfinite(score)  # another metric's NaN is left out, not a divergence
    error = None if finite else f"{metric} is not finite: {score}"
    if finite:  # a loss gone NaN is a divergence, as for the built-in network, whatever its score
        error = _loss_diverged(metrics, _trained(trial))
        finite = error is None
    state = TrialState.COMPLETE if finite else TrialState.DIVERGED
    total = _total_epochs(settings, task.params)
    if finite and task.repeat is None and task.until is not None and task.until < total:
        state = TrialState.PRUNED  # paused at a rung: the study promotes it or not
    return _record(trial, task, state, metrics, seconds, error)


def _failure(exc: BaseException, ref: str) -> str:
    """The exception's line and where it was raised, in the user's code if it passed through
    it: ``KeyError: 'momentum' (mynet.py, line 42, in objective)``. (A function that travelled
    by value to a worker has lost its file's name: the objective's file is named instead.)"""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if not f.filename.startswith(_PACKAGE)]
    said = f"{type(exc).__name__}: {exc}"
    if frames:
        f = (own or frames)[-1]
        where, _, _ = ref.rpartition(":")
        name = Path(where).name if f.filename.startswith("<") and where.endswith(".py") else ""
        said += f" ({name or Path(f.filename).name}, line {f.lineno}, in {f.name})"
    if isinstance(exc, ValueError) and "read-only" in str(exc):
        said += (
            "; trial.data's arrays are shared by the trials and read-only: change a copy "
            "(x = trial.data.x_train.copy(), or trial.data.load_mnist())"
        )
    return said


def _loss_diverged(metrics: Mapping[str, float], reports: list[dict[str, float]]) -> str | None:
    """Why a run whose training loss (returned, else the last one reported) is not finite
    diverged; None when it is finite or was never given."""
    if "loss" in metrics:
        loss, where = metrics["loss"], "returned"
    else:
        said = [r for r in reports if "loss" in r]
        if not said:
            return None
        loss, where = said[-1]["loss"], f"reported at epoch {said[-1]['epoch']:g}"
    return None if math.isfinite(loss) else f"loss is not finite: {loss} ({where})"


def _trained(trial: Trial) -> list[dict[str, float]]:
    """The reports of epochs trained. Epochs count from 1 (the built-in network's ``epoch`` is
    the number of epochs done): a report at epoch 0 followed by one at ``trial.epochs`` is the
    state before training, and is not one of them. Reports numbered from 0 up to
    ``trial.epochs - 1`` (``for epoch in range(trial.epochs)``) are one per epoch trained."""
    reports = trial.reports
    if len(reports) > 1 and reports[0]["epoch"] == 0 and reports[-1]["epoch"] >= trial.epochs:
        return reports[1:]
    return reports


def _curve(reports: list[dict[str, float]], name: str) -> tuple[float, ...]:
    return tuple(r[name] for r in reports if name in r)


def _last(metrics: Mapping[str, float], reports: list[dict[str, float]], name: str) -> float | None:
    if name in metrics:
        return metrics[name]
    curve = _curve(reports, name)
    return curve[-1] if curve else None


def _record(
    trial: Trial,
    task: Task,
    state: TrialState,
    metrics: Mapping[str, float],
    seconds: float,
    error: str | None,
) -> TrialResult | RepeatResult:
    finite = {k: v for k, v in metrics.items() if math.isfinite(v)}
    reports = _trained(trial)
    val_curve, train_curve = _curve(reports, "val_acc"), _curve(reports, "train_acc")
    epochs = len(reports) or (trial.epochs if state is TrialState.COMPLETE else 0)
    common: dict[str, Any] = dict(
        params=dict(task.params),
        state=state,
        val_acc=_last(finite, reports, "val_acc"),
        train_acc=_last(finite, reports, "train_acc"),
        epochs=epochs if state is not TrialState.PRUNED else trial.epochs,
        train_curve=train_curve,
        val_curve=val_curve,
        loss_curve=_curve(reports, "loss"),
        seconds=seconds,
        error=error,
        n_val=len(trial.data.t_val),
        # The scores with fields of their own are kept there only.
        metrics={k: v for k, v in finite.items() if k not in SCORES},
        curves={
            name: tuple(r.get(name) for r in reports)
            for name in dict.fromkeys(k for r in reports for k in r)
            if name != "epoch" and name not in CURVES
        },
    )
    if task.repeat is None:
        best = max(val_curve) if val_curve else common["val_acc"]
        return TrialResult(task.number, best_val_acc=best, **common)
    test, test_curve = trial.data.t_test, _curve(reports, "test_acc")
    return RepeatResult(
        task.number,
        task.repeat,
        test_acc=_last(finite, reports, "test_acc"),
        best_test_acc=max(test_curve) if test_curve else None,
        test_curve=test_curve,
        n_test=None if test is None else len(test),
        refit=task.refit,
        **common,
    )
