"""Optimizers with the book's ``update(params, grads)``, updating the arrays in place.

Every optimizer changes ``params[key]`` in place and never rebinds it: the network's Affine
layers hold references to those very arrays. Each also has ``state_dict()`` and
``load_state_dict(d)``, whose dict holds plain arrays and numbers only, so a paused trial's
optimizer can be saved with :func:`numpy.savez`, loaded without pickle, and continue exactly.

Example:
    >>> opt = make_optimizer("adam", lr=1e-3)
    >>> p, g = {"W": np.ones(2)}, {"W": np.ones(2)}
    >>> opt.update(p, g); sorted(opt.state_dict())
    ['beta1', 'beta2', 'iter', 'lr', 'm.W', 'v.W']
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from hpsearch.builtin.nn.registry import checked_options, lookup

__all__ = [
    "SGD",
    "Momentum",
    "Nesterov",
    "AdaGrad",
    "RMSprop",
    "Adam",
    "OPTIMIZERS",
    "make_optimizer",
]

# The book's constant that keeps the adaptive methods from dividing by zero.
EPS = 1e-7


def _check_lr(lr: float) -> float:
    if (
        isinstance(lr, bool)
        or not isinstance(lr, (int, float, np.floating))
        or not (lr > 0 and math.isfinite(lr))
    ):
        raise ValueError(f"lr must be a positive finite number, but got {lr!r}")
    return float(lr)


def _check_rate(name: str, value: float) -> float:
    """A decay factor in [0, 1): momentum, decay_rate, beta1, beta2."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating))
        or not 0 <= value < 1
    ):
        raise ValueError(f"{name} must lie in [0, 1), but got {value!r}")
    return float(value)


class Optimizer:
    """The shared part: hyperparameters, per-param state arrays, and their state dict.

    A subclass names its settings besides ``lr`` with their defaults in ``defaults`` (each a
    decay factor in [0, 1)), its per-param arrays in ``slots`` (e.g. ``("v",)``) and its
    counters in ``counters``, and implements :meth:`update`. The state arrays are created on the
    first update, shaped and typed like the params.
    """

    default_lr: float = 0.01
    defaults: Mapping[str, float] = {}
    slots: tuple[str, ...] = ()
    counters: tuple[str, ...] = ()

    def __init__(self, lr: float | None = None, **settings: float) -> None:
        unknown = sorted(set(settings) - set(self.defaults))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting {unknown[0]!r}")
        self.lr = _check_lr(self.default_lr if lr is None else lr)
        for name, default in self.defaults.items():
            setattr(self, name, _check_rate(name, settings.get(name, default)))
        for name in self.counters:
            setattr(self, name, 0)
        self.state: dict[str, dict[str, np.ndarray]] | None = None

    @property
    def hyper(self) -> tuple[str, ...]:
        return ("lr", *self.defaults)

    def _slots_for(self, params: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
        if self.state is None:
            self.state = {
                s: {key: np.zeros_like(val) for key, val in params.items()} for s in self.slots
            }
        return self.state

    def _each(
        self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], slot: str
    ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """``(key, gradient, state array)`` for each param, the state of ``slot``."""
        arrays = self._slots_for(params)[slot]
        for key, g in grads.items():
            yield key, g, arrays[key]

    def update(self, params: dict[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray | float | int]:
        """Hyperparameters, counters and state arrays (copies), keyed ``"lr"``, ``"v.W1"``, ...

        Every value is a float, an int or an array, so ``np.savez(path, **opt.state_dict())``
        saves it and ``opt.load_state_dict(np.load(path))`` restores it.
        """
        d: dict[str, np.ndarray | float | int] = {
            name: float(getattr(self, name)) for name in self.hyper
        }
        d.update({name: int(getattr(self, name)) for name in self.counters})
        for slot, arrays in (self.state or {}).items():
            d.update({f"{slot}.{key}": arr.copy() for key, arr in arrays.items()})
        return d

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned (0-d arrays from ``np.load`` are fine).

        Raises:
            ValueError: ``d`` lacks a hyperparameter or holds a key this optimizer does not know.
        """
        missing = [name for name in (*self.hyper, *self.counters) if name not in d]
        if missing:
            raise ValueError(f"{type(self).__name__} state lacks {missing}; got keys {sorted(d)}")
        state: dict[str, dict[str, np.ndarray]] = {}
        for name, value in d.items():
            if name in self.hyper:
                setattr(self, name, float(value))
            elif name in self.counters:
                setattr(self, name, int(value))
            else:
                slot, dot, key = name.partition(".")
                if not dot or slot not in self.slots:
                    raise ValueError(
                        f"{type(self).__name__} state has no entry {name!r}; expected "
                        f"{list(self.hyper + self.counters)} and '<slot>.<param>' "
                        f"for slots {list(self.slots)}"
                    )
                state.setdefault(slot, {})[key] = np.array(value, copy=True)
        self.state = state or None


class SGD(Optimizer):
    """Plain stochastic gradient descent: ``w -= lr * g``.

    Example:
        >>> p, g = {"W": np.ones(2)}, {"W": np.ones(2)}
        >>> SGD(lr=0.1).update(p, g); p["W"]
        array([0.9, 0.9])
    """

    def update(self, params: dict[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        for key, g in grads.items():
            params[key] -= self.lr * g


class Momentum(Optimizer):
    """SGD with momentum: ``v = mu v - lr g; w += v``."""

    defaults = {"momentum": 0.9}
    slots = ("v",)
    momentum: float  # set from ``defaults`` by Optimizer.__init__

    def update(self, params: dict[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        for key, g, v in self._each(params, grads, "v"):
            v *= self.momentum
            v -= self.lr * g
            params[key] += v


class Nesterov(Optimizer):
    """Nesterov's accelerated gradient in the form that needs no look-ahead weights.

    ``v' = mu v - lr g;  w' = w - mu v + (1 + mu) v'``, which expands to
    ``w' = w + mu**2 v - (1 + mu) lr g``: the weights move with the *old* velocity first, then
    the velocity is updated (Bengio et al. 2012, "Advances in optimizing recurrent networks").

    Note that the book's listing updates ``v`` first and then adds ``mu**2`` times the *new*
    velocity, which is a slightly different rule; this one follows the formula above.
    """

    defaults = {"momentum": 0.9}
    slots = ("v",)
    momentum: float  # set from ``defaults`` by Optimizer.__init__

    def update(self, params: dict[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        mu, lr = self.momentum, self.lr
        for key, g, v in self._each(params, grads, "v"):
            params[key] += (mu * mu) * v
            params[key] -= ((1 + mu) * lr) * g
            v *= mu
            v -= lr * g


class AdaGrad(Optimizer):
    """Per-weight learning rates that shrink with the gradients seen: ``h += g**2``.

    ``w -= lr g / (sqrt(h) + 1e-7)``.
    """

    slots = ("h",)

    def update(self, params: dict[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        for key, g, h in self._each(params, grads, "h"):
            h += g * g
            params[key] -= self.lr * g / (np.sqrt(h) + EPS)


class RMSprop(Optimizer):
    """AdaGrad with a forgetting sum: ``h = decay h + (1 - decay) g**2``.

    ``w -= lr g / (sqrt(h) + 1e-7)``.
    """

    defaults = {"decay_rate": 0.99}
    slots = ("h",)
    decay_rate: float  # set from ``defaults`` by Optimizer.__init__

    def update(self, params: dict[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        for key, g, h in self._each(params, grads, "h"):
            h *= self.decay_rate
            h += (1 - self.decay_rate) * g * g
            params[key] -= self.lr * g / (np.sqrt(h) + EPS)


class Adam(Optimizer):
    """Adam as the book writes it, the bias correction folded into the step size.

    With ``t`` the update count: ``m += (1 - beta1)(g - m)``, ``v += (1 - beta2)(g**2 - v)``,
    ``lr_t = lr sqrt(1 - beta2**t) / (1 - beta1**t)``, ``w -= lr_t m / (sqrt(v) + 1e-7)``.
    """

    default_lr = 0.001
    defaults = {"beta1": 0.9, "beta2": 0.999}
    slots = ("m", "v")
    counters = ("iter",)
    beta1: float  # set from ``defaults`` by Optimizer.__init__
    beta2: float
    iter: int  # set from ``counters`` by Optimizer.__init__

    def update(self, params: dict[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        state = self._slots_for(params)
        self.iter += 1
        b1, b2 = self.beta1, self.beta2
        # math, not np: a Python float keeps float32 arrays float32 under every NumPy version.
        lr_t = self.lr * math.sqrt(1.0 - b2**self.iter) / (1.0 - b1**self.iter)
        for key, g in grads.items():
            m, v = state["m"][key], state["v"][key]
            m += (1 - b1) * (g - m)
            v += (1 - b2) * (g * g - v)
            params[key] -= lr_t * m / (np.sqrt(v) + EPS)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}


def optimizer_settings(name: str) -> tuple[str, ...]:
    """The settings (besides ``lr``) the optimizer ``name`` takes, e.g. ``("momentum",)``.

    Raises:
        ValueError: The name is unknown.
    """
    return tuple(lookup(OPTIMIZERS, "optimizer", name).defaults)


def make_optimizer(name: str, lr: float, **settings: Any) -> Optimizer:
    """A new optimizer by name, given its learning rate and any settings it takes.

    Settings whose value is None are ignored, so a caller can pass every optimizer's settings
    (e.g. ``momentum=None``) and let each optimizer take only those that are set.

    Args:
        name: One of :data:`OPTIMIZERS`: sgd, momentum, nesterov, adagrad, rmsprop, adam.
        lr: The learning rate.
        **settings: The optimizer's own settings: ``momentum`` (momentum, nesterov),
            ``decay_rate`` (rmsprop), ``beta1``/``beta2`` (adam).

    Raises:
        ValueError: The name is unknown, a setting is one the optimizer does not take, or a
            value is out of range.

    Example:
        >>> make_optimizer("momentum", 0.1, momentum=0.5).momentum
        0.5
    """
    given = checked_options(
        "optimizer",
        name,
        optimizer_settings(name),
        settings,
        "setting",
        "takes no settings besides lr",
    )
    return lookup(OPTIMIZERS, "optimizer", name)(lr=lr, **given)
