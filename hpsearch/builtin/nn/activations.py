"""Activation layers, each with ``forward`` and ``backward``, looked up by name.

Every layer keeps what its ``backward`` needs from the last ``forward``. ``backward`` may write
into ``dout`` (the network hands it an array nobody else reads). All are written so that
large inputs give finite values and no RuntimeWarning: ``exp`` is only ever taken of
non-positive or clipped numbers.

Example:
    >>> layer = make_activation("hswish", n=4.0)
    >>> layer.forward(np.array([-3.0, 1.0, 3.0]))
    array([-0.  ,  0.75,  3.  ])
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from hpsearch.builtin.nn.layers import no_forward_error
from hpsearch.builtin.nn.registry import checked_options, lookup

__all__ = [
    "Relu",
    "Sigmoid",
    "Tanh",
    "Swish",
    "Mish",
    "HSwish",
    "TanhExp",
    "ACTIVATIONS",
    "make_activation",
    "sigmoid",
    "softplus",
]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow: ``exp`` only ever sees ``-|x|``.

    For ``x < 0`` it uses the equal form ``exp(x) / (1 + exp(x))``, which keeps tiny values
    accurate instead of rounding them to 0.
    """
    z = np.exp(-np.abs(x))
    d = 1.0 + z
    return np.where(x >= 0, 1.0 / d, z / d)


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class Relu:
    """``max(x, 0)``; the gradient passes where the input was positive."""

    def __init__(self) -> None:
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.mask = x > 0
        return np.maximum(x, 0)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        mask = self.mask
        if mask is None:
            raise no_forward_error(self)
        return np.multiply(dout, mask, out=dout)


class Sigmoid:
    """``1 / (1 + exp(-x))``, whose gradient is ``y (1 - y)``."""

    def __init__(self) -> None:
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self.out
        if out is None:
            raise no_forward_error(self)
        return dout * (1.0 - out) * out


class Tanh:
    """``tanh(x)``, whose gradient is ``1 - y**2``."""

    def __init__(self) -> None:
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self.out
        if out is None:
            raise no_forward_error(self)
        return dout * (1.0 - out**2)


class Swish:
    """``x sigmoid(x)`` (Ramachandran et al. 2017); gradient ``s + x s (1 - s)``."""

    def __init__(self) -> None:
        self.x: np.ndarray | None = None
        self.s: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.x = x
        self.s = sigmoid(x)
        return x * self.s

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x, s = self.x, self.s
        if x is None or s is None:
            raise no_forward_error(self)
        return dout * (s + x * s * (1.0 - s))


class Mish:
    """``x tanh(softplus(x))`` (Misra 2019).

    With ``u = tanh(softplus(x))`` the gradient is ``u + x (1 - u**2) sigmoid(x)``, because
    ``softplus' = sigmoid``.
    """

    def __init__(self) -> None:
        self.x: np.ndarray | None = None
        self.u: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.x = x
        self.u = np.tanh(softplus(x))
        return x * self.u

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x, u = self.x, self.u
        if x is None or u is None:
            raise no_forward_error(self)
        return dout * (u + x * (1.0 - u * u) * sigmoid(x))


class HSwish:
    """h-swish with width ``n``: ``x ReLU6(x + 3) / 6`` for ``n = 6``, generalised.

    ``x`` above ``n/2``, ``x (x + n/2) / n`` between ``-n/2`` and ``n/2``, ``0`` below ``-n/2``;
    the gradient is ``1``, ``(2x + n/2) / n`` and ``0`` on the same pieces.

    Args:
        n: The width of the curved part (default 6, the MobileNetV3 h-swish).

    Raises:
        ValueError: ``n`` is not a positive number.
    """

    def __init__(self, n: float = 6.0) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, float, np.number)) or not 0 < n < np.inf:
            raise ValueError(f"hswish width n must be a positive number, but got {n!r}")
        self.n = float(n)
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.x = x
        half = 0.5 * self.n
        # clip(x + n/2, 0, n) / n is 0 below, 1 above and (x + n/2)/n between: one expression.
        return x * (np.clip(x + half, 0.0, self.n) / self.n)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x = self.x
        if x is None:
            raise no_forward_error(self)
        half = 0.5 * self.n
        grad = (2.0 * x + half) / self.n
        grad[x <= -half] = 0.0
        grad[x >= half] = 1.0
        return dout * grad


class TanhExp:
    """``x tanh(exp(x))`` (Liu and Di 2020).

    The gradient ``tanh(e^x) + x e^x (1 - tanh(e^x)**2)`` uses ``1 - tanh**2`` rather than the
    paper's ``1 / cosh**2`` (``cosh`` overflows), and ``exp`` sees ``min(x, 20)``: from there on
    ``tanh(e^x)`` is 1 to every float's precision, so the clip changes no value, while inputs of
    100 and far beyond give finite values without a warning.
    """

    CLIP = 20.0

    def __init__(self) -> None:
        self.x: np.ndarray | None = None
        self.e: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.x = x
        self.e = np.exp(np.minimum(x, self.CLIP))
        self.t = np.tanh(self.e)
        return x * self.t

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x, e, t = self.x, self.e, self.t
        if x is None or e is None or t is None:
            raise no_forward_error(self)
        # e (1 - t**2) is exactly 0 for large x, so the product with a large x stays finite.
        return dout * (t + x * (e * (1.0 - t * t)))


ACTIVATIONS: dict[str, Callable[..., Any]] = {
    "relu": Relu,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "swish": Swish,
    "mish": Mish,
    "hswish": HSwish,
    "tanhexp": TanhExp,
}


def activation_options(name: str) -> tuple[str, ...]:
    """The options the activation ``name`` takes, e.g. ``("n",)`` for hswish.

    Raises:
        ValueError: The name is unknown.
    """
    cls = lookup(ACTIVATIONS, "activation", name)
    return tuple(p for p in inspect.signature(cls.__init__).parameters if p != "self")


def make_activation(name: str, **options: Any) -> Any:
    """A new activation layer by name.

    Options whose value is None are ignored, so a caller can pass e.g. ``n=None`` to every
    activation.

    Args:
        name: One of :data:`ACTIVATIONS`: relu, sigmoid, tanh, swish, mish, hswish, tanhexp.
        **options: The activation's own options; only hswish has one, its width ``n``.

    Raises:
        ValueError: The name is unknown, an option is one the activation does not take, or its
            value is invalid.

    Example:
        >>> make_activation("hswish", n=4.0).n
        4.0
    """
    given = checked_options(
        "activation", name, activation_options(name), options, "option", "takes no options"
    )
    return lookup(ACTIVATIONS, "activation", name)(**given)
