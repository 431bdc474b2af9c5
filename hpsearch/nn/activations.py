"""Activation layers, each with ``forward`` and ``backward``, looked up by name."""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["Relu", "Sigmoid", "Tanh", "ACTIVATIONS", "make_activation"]


class Relu:
    """``max(x, 0)``; the gradient passes where the input was positive."""

    def __init__(self) -> None:
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.mask = x > 0
        return np.maximum(x, 0)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return np.multiply(dout, self.mask, out=dout)


class Sigmoid:
    """``1 / (1 + exp(-x))``, whose gradient is ``y (1 - y)``."""

    def __init__(self) -> None:
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        # exp(-x) overflows to inf for very negative x, which gives the right limit 0.
        with np.errstate(over="ignore"):
            self.out = 1.0 / (1.0 + np.exp(-x))
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1.0 - self.out) * self.out


class Tanh:
    """``tanh(x)``, whose gradient is ``1 - y**2``."""

    def __init__(self) -> None:
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1.0 - self.out**2)


ACTIVATIONS: dict[str, Callable[[], object]] = {
    "relu": Relu,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
}


def make_activation(name: str) -> object:
    """A new activation layer by name.

    Raises:
        ValueError: The name is unknown.
    """
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}") from None
