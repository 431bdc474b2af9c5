"""One trial: the trainer, and the pure function that trains a trial and returns its record.

:func:`train_trial` is pure and picklable: settings, params, study seed and trial number in, a
:class:`~hpsearch.trial.TrialResult` out. It never raises: an exception becomes a FAILED record,
a NaN or infinite loss a DIVERGED one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpsearch.blas import one_blas_thread
from hpsearch.builtin.config import TrainConfig
from hpsearch.builtin.nn.net import MultiLayerNet
from hpsearch.builtin.nn.optimizers import make_optimizer, optimizer_settings
from hpsearch.data.datasets import Split, make_split
from hpsearch.seeding import REFIT, REPEAT, TRAIN, rng_for
from hpsearch.trial import Checkpoint, RepeatResult, TrialResult, TrialState

__all__ = [
    "Trainer",
    "build_net",
    "build_optimizer",
    "net_for",
    "train_repeat",
    "train_rung",
    "train_trial",
]


@dataclass
class History:
    """What the trainer records, epoch by epoch."""

    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    state: TrialState = TrialState.COMPLETE
    error: str | None = None


class Trainer:
    """Mini-batch training in whole epochs: each epoch is one shuffled pass of
    ``ceil(n / batch)`` steps.

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
        test: Images and labels scored after every epoch (``history.test_acc``); they only
            report, never steer the training.
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
        test: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.net, self.optimizer, self.split, self.rng = net, optimizer, split, rng
        self.epochs, self.batch_size, self.time_limit = epochs, batch_size, time_limit
        self.full_train_pass, self.test = full_train_pass, test
        self.n_train = split.x_train.shape[0]
        self.history = History()
        # The optimizer steps all params at once: one vector, under one key (see MultiLayerNet).
        self._params = {"all": net.param_vector}
        self._grads = {"all": net.grad_vector}

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
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
            for epoch in range(len(h.loss) + 1, until + 1):
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
                    probs = self.net.last_layer.y
                    if probs is None:  # set by the forward pass of loss_and_gradient just above
                        raise RuntimeError("the network's loss layer kept no probabilities")
                    hits += int(np.count_nonzero(probs.argmax(axis=1) == t_batch))
                    self.optimizer.update(self._params, self._grads)
                    total += loss
                if self.full_train_pass:
                    h.train_acc.append(self.accuracy(x, t))
                else:
                    h.train_acc.append(hits / self.n_train)
                if len(self.split.t_val):
                    h.val_acc.append(self.accuracy(self.split.x_val, self.split.t_val))
                h.loss.append(total / steps)
                if self.test is not None:
                    h.test_acc.append(self.accuracy(*self.test))
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
            epochs=len(self.history.loss),
            net=self.net.state_dict(),
            optimizer=self.optimizer.state_dict(),
            rng_state=dict(self.rng.bit_generator.state),
            train_acc=tuple(self.history.train_acc),
            val_acc=tuple(self.history.val_acc),
            loss=tuple(self.history.loss),
        )

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continues from ``checkpoint``: arrays are copied into the network's and
        optimizer's own.
        """
        self.net.load_state_dict(checkpoint.net)
        self.optimizer.load_state_dict(checkpoint.optimizer)
        # Checkpoints written before the optimizer stepped one vector hold its state per param.
        for slot, arrays in list((getattr(self.optimizer, "state", None) or {}).items()):
            if set(arrays) == set(self.net.params):
                self.optimizer.state[slot] = {"all": self.net.pack(arrays)}
        self.rng.bit_generator.state = checkpoint.rng_state
        self.history = History(
            list(checkpoint.train_acc), list(checkpoint.val_acc), list(checkpoint.loss)
        )


def build_net(config: TrainConfig, split: Split, rng: np.random.Generator) -> MultiLayerNet:
    """The network ``config`` describes, sized for ``split``."""
    return net_for(config, split.input_size, split.n_classes, rng)


def net_for(
    config: TrainConfig, input_size: int, output_size: int, rng: np.random.Generator | None = None
) -> MultiLayerNet:
    """The network ``config`` describes, for ``input_size`` features and ``output_size`` classes."""
    return MultiLayerNet(
        input_size,
        config.hidden,
        output_size,
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


def train_trial(
    config: TrainConfig, params: Mapping[str, Any], seed: int, number: int
) -> TrialResult:
    """Trains one trial and returns its record; never raises for a trial's own failure.

    The same arguments give the same record anywhere: the trial computes on one BLAS thread
    (see :func:`hpsearch.blas.one_blas_thread`) whatever the caller's thread settings.

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
            net,
            optimizer,
            split,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            rng=rng,
            time_limit=cfg.time_limit,
            full_train_pass=cfg.train_eval == "full",
        )
        if checkpoint is not None:
            trainer.restore(checkpoint)
        history = trainer.train(until)
        paused = history.state is TrialState.COMPLETE and len(history.val_acc) < cfg.epochs
        saved = trainer.checkpoint(number) if paused else None
    except Exception as exc:  # a trial's failure is its outcome, never the study's
        return TrialResult(
            number,
            params,
            TrialState.FAILED,
            seconds=time.perf_counter() - start,
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


def train_repeat(
    config: TrainConfig,
    params: Mapping[str, Any],
    seed: int,
    number: int,
    repeat: int,
    *,
    refit: bool = False,
    test_curve: bool = False,
) -> tuple[RepeatResult, MultiLayerNet | None]:
    """Trains trial ``number``'s params again with fresh seeds, and scores it on the test part.

    The split is the search's own (the study seed fixes it); the initial weights and the batch
    order come from a stream of the study seed, ``number`` and ``repeat`` alone, so the result
    is the same on any worker, any number of workers, and after a resume.

    Args:
        config: The study's fixed settings.
        params: The searched values of trial ``number``.
        seed: The study seed.
        number: The trial repeated.
        repeat: The repeat index.
        refit: Train on the training and validation images together (no validation score).
        test_curve: Score the test part after every epoch (one more forward pass over it each
            epoch), for the epoch-by-epoch columns of a comparison; otherwise once at the end.

    Returns:
        The frozen record (never raises for the run's own failure: FAILED, DIVERGED, TIMEOUT)
        and the trained network (None if the run failed before it had one).
    """
    from hpsearch.data.datasets import load_test

    with one_blas_thread():
        start = time.perf_counter()
        params = dict(params)
        try:
            cfg = config.with_params(params)
            split = make_split(cfg.dataset, cfg.samples, cfg.val_ratio, seed, cfg.dtype)
            test = load_test(cfg.dataset, cfg.samples, cfg.dtype)
            rng = rng_for(seed, number, repeat, REFIT if refit else REPEAT)
            net = build_net(cfg, split, rng)  # sized by the search's split, labels of both parts
            if refit:
                split = Split(
                    np.concatenate([split.x_train, split.x_val]),
                    np.concatenate([split.t_train, split.t_val]),
                    split.x_val[:0],
                    split.t_val[:0],
                )
            trainer = Trainer(
                net,
                build_optimizer(cfg),
                split,
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                rng=rng,
                time_limit=cfg.time_limit,
                full_train_pass=cfg.train_eval == "full",
                test=test if test_curve else None,
            )
            h = trainer.train()
            if test is None:
                final_test = None
            elif h.test_acc:
                final_test = h.test_acc[-1]
            else:
                final_test = trainer.accuracy(*test) if h.state is not TrialState.DIVERGED else None
        except Exception as exc:  # a run's failure is its outcome, never the study's
            return RepeatResult(
                number,
                repeat,
                params,
                TrialState.FAILED,
                seconds=time.perf_counter() - start,
                error=f"{type(exc).__name__}: {exc}",
                refit=refit,
            ), None
        return RepeatResult(
            number=number,
            repeat=repeat,
            params=params,
            state=h.state,
            train_acc=h.train_acc[-1] if h.train_acc else None,
            val_acc=h.val_acc[-1] if h.val_acc else None,
            test_acc=final_test,
            best_test_acc=max(h.test_acc) if h.test_acc else None,
            epochs=len(h.loss),
            train_curve=tuple(h.train_acc),
            val_curve=tuple(h.val_acc),
            test_curve=tuple(h.test_acc),
            loss_curve=tuple(h.loss),
            seconds=time.perf_counter() - start,
            error=h.error,
            n_val=len(split.t_val),
            n_test=None if test is None else len(test[1]),
            refit=refit,
        ), net
