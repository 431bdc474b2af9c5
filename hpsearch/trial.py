"""The records a trial leaves: how it ended, its scores and curves, and a paused trial's state.

A leaf: it imports nothing of hpsearch, so that strategies, pruning, reports and plots read
trial records without importing the trainer.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

__all__ = ["Checkpoint", "RepeatResult", "TrialResult", "TrialState"]


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
        return data

    @classmethod
    def from_json(cls: type[_R], data: Mapping[str, Any]) -> _R:
        data = dict(data)
        data["state"] = TrialState(data["state"])
        for key in cls._CURVES:
            data[key] = tuple(data.get(key, ()))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


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

    @property
    def key(self) -> tuple[int, int, bool]:
        """What identifies the run within a study: trial number, repeat index, refit."""
        return self.number, self.repeat, self.refit


@dataclass(frozen=True)
class Checkpoint:
    """Everything a paused trial needs to continue exactly: weights, optimizer, generator, curves.

    Plain arrays and JSON-ready values only, so it is stored with :func:`numpy.savez` and read
    back without unpickling (see :meth:`to_arrays` and :meth:`from_arrays`).
    """

    number: int
    epochs: int
    net: dict[str, np.ndarray]
    optimizer: dict[str, Any]
    rng_state: dict[str, Any]
    train_acc: tuple[float, ...]
    val_acc: tuple[float, ...]
    loss: tuple[float, ...]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named arrays for :func:`numpy.savez`; :meth:`from_arrays` reads them back."""
        meta = {
            "number": self.number,
            "epochs": self.epochs,
            "rng_state": self.rng_state,
            "train_acc": list(self.train_acc),
            "val_acc": list(self.val_acc),
            "loss": list(self.loss),
            "optimizer_scalars": {
                k: v.item() if isinstance(v, np.generic) else v
                for k, v in self.optimizer.items()
                if not isinstance(v, np.ndarray)
            },
        }
        arrays = {f"net/{k}": v for k, v in self.net.items()}
        arrays.update(
            {f"opt/{k}": v for k, v in self.optimizer.items() if isinstance(v, np.ndarray)}
        )
        return {"__meta__": np.array(json.dumps(meta)), **arrays}

    @classmethod
    def from_arrays(cls, data: Mapping[str, np.ndarray]) -> Checkpoint:
        meta = json.loads(str(data["__meta__"]))
        net = {k[4:]: data[k] for k in data if k.startswith("net/")}
        opt: dict[str, Any] = {k[4:]: data[k] for k in data if k.startswith("opt/")}
        opt.update(meta["optimizer_scalars"])
        return cls(
            meta["number"],
            meta["epochs"],
            net,
            opt,
            meta["rng_state"],
            tuple(meta["train_acc"]),
            tuple(meta["val_acc"]),
            tuple(meta["loss"]),
        )
