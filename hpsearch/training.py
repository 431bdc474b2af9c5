"""One trial: the training settings, the trainer, and the frozen record it returns.

:func:`train_trial` is pure and picklable: settings, params, study seed and trial number in, a
:class:`TrialResult` out. It never raises: an exception becomes a FAILED record, a NaN or
infinite loss a DIVERGED one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np
import threadpoolctl

from hpsearch.data import Split, make_split
from hpsearch.nn.activations import ACTIVATIONS
from hpsearch.nn.net import MultiLayerNet, init_std
from hpsearch.nn.optimizers import OPTIMIZERS, make_optimizer, optimizer_settings
from hpsearch.seeding import TRAIN, rng_for

__all__ = [
    "Checkpoint",
    "TrainConfig",
    "TrialResult",
    "TrialState",
    "Trainer",
    "one_blas_thread",
    "parse_hidden",
    "train_rung",
    "train_trial",
]


def parse_hidden(value: Any) -> tuple[int, ...]:
    """Hidden layer sizes from ``"100,100"``, ``"100-100"``, ``"100x6"``, an int or a sequence.

    Raises:
        ValueError: Not a list of positive integers.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            if "x" in text:
                units, _, count = text.partition("x")
                sizes = (int(units),) * int(count)
            else:
                sizes = tuple(int(v) for v in text.replace("-", ",").split(",") if v.strip())
        except ValueError:
            raise ValueError(
                f"hidden must look like '100,100,100' or '100x3', but got {value!r}"
            ) from None
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        sizes = (int(value),)
    else:
        try:
            sizes = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"hidden must be a list of layer sizes, but got {value!r}") from None
    if any(s < 1 for s in sizes):
        raise ValueError(f"hidden layer sizes must be positive integers, but got {value!r}")
    return sizes


@dataclass(frozen=True)
class TrainConfig:
    """The settings of one training run; every field can be fixed or searched by name.

    The defaults are the seed experiment: the first 500 MNIST images with 20% held out,
    ``MultiLayerNet(784, [100] * 6, 10)``, ReLU, He init, plain SGD, 50 epochs of batch 100.

    ``momentum`` (momentum, nesterov), ``decay_rate`` (rmsprop), ``beta1``/``beta2`` (adam) and
    ``hswish_n`` (hswish's width) left at None take the optimizer's or activation's own
    default, and are ignored by optimizers and activations that do not take them, so that
    ``optimizer=choice:sgd,momentum`` can be searched beside ``momentum``. ``batchnorm``,
    ``dropout`` (ratio) and ``flooding`` (level b) are the regularisers of the book's
    MultiLayerNetExtend and of Flooding.

    ``train_eval`` says how the per-epoch training accuracy is measured: ``"running"`` counts
    the epoch's mini-batches as they are trained on, from the forward passes the steps make
    anyway (free; Keras's convention); ``"full"`` makes one more pass over the whole training
    set after each epoch, as the book's Trainer does (about a third more arithmetic on the seed
    experiment). Validation accuracy is always a full pass after the epoch.

    Example:
        >>> TrainConfig().with_params({"lr": 1e-3}).lr
        0.001
    """

    dataset: str = "mnist"
    samples: int = 500
    val_ratio: float = 0.2
    hidden: tuple[int, ...] = (100,) * 6
    activation: str = "relu"
    weight_init: str | float = "relu"
    weight_decay: float = 0.0
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float | None = None
    decay_rate: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    hswish_n: float | None = None
    batchnorm: bool = False
    dropout: float = 0.0
    flooding: float | None = None
    epochs: int = 50
    batch_size: int = 100
    dtype: str = "float32"
    time_limit: float | None = None
    train_eval: str = "running"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", parse_hidden(self.hidden))
        for name in ("samples", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, but got {value!r}")
            object.__setattr__(self, name, int(value))
        if not 0 < self.val_ratio < 1:
            raise ValueError(f"val_ratio must lie in (0, 1), but got {self.val_ratio!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, but got {self.lr!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a number >= 0, but got {self.weight_decay!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, but got {self.activation!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, but got {self.optimizer!r}")
        init_std(self.weight_init, 1)
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', but got {self.dtype!r}")
        if not isinstance(self.batchnorm, bool):
            raise ValueError(f"batchnorm must be true or false, but got {self.batchnorm!r}")
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must lie in [0, 1), but got {self.dropout!r}")
        if self.flooding is not None and not (isinstance(self.flooding, (int, float)) and self.flooding >= 0):
            raise ValueError(f"flooding must be a level >= 0 or None, but got {self.flooding!r}")
        for name in ("momentum", "decay_rate", "beta1", "beta2"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and 0 <= value < 1):
                raise ValueError(f"{name} must lie in [0, 1), but got {value!r}")
        if self.hswish_n is not None and not (isinstance(self.hswish_n, (int, float)) and self.hswish_n > 0):
            raise ValueError(f"hswish_n must be positive, but got {self.hswish_n!r}")
        if self.train_eval not in ("running", "full"):
            raise ValueError(f"train_eval must be 'running' or 'full', but got {self.train_eval!r}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be positive seconds, but got {self.time_limit!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def with_params(self, params: Mapping[str, Any]) -> TrainConfig:
        """A copy with ``params`` (a trial's searched values) in place of the fixed settings.

        Raises:
            ValueError: A name is not a setting, or a value is invalid.
        """
        unknown = sorted(set(params) - set(self.field_names()))
        if unknown:
            raise ValueError(
                f"unknown training setting(s) {unknown}; expected names from {list(self.field_names())}"
            )
        return dataclasses.replace(self, **params)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hidden"] = list(self.hidden)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainConfig:
        return cls(**data)


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


@dataclass(frozen=True)
class TrialResult:
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
    """

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

    @property
    def ok(self) -> bool:
        """Whether the trial has a score to rank by (COMPLETE or PRUNED)."""
        return self.state in (TrialState.COMPLETE, TrialState.PRUNED)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["state"] = self.state.value
        for key in ("train_curve", "val_curve", "loss_curve"):
            data[key] = [_finite_or_none(v) for v in data[key]]
        for key in ("val_acc", "best_val_acc", "train_acc"):
            data[key] = _finite_or_none(data[key])
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrialResult:
        data = dict(data)
        data["state"] = TrialState(data["state"])
        for key in ("train_curve", "val_curve", "loss_curve"):
            data[key] = tuple(data.get(key, ()))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class History:
    """What the trainer records, epoch by epoch."""

    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    state: TrialState = TrialState.COMPLETE
    error: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    """Everything a paused trial needs to continue exactly: weights, optimizer, generator, curves.

    Plain arrays and JSON-ready values only, so it is stored with :func:`numpy.savez` and read
    back without unpickling (see :meth:`save` and :meth:`load`).
    """

    number: int
    epochs: int
    net: dict[str, np.ndarray]
    optimizer: dict[str, Any]
    rng_state: dict[str, Any]
    train_acc: tuple[float, ...]
    val_acc: tuple[float, ...]
    loss: tuple[float, ...]

    def save(self, path: str | Any) -> None:
        meta = {
            "number": self.number, "epochs": self.epochs, "rng_state": self.rng_state,
            "train_acc": list(self.train_acc), "val_acc": list(self.val_acc), "loss": list(self.loss),
            "optimizer_scalars": {
                k: v.item() if isinstance(v, np.generic) else v
                for k, v in self.optimizer.items() if not isinstance(v, np.ndarray)
            },
        }
        arrays = {f"net/{k}": v for k, v in self.net.items()}
        arrays.update({f"opt/{k}": v for k, v in self.optimizer.items() if isinstance(v, np.ndarray)})
        tmp = f"{path}.tmp.npz"
        np.savez(tmp, __meta__=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Any) -> Checkpoint:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            net = {k[4:]: data[k] for k in data.files if k.startswith("net/")}
            opt: dict[str, Any] = {k[4:]: data[k] for k in data.files if k.startswith("opt/")}
        opt.update(meta["optimizer_scalars"])
        return cls(meta["number"], meta["epochs"], net, opt, meta["rng_state"],
                   tuple(meta["train_acc"]), tuple(meta["val_acc"]), tuple(meta["loss"]))


class Trainer:
    """Mini-batch training in whole epochs: each epoch is one shuffled pass of ``ceil(n / batch)`` steps.

    After each epoch it records training and validation accuracy (one forward pass over both
    sets together) and the mean loss of the epoch's steps (already computed by the steps, so
    recording it costs nothing). Training can stop after any epoch and continue later from a
    :class:`Checkpoint` with the very same result as an unbroken run.

    Args:
        net: The network.
        optimizer: Anything with ``update(params, grads)`` that works elementwise: it is given
            ``{"all": net.param_vector}`` and ``{"all": net.grad_vector}``.
        split: Training and validation arrays.
        epochs: Number of passes in all.
        batch_size: Images per step.
        rng: Draws the batch order.
        time_limit: Seconds after which training stops at the end of an epoch.
        full_train_pass: Measure training accuracy with a pass over the training set after each
            epoch (the book's way) instead of counting the epoch's mini-batches as they train.
    """

    def __init__(
        self,
        net: MultiLayerNet,
        optimizer: Any,
        split: Split,
        *,
        epochs: int,
        batch_size: int,
        rng: np.random.Generator,
        time_limit: float | None = None,
        full_train_pass: bool = False,
    ) -> None:
        self.net = net
        self.optimizer = optimizer
        self.split = split
        self.epochs = epochs
        self.batch_size = batch_size
        self.rng = rng
        self.time_limit = time_limit
        self.full_train_pass = full_train_pass
        self.n_train = split.x_train.shape[0]
        self.history = History()
        # The optimizer steps all params at once: one vector, under one key (see MultiLayerNet).
        self._params = {"all": net.param_vector}
        self._grads = {"all": net.grad_vector}

    def _accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        return float(np.count_nonzero(self.net.predict(x).argmax(axis=1) == t)) / len(t)

    def train(self, until: int | None = None) -> History:
        """Trains from the last epoch recorded up to epoch ``until`` (default: all epochs)."""
        until = self.epochs if until is None else min(until, self.epochs)
        x, t = self.split.x_train, self.split.t_train
        steps = -(-self.n_train // self.batch_size)
        start = time.perf_counter()
        h = self.history
        # Overflow on the way to a NaN is an outcome we record, not a warning to print.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(len(h.val_acc) + 1, until + 1):
                order = self.rng.permutation(self.n_train)
                total, hits = 0.0, 0
                for step in range(steps):
                    idx = order[step * self.batch_size : (step + 1) * self.batch_size]
                    t_batch = t[idx]
                    loss, _ = self.net.loss_and_gradient(x[idx], t_batch)
                    if not math.isfinite(loss):
                        h.state = TrialState.DIVERGED
                        h.error = f"loss became {loss} at epoch {epoch}"
                        return h
                    # The step's own forward pass tells which images it got right, for free.
                    hits += int(np.count_nonzero(self.net.last_layer.y.argmax(axis=1) == t_batch))
                    self.optimizer.update(self._params, self._grads)
                    total += loss
                if self.full_train_pass:
                    h.train_acc.append(self._accuracy(x, t))
                else:
                    h.train_acc.append(hits / self.n_train)
                h.val_acc.append(self._accuracy(self.split.x_val, self.split.t_val))
                h.loss.append(total / steps)
                if self.time_limit is not None and time.perf_counter() - start > self.time_limit:
                    if epoch < self.epochs:
                        h.state = TrialState.TIMEOUT
                        h.error = f"time limit of {self.time_limit:g} s reached after epoch {epoch}"
                    return h
        return h

    def checkpoint(self, number: int) -> Checkpoint:
        """The state after the epochs trained so far (the state dicts are copies already)."""
        return Checkpoint(
            number=number,
            epochs=len(self.history.val_acc),
            net=self.net.state_dict(),
            optimizer=self.optimizer.state_dict(),
            rng_state=self.rng.bit_generator.state,
            train_acc=tuple(self.history.train_acc),
            val_acc=tuple(self.history.val_acc),
            loss=tuple(self.history.loss),
        )

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continues from ``checkpoint``: arrays are copied into the network's and optimizer's own."""
        self.net.load_state_dict(checkpoint.net)
        self.optimizer.load_state_dict(checkpoint.optimizer)
        # Checkpoints written before the optimizer stepped one vector hold its state per param.
        for slot, arrays in list((getattr(self.optimizer, "state", None) or {}).items()):
            if set(arrays) == set(self.net.params):
                self.optimizer.state[slot] = {"all": self.net.pack(arrays)}
        self.rng.bit_generator.state = checkpoint.rng_state
        self.history = History(list(checkpoint.train_acc), list(checkpoint.val_acc), list(checkpoint.loss))


def build_net(config: TrainConfig, split: Split, rng: np.random.Generator) -> MultiLayerNet:
    """The network ``config`` describes, sized for ``split``."""
    return MultiLayerNet(
        split.input_size,
        config.hidden,
        split.n_classes,
        activation=config.activation,
        weight_init_std=config.weight_init,
        weight_decay_lambda=config.weight_decay,
        activation_options={"n": config.hswish_n} if config.activation == "hswish" else None,
        use_batchnorm=config.batchnorm,
        dropout_ratio=config.dropout,
        flooding=config.flooding,
        rng=rng,
        dtype=config.dtype,
    )


def build_optimizer(config: TrainConfig) -> Any:
    """The optimizer ``config`` names, given only the settings it takes."""
    settings = {name: getattr(config, name) for name in optimizer_settings(config.optimizer)}
    return make_optimizer(config.optimizer, config.lr, **settings)


@functools.cache
def _blas() -> threadpoolctl.ThreadpoolController:
    # Made once: inspecting the loaded libraries costs ~0.2 ms, a limit on a known one ~0.01 ms.
    return threadpoolctl.ThreadpoolController()


def _take_blas_control() -> None:
    # OpenBLAS has one thread pool per process, and threadpoolctl >= 3.8 lets only the first
    # thread that set it change it again (others silently do nothing). The count below is the
    # arbiter here, so whichever thread sets or restores the limit takes control for that call.
    cls = getattr(threadpoolctl, "OpenBLASController", None)
    clear = getattr(cls, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


_pin_lock = threading.Lock()
_pin_depth = 0
_pin_limiter: Any = None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Runs the block with the BLAS library on one thread, whoever calls it.

    A matrix product split over a different number of threads sums in a different order, and
    float32 results would then depend on the caller's environment (``OPENBLAS_NUM_THREADS``,
    the number of cores, a notebook's settings). Every trial therefore trains on one BLAS
    thread, in a worker process or in the caller's own. The limit is process-wide, so nested
    and concurrent blocks (the threading backend) share it: the first sets it, the last one out
    gives the caller's setting back.
    """
    global _pin_depth, _pin_limiter
    with _pin_lock:
        if _pin_depth == 0:
            _take_blas_control()
            _pin_limiter = _blas().limit(limits=1, user_api="blas")
        _pin_depth += 1
    try:
        yield
    finally:
        with _pin_lock:
            _pin_depth -= 1
            if _pin_depth == 0:
                _take_blas_control()
                _pin_limiter.restore_original_limits()
                _pin_limiter = None
                _take_blas_control()


def train_trial(config: TrainConfig, params: Mapping[str, Any], seed: int, number: int) -> TrialResult:
    """Trains one trial and returns its record; never raises for a trial's own failure.

    The same arguments give the same record anywhere: the trial computes on one BLAS thread
    (see :func:`one_blas_thread`) whatever the caller's thread settings.

    Args:
        config: The study's fixed settings.
        params: This trial's searched values, overriding ``config``.
        seed: The study seed (fixes the split; with ``number`` fixes init and batch order).
        number: The trial number.

    Returns:
        The frozen record: COMPLETE, DIVERGED, TIMEOUT or FAILED.
    """
    return train_rung(config, params, seed, number)[0]


def train_rung(
    config: TrainConfig,
    params: Mapping[str, Any],
    seed: int,
    number: int,
    until: int | None = None,
    checkpoint: Checkpoint | None = None,
) -> tuple[TrialResult, Checkpoint | None]:
    """Trains one trial up to epoch ``until``, from ``checkpoint`` if given.

    Returns:
        The record (state PRUNED while the trial is paused before its last epoch, to be
        confirmed or continued by the study) and, for a paused trial, its checkpoint.
    """
    with one_blas_thread():
        return _train_rung(config, params, seed, number, until, checkpoint)


def _train_rung(
    config: TrainConfig,
    params: Mapping[str, Any],
    seed: int,
    number: int,
    until: int | None,
    checkpoint: Checkpoint | None,
) -> tuple[TrialResult, Checkpoint | None]:
    start = time.perf_counter()
    params = dict(params)
    try:
        cfg = config.with_params(params)
        split = make_split(cfg.dataset, cfg.samples, cfg.val_ratio, seed, cfg.dtype)
        rng = rng_for(seed, number, TRAIN)
        net = build_net(cfg, split, rng)
        optimizer = build_optimizer(cfg)
        trainer = Trainer(
            net, optimizer, split, epochs=cfg.epochs, batch_size=cfg.batch_size, rng=rng,
            time_limit=cfg.time_limit, full_train_pass=cfg.train_eval == "full",
        )
        if checkpoint is not None:
            trainer.restore(checkpoint)
        history = trainer.train(until)
        paused = history.state is TrialState.COMPLETE and len(history.val_acc) < cfg.epochs
        saved = trainer.checkpoint(number) if paused else None
    except Exception as exc:  # a trial's failure is its outcome, never the study's
        return TrialResult(
            number, params, TrialState.FAILED, seconds=time.perf_counter() - start,
            error=f"{type(exc).__name__}: {exc}",
        ), None
    seconds = time.perf_counter() - start
    result = TrialResult(
        number=number,
        params=params,
        state=TrialState.PRUNED if paused else history.state,
        val_acc=history.val_acc[-1] if history.val_acc else None,
        best_val_acc=max(history.val_acc) if history.val_acc else None,
        train_acc=history.train_acc[-1] if history.train_acc else None,
        epochs=len(history.val_acc),
        train_curve=tuple(history.train_acc),
        val_curve=tuple(history.val_acc),
        loss_curve=tuple(history.loss),
        seconds=seconds,
        error=history.error,
    )
    return result, saved
