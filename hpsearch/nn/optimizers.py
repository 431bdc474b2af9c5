"""Optimizers with the book's ``update(params, grads)``, updating the arrays in place."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SGD", "Momentum", "OPTIMIZERS", "make_optimizer"]


class SGD:
    """Plain stochastic gradient descent: ``w -= lr * g``.

    Example:
        >>> p, g = {"W": np.ones(2)}, {"W": np.ones(2)}
        >>> SGD(lr=0.1).update(p, g); p["W"]
        array([0.9, 0.9])
    """

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for key, g in grads.items():
            params[key] -= self.lr * g


class Momentum:
    """SGD with momentum: ``v = mu v - lr g; w += v``."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: dict[str, np.ndarray] | None = None

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key, g in grads.items():
            v = self.v[key]
            v *= self.momentum
            v -= self.lr * g
            params[key] += v


OPTIMIZERS: dict[str, type] = {"sgd": SGD, "momentum": Momentum}


def make_optimizer(name: str, lr: float, **settings: Any) -> Any:
    """A new optimizer by name, given its learning rate and any settings it takes.

    Raises:
        ValueError: The name is unknown.
    """
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}") from None
    return cls(lr=lr, **settings)
