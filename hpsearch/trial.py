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

__all__ = [
    "Goal",
    "ObjectiveState",
    "RepeatResult",
    "Trial",
    "TrialData",
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


@dataclass(frozen=True)
class ObjectiveState:
    """A paused trial's state kept by its objective (:meth:`Trial.set_checkpoint`), with the
    epochs it reported so far; stored with :func:`numpy.savez`, without pickle."""

    number: int
    state: dict[str, Any]
    reports: tuple[dict[str, float], ...]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named arrays for :func:`numpy.savez`; :meth:`from_arrays` reads them back.

        Raises:
            ValueError: The state is not a mapping of names to arrays and JSON-ready values.
        """
        if not isinstance(self.state, Mapping):
            raise ValueError(
                "trial.set_checkpoint takes a dict of arrays and JSON-ready values, "
                f"not {type(self.state).__name__}"
            )
        arrays = {f"state/{k}": v for k, v in self.state.items() if isinstance(v, np.ndarray)}
        values = {str(k): v for k, v in self.state.items() if not isinstance(v, np.ndarray)}
        meta = {"number": self.number, "values": values, "reports": list(self.reports)}
        try:
            text = json.dumps(meta, allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"trial.set_checkpoint: keep arrays and JSON-ready values only ({exc})"
            ) from None
        return {"__state__": np.array(text), **arrays}

    @classmethod
    def from_arrays(cls, data: Mapping[str, np.ndarray]) -> ObjectiveState:
        meta = json.loads(str(data["__state__"]))
        state = {**meta["values"], **{k[6:]: data[k] for k in data if k.startswith("state/")}}
        return cls(meta["number"], state, tuple(meta["reports"]))


@dataclass(frozen=True)
class TrialData:
    """The study's split, as NumPy arrays, handed to an objective as ``trial.data``.

    ``x_test`` and ``t_test`` are None in the search, so that the test part chooses nothing;
    confirm-stage runs get them.
    """

    x_train: np.ndarray
    t_train: np.ndarray
    x_val: np.ndarray
    t_val: np.ndarray
    x_test: np.ndarray | None = None
    t_test: np.ndarray | None = None


class Trial:
    """What an objective is called with: one run's params, seed, budget, data and reporter.

    Before the call, hpsearch has seeded the global ``np.random`` and ``random`` generators
    from :attr:`seed`, in whichever process runs it, so book-style code that draws from
    ``np.random`` gives the same numbers with any number of workers and after a resume.

    Attributes:
        params: The searched values (a dict).
        number: The trial number within the study (0-based).
        repeat: 0 in the search; 1, 2, ... in confirm-stage runs.
        seed: An int derived from the study seed, the trial number and the repeat.
        epochs: Train up to this epoch in this call: the study's epochs, or under pruning the
            rung's budget (a trial continued from :attr:`checkpoint` has trained some already).
        data: The split (:class:`TrialData`). For a refit run (:attr:`refit`) the validation
            images are part of the training arrays and the validation arrays are empty.
        refit: A confirm-stage run that trains on the training and validation images together.
        test_curve: The study asks for the test score after every epoch (``test_acc`` in
            :meth:`report`), where the objective can give it.
        checkpoint: What this trial's previous rung kept with :meth:`set_checkpoint` (under
            pruning), or None: train from scratch.

    Example:
        >>> def objective(trial):  # doctest: +SKIP
        ...     net = TwoLayerNet(784, 50, 10)
        ...     for epoch in range(trial.epochs):
        ...         train_one_epoch(net, trial.data.x_train, trial.data.t_train, trial.params["lr"])
        ...         trial.report(epoch, val_acc=net.accuracy(trial.data.x_val, trial.data.t_val))
        ...     return net.accuracy(trial.data.x_val, trial.data.t_val)
    """

    def __init__(
        self,
        number: int,
        params: Mapping[str, Any],
        seed: int,
        epochs: int,
        data: TrialData,
        repeat: int = 0,
        *,
        refit: bool = False,
        test_curve: bool = False,
        checkpoint: Any = None,
        stream: np.random.SeedSequence | None = None,
    ) -> None:
        self.number = number
        self.params: dict[str, Any] = dict(params)
        self.seed = seed
        self.epochs = epochs
        self.data = data
        self.repeat = repeat
        self.refit, self.test_curve = refit, test_curve
        #: What :meth:`report` was told, one dict per epoch reported, in order.
        self.reports: list[dict[str, float]] = []
        if isinstance(checkpoint, ObjectiveState):
            self.reports = [dict(r) for r in checkpoint.reports]
            checkpoint = checkpoint.state
        self.checkpoint = checkpoint
        #: What :meth:`set_checkpoint` was given in this call.
        self.kept: Any = None
        self._stream = stream
        self._rng: np.random.Generator | None = None

    @property
    def rng(self) -> np.random.Generator:
        """This run's own generator (one per trial and repeat, from the study seed): the
        built-in network draws its initial weights and batch order from it."""
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed if self._stream is None else self._stream)
        return self._rng

    def report(self, epoch: int, **metrics: float) -> None:
        """Records per-epoch values (``train_acc``, ``val_acc``, ``loss`` or any name); they
        feed ``curves.csv``, the Best-N grid and the progress bar.

        Reporting an epoch again (a rung that retrains from scratch) replaces it and every
        later one.

        Raises:
            ValueError: A value is not a number.
        """
        row: dict[str, float] = {"epoch": float(epoch)}
        for name, value in metrics.items():
            try:
                row[name] = float(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"trial.report({name}=...) takes numbers, but got {type(value).__name__}"
                ) from None
        while self.reports and self.reports[-1]["epoch"] >= row["epoch"]:
            self.reports.pop()
        self.reports.append(row)

    def set_checkpoint(self, state: Any) -> None:
        """Keeps ``state`` for this trial's next rung under pruning (it gets it back as
        :attr:`checkpoint`), in the study folder, so a resumed study continues from it too.

        Args:
            state: A mapping of names to NumPy arrays and JSON-ready values (numbers, strings,
                lists, dicts): what the objective needs to continue training, such as weights
                and the optimizer's moments. It is stored without pickle.

        Raises:
            ValueError: ``state`` is not such a mapping.
        """
        ObjectiveState(self.number, state, ()).to_arrays()  # checks that it can be stored
        self.kept = state

    def saved(self) -> ObjectiveState | None:
        """What the study stores for the next rung: the kept state and the epochs reported."""
        if self.kept is None:
            return None
        return ObjectiveState(self.number, dict(self.kept), tuple(self.reports))

    def curve(self, name: str) -> tuple[float, ...]:
        """The values reported under ``name``, epoch by epoch."""
        return tuple(r[name] for r in self.reports if name in r)

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, repeat={self.repeat}, params={self.params})"
