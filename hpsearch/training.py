"""One trial: the trainer, and the pure function that trains a trial and returns its record.

:func:`train_trial` is pure and picklable: settings, params, study seed and trial number in, a
:class:`~hpsearch.trial.TrialResult` out. It never raises: an exception becomes a FAILED record,
a NaN or infinite loss a DIVERGED one.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np
import threadpoolctl

from hpsearch.config import TrainConfig
from hpsearch.data import Split, make_split
from hpsearch.nn.net import MultiLayerNet
from hpsearch.nn.optimizers import make_optimizer, optimizer_settings
from hpsearch.seeding import TRAIN, rng_for
from hpsearch.trial import Checkpoint, TrialResult, TrialState

__all__ = [
    "Trainer",
    "build_net",
    "build_optimizer",
    "one_blas_thread",
    "train_rung",
    "train_trial",
]


@dataclass
class History:
    """What the trainer records, epoch by epoch."""

    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    state: TrialState = TrialState.COMPLETE
    error: str | None = None


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
        n_val=len(split.t_val),
    )
    return result, saved
