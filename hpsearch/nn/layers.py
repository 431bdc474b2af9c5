"""The network's layers, each with ``forward`` and ``backward`` as in "Deep Learning from Scratch".

Speed comes from doing less, not from obscure code: labels stay integer class indices (no
one-hot matrices), the first Affine layer skips the input gradient nobody needs, and backward
passes write into arrays they own instead of allocating new ones.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Affine", "SoftmaxWithLoss", "softmax", "cross_entropy_error"]


class Affine:
    """``out = x @ W + b``; keeps references to the network's ``W`` and ``b`` arrays.

    Args:
        W: Weight matrix, shape ``(in, out)``.
        b: Bias vector, shape ``(out,)``.
        need_dx: Whether ``backward`` returns the input gradient; the first layer of a
            network does not need it, and skipping it saves a matrix product per step.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, *, need_dx: bool = True) -> None:
        self.W = W
        self.b = b
        self.need_dx = need_dx
        self.x: np.ndarray | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.x = x
        out = x @ self.W
        out += self.b
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T if self.need_dx else None


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so that ``exp`` cannot overflow."""
    y = x - x.max(axis=1, keepdims=True)
    np.exp(y, out=y)
    y /= y.sum(axis=1, keepdims=True)
    return y


def _labels(t: np.ndarray) -> np.ndarray:
    """Class indices from either indices or one-hot rows (the book uses both)."""
    return t.argmax(axis=1) if t.ndim == 2 else t


def cross_entropy_error(y: np.ndarray, t: np.ndarray) -> float:
    """Mean cross-entropy of probabilities ``y`` (batch, classes) against labels ``t``.

    ``t`` holds class indices or one-hot rows; the small constant keeps ``log(0)`` finite.
    """
    picked = y[np.arange(y.shape[0]), _labels(t)]
    return float(-np.mean(np.log(picked + 1e-7)))


class SoftmaxWithLoss:
    """Softmax followed by cross-entropy, whose joint gradient is simply ``(y - t) / batch``."""

    def __init__(self) -> None:
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None
        self.loss: float | None = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        self.t = _labels(t)
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout: float = 1.0) -> np.ndarray:
        n = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        dx *= dout / n
        return dx
