"""The trainer of the built-in network, and the network and optimizer a config describes.

:class:`hpsearch.builtin.objective.NetworkObjective` trains a trial with them;
:func:`hpsearch.execution.runner.train_trial` is the short way to call it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpsearch.builtin.config import TrainConfig
from hpsearch.builtin.nn.net import MultiLayerNet
from hpsearch.builtin.nn.optimizers import make_optimizer, optimizer_settings
from hpsearch.records import TrialState
from hpsearch.trial import TrialData

__all__ = ["Trainer", "build_optimizer", "net_for"]


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
    recording it costs nothing). Training can stop after any epoch and continue later from its
    :meth:`checkpoint` with the very same result as an unbroken run.

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
        split: TrialData,
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

    def checkpoint(self) -> dict[str, Any]:
        """The state after the epochs trained so far, as a trial keeps it between rungs
        (:meth:`hpsearch.trial.Trial.set_checkpoint`): the network's and the optimizer's arrays
        (copies already) under ``net/`` and ``opt/``, and JSON-ready values: the optimizer's
        hyperparameters and counters, the generator's state and the curves."""
        state: dict[str, Any] = {f"net/{k}": v for k, v in self.net.state_dict().items()}
        state.update({f"opt/{k}": v for k, v in self.optimizer.state_dict().items()})
        h = self.history
        state.update(
            rng=dict(self.rng.bit_generator.state),
            train_acc=list(h.train_acc),
            val_acc=list(h.val_acc),
            loss=list(h.loss),
        )
        return state

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continues from what :meth:`checkpoint` returned: arrays are copied into the
        network's and optimizer's own."""
        self.net.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("net/")})
        self.optimizer.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("opt/")})
        self.rng.bit_generator.state = state["rng"]
        self.history = History([*state["train_acc"]], [*state["val_acc"]], [*state["loss"]])


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
