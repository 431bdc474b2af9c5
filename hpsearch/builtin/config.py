"""The settings of one training run: every field can be fixed or searched by name.

Light on purpose: the command line parses ``--hidden`` and names settings with this module
before anything numeric is needed, so NumPy and the network are imported only to check a
:class:`TrainConfig`'s values.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["TrainConfig", "parse_hidden"]


# Beyond these a network is a typo, not a plan: it would fail every trial for want of memory.
MAX_LAYERS = 1_000
MAX_UNITS = 1_000_000
MAX_HIDDEN_WEIGHTS = 10**9  # between hidden layers: 4 GB in float32


def _size(v: Any) -> int:
    if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
        raise ValueError(v)
    return int(v)


def parse_hidden(value: Any) -> tuple[int, ...]:
    """Hidden layer sizes from ``"100,100"``, ``"100-100"``, ``"100x6"``, an int or a sequence.

    Raises:
        ValueError: Not a list of positive integers, more than :data:`MAX_LAYERS` layers, a layer
            of more than :data:`MAX_UNITS` units, or more than :data:`MAX_HIDDEN_WEIGHTS`
            weights between hidden layers.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            if "x" in text:
                units, _, count = text.partition("x")
                n = int(count)
                # checked before the tuple is made: 100x10**9 would fill the memory
                if n > MAX_LAYERS:
                    raise ValueError(f"hidden has at most {MAX_LAYERS:,} layers, but got {value!r}")
                sizes = (int(units),) * n
            else:
                sizes = tuple(int(v) for v in text.replace("-", ",").split(","))
        except ValueError as exc:
            if "at most" in str(exc):
                raise
            raise ValueError(
                f"hidden must look like '100,100,100' or '100x3', but got {value!r}"
            ) from None
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        sizes = (int(value),)
    else:
        try:
            sizes = tuple(_size(v) for v in value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"hidden must be a list of layer sizes, but got {value!r}") from None
    if not sizes:
        raise ValueError(
            f"hidden needs at least one layer, as '100,100' or '100x3', but got {value!r}"
        )
    if any(s < 1 for s in sizes):
        raise ValueError(f"hidden layer sizes must be positive integers, but got {value!r}")
    if len(sizes) > MAX_LAYERS:
        raise ValueError(f"hidden has at most {MAX_LAYERS:,} layers, but got {len(sizes):,}")
    if max(sizes) > MAX_UNITS:
        raise ValueError(
            f"hidden layer sizes are at most {MAX_UNITS:,} units, but got {max(sizes):,}"
        )
    weights = sum(a * b for a, b in itertools.pairwise(sizes))
    if weights > MAX_HIDDEN_WEIGHTS:
        raise ValueError(
            f"hidden {list(sizes)[:6]}{'...' if len(sizes) > 6 else ''} needs about {weights:.1e} "
            f"weights; at most {MAX_HIDDEN_WEIGHTS:.0e} fit a trial's memory"
        )
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
        from hpsearch.builtin.nn.activations import ACTIVATIONS
        from hpsearch.builtin.nn.net import init_std
        from hpsearch.builtin.nn.optimizers import OPTIMIZERS

        object.__setattr__(self, "hidden", parse_hidden(self.hidden))
        for name in ("samples", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, but got {value!r}")
            object.__setattr__(self, name, int(value))
        if not 0 < self.val_ratio < 1:
            raise ValueError(f"val_ratio must lie in (0, 1), but got {self.val_ratio!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, but got {self.lr!r}")
        if not (isinstance(self.weight_decay, (int, float)) and 0 <= self.weight_decay < math.inf):
            raise ValueError(
                f"weight_decay must be a finite number >= 0, but got {self.weight_decay!r}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, but got {self.activation!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)}, but got {self.optimizer!r}"
            )
        init_std(self.weight_init, 1)
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', but got {self.dtype!r}")
        if not isinstance(self.batchnorm, bool):
            raise ValueError(f"batchnorm must be true or false, but got {self.batchnorm!r}")
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must lie in [0, 1), but got {self.dropout!r}")
        if self.flooding is not None and not (
            isinstance(self.flooding, (int, float)) and self.flooding >= 0
        ):
            raise ValueError(f"flooding must be a level >= 0 or None, but got {self.flooding!r}")
        for name in ("momentum", "decay_rate", "beta1", "beta2"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and 0 <= value < 1):
                raise ValueError(f"{name} must lie in [0, 1), but got {value!r}")
        if self.hswish_n is not None and not (
            isinstance(self.hswish_n, (int, float)) and self.hswish_n > 0
        ):
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
                f"unknown training setting(s) {unknown}; "
                f"expected names from {list(self.field_names())}"
            )
        return dataclasses.replace(self, **params)

    def check_space(self, space: Mapping[str, Any]) -> None:
        """Refuses a search space this network cannot train, before anything runs: a name that
        is not a setting, or a dimension whose ends (or choices) make an invalid setting.

        Raises:
            ValueError: Naming the parameter and what is wrong.
        """
        unknown = sorted(set(space) - set(self.field_names()))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown}; searchable names are {list(self.field_names())}"
            )
        for name, dim in space.items():
            for value in dim.ends():
                try:
                    self.with_params({name: value})
                except ValueError as exc:
                    raise ValueError(f"space {name}={dim.spec()}: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hidden"] = list(self.hidden)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainConfig:
        return cls(**data)
