"""The records a trial leaves: how it ended, its scores and curves, and what a study ranks by.

A leaf: it imports nothing of hpsearch, so that strategies, pruning, storage, reports and plots
read trial records without importing the trainer or the objective's contract.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

__all__ = [
    "CURVES",
    "DEFAULT_GOAL",
    "SCORES",
    "Goal",
    "RepeatResult",
    "TrialResult",
    "TrialState",
    "metric_of",
]


class TrialState(str, enum.Enum):
    """How a trial ended; written by name in CSV and JSON."""

    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    DIVERGED = "DIVERGED"
    TIMEOUT = "TIMEOUT"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value


def _finite_or_none(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


_R = TypeVar("_R", bound="_Record")

#: The metrics a record keeps in fields of their own (the built-in network's), not in ``metrics``.
SCORES = ("val_acc", "train_acc", "test_acc")
#: The per-epoch values a record keeps in curves of their own; any other name goes to ``curves``.
CURVES = ("train_acc", "val_acc", "test_acc", "loss")


class _Record:
    """JSON for a frozen record: the state by name, curves as lists, NaN and inf as null."""

    # Set by @dataclass on each record class: what makes it a dataclass to asdict() and fields().
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
    _CURVES: tuple[str, ...] = ()
    _SCORES: tuple[str, ...] = ()
    state: TrialState

    @property
    def ok(self) -> bool:
        """Whether the run has a score to rank by (COMPLETE or PRUNED)."""
        return self.state in (TrialState.COMPLETE, TrialState.PRUNED)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["state"] = self.state.value
        for key in self._CURVES:
            data[key] = [_finite_or_none(v) for v in data[key]]
        for key in self._SCORES:
            data[key] = _finite_or_none(data[key])
        if "curves" in data:
            data["curves"] = {
                k: [_finite_or_none(v) for v in values] for k, values in data["curves"].items()
            }
        for key in ("metrics", "curves"):
            if not data.get(key):  # the built-in network's records: as they always were
                data.pop(key, None)
        return data

    @classmethod
    def from_json(cls: type[_R], data: Mapping[str, Any]) -> _R:
        data = dict(data)
        data["state"] = TrialState(data["state"])
        for key in cls._CURVES:
            data[key] = tuple(data.get(key, ()))
        if "curves" in data:
            data["curves"] = {k: tuple(v) for k, v in data["curves"].items()}
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def metric_of(record: TrialResult | RepeatResult, name: str) -> float | None:
    """A record's final value of the metric ``name``: an accuracy from its own field, any
    other from ``metrics``; None when it has none, or not a finite one."""
    value = getattr(record, name, None) if name in SCORES else record.metrics.get(name)
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class Goal:
    """What a study ranks by: one metric, maximised or minimised.

    The built-in network's is ``val_acc``, maximised; an own objective may name any metric it
    returns (``val_loss``, minimised). Only ``val_acc`` is an accuracy on validation images,
    with a 95% interval and a 0..1 axis.

    Raises:
        ValueError: The direction is neither ``maximize`` nor ``minimize``, or the metric is not
            a plain name.
    """

    metric: str = "val_acc"
    direction: str = "maximize"

    def __post_init__(self) -> None:
        if self.direction not in ("maximize", "minimize"):
            raise ValueError(
                f"direction must be 'maximize' or 'minimize', but got {self.direction!r}"
            )
        if not str(self.metric).isidentifier():
            raise ValueError(f"metric must be a plain name such as val_loss, got {self.metric!r}")

    @property
    def accuracy(self) -> bool:
        """Whether the metric is the validation accuracy (intervals, a 0..1 axis)."""
        return self.metric == "val_acc"

    def of(self, record: TrialResult | RepeatResult) -> float | None:
        """The record's value of the metric (None when it has none, or not a finite one)."""
        return metric_of(record, self.metric)

    def twin(self, part: str) -> str:
        """The metric's name on another part of the data: ``twin("test")`` of ``val_loss`` is
        ``test_loss`` (of ``val_acc``, ``test_acc``)."""
        return f"{part}_{self.metric.removeprefix('val_')}"

    def key(self, value: float) -> float:
        """A sort key, best first in ascending order."""
        return -value if self.direction == "maximize" else value

    def to_json(self) -> dict[str, str]:
        return {"metric": self.metric, "direction": self.direction}


@dataclass(frozen=True)
class TrialResult(_Record):
    """The frozen record of one finished trial.

    Attributes:
        number: The trial number within its study (0-based).
        params: The searched values this trial trained with.
        state: How it ended.
        val_acc: Validation accuracy after the last epoch trained (None if no epoch ended).
        best_val_acc: The highest validation accuracy of any epoch.
        train_acc: Training accuracy after the last epoch trained.
        epochs: Epochs completed.
        train_curve: Training accuracy per epoch.
        val_curve: Validation accuracy per epoch.
        loss_curve: Mean training loss per epoch.
        seconds: Wall time of the trial.
        error: What went wrong, for DIVERGED, TIMEOUT and FAILED trials.
        n_val: Validation images the accuracies were measured on (None in logs written before
            it was recorded).
        metrics: An own objective's final metrics other than the accuracies (``val_loss``).
        curves: An own objective's per-epoch values other than the accuracies and the loss,
            by name (``val_loss``: one value per epoch reported).
    """

    _CURVES = ("train_curve", "val_curve", "loss_curve")
    _SCORES = ("val_acc", "best_val_acc", "train_acc")

    number: int
    params: dict[str, Any]
    state: TrialState
    val_acc: float | None = None
    best_val_acc: float | None = None
    train_acc: float | None = None
    epochs: int = 0
    train_curve: tuple[float, ...] = ()
    val_curve: tuple[float, ...] = ()
    loss_curve: tuple[float | None, ...] = ()
    seconds: float = 0.0
    error: str | None = None
    n_val: int | None = None
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    curves: dict[str, tuple[float | None, ...]] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class RepeatResult(_Record):
    """One confirm-stage run: a search trial's params trained again with fresh seeds.

    The initial weights and the batch order come from streams derived from the study seed,
    ``number`` and ``repeat`` alone; the train/validation split is the search's own. Every
    confirmed run is also scored on the dataset's test part, which never selects anything.

    Attributes:
        number: The search trial whose params this run repeats.
        repeat: The repeat index, 0-based; ``refit`` runs have their own index space.
        params: The searched values (the trial's).
        state: How it ended.
        train_acc: Training accuracy after the last epoch.
        val_acc: Validation accuracy after the last epoch (None for a refit, which trains on
            the validation images too).
        test_acc: Test accuracy after the last epoch (None when the dataset has no test part).
        best_test_acc: The highest test accuracy of any epoch (only with per-epoch test curves).
        epochs: Epochs completed.
        train_curve: Training accuracy per epoch.
        val_curve: Validation accuracy per epoch.
        test_curve: Test accuracy per epoch, when asked for (it costs a pass over the test set
            each epoch); empty otherwise.
        loss_curve: Mean training loss per epoch.
        seconds: Wall time of the run.
        error: What went wrong, for DIVERGED, TIMEOUT and FAILED runs.
        n_val: Validation images.
        n_test: Test images (None without a test part).
        refit: Trained on training plus validation images (scikit-learn's ``refit``).
        metrics: An own objective's final metrics other than the accuracies.
        curves: An own objective's per-epoch values other than the accuracies and the loss.
    """

    _CURVES = ("train_curve", "val_curve", "test_curve", "loss_curve")
    _SCORES = ("train_acc", "val_acc", "test_acc", "best_test_acc")

    number: int
    repeat: int
    params: dict[str, Any]
    state: TrialState
    refit: bool = False
    n_val: int | None = None
    n_test: int | None = None
    train_acc: float | None = None
    val_acc: float | None = None
    test_acc: float | None = None
    best_test_acc: float | None = None
    epochs: int = 0
    seconds: float = 0.0
    error: str | None = None
    train_curve: tuple[float, ...] = ()
    val_curve: tuple[float, ...] = ()
    test_curve: tuple[float, ...] = ()
    loss_curve: tuple[float | None, ...] = ()
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    curves: dict[str, tuple[float | None, ...]] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> tuple[int, int, bool]:
        """What identifies the run within a study: trial number, repeat index, refit."""
        return self.number, self.repeat, self.refit


#: The built-in network's goal, and every study's unless an own objective names another.
DEFAULT_GOAL = Goal()
