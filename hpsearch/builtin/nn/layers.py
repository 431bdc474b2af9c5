"""The network's layers, each with ``forward`` and ``backward`` as in "Deep Learning from Scratch".

Speed comes from doing less, not from obscure code: labels stay integer class indices (no
one-hot matrices), the first Affine layer skips the input gradient nobody needs, and backward
passes write their gradients into arrays allocated once (which a network can hand in as views
of its single gradient vector) instead of allocating new ones each step.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = [
    "Layer",
    "Affine",
    "BatchNormalization",
    "Dropout",
    "SoftmaxWithLoss",
    "softmax",
    "cross_entropy_error",
    "no_forward_error",
]


class Layer(Protocol):
    """What a network asks of each of its layers: a ``forward`` and a ``backward`` pass.

    ``backward`` returns the gradient with respect to the input of the last ``forward``, or
    None from a layer that skips it (an :class:`Affine` with ``need_dx=False``).
    """

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray: ...

    def backward(self, dout: np.ndarray) -> np.ndarray | None: ...


def no_forward_error(layer: object) -> RuntimeError:
    """The error for a ``backward`` whose layer holds nothing from a (training) ``forward``."""
    return RuntimeError(f"{type(layer).__name__}.backward called before its forward")


class Affine:
    """``out = x @ W + b``; keeps references to the network's ``W`` and ``b`` arrays.

    Args:
        W: Weight matrix, shape ``(in, out)``.
        b: Bias vector, shape ``(out,)``.
        need_dx: Whether ``backward`` returns the input gradient; the first layer of a
            network does not need it, and skipping it saves a matrix product per step.
        dW, db: Arrays shaped like ``W`` and ``b`` that ``backward`` overwrites with the
            gradients (new zero arrays if not given).
    """

    def __init__(
        self,
        W: np.ndarray,
        b: np.ndarray,
        *,
        need_dx: bool = True,
        dW: np.ndarray | None = None,
        db: np.ndarray | None = None,
    ) -> None:
        self.W = W
        self.b = b
        self.need_dx = need_dx
        self.x: np.ndarray | None = None
        self.dW = np.zeros_like(W) if dW is None else dW
        self.db = np.zeros_like(b) if db is None else db

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        self.x = x
        out = x @ self.W
        out += self.b
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        x = self.x
        if x is None:
            raise no_forward_error(self)
        np.matmul(x.T, dout, out=self.dW)
        np.sum(dout, axis=0, out=self.db)
        return dout @ self.W.T if self.need_dx else None


class BatchNormalization:
    """Batch normalisation (Ioffe and Szegedy 2015) as in the book's ``MultiLayerNetExtend``.

    In training (``train_flg=True``) each feature is normalised by the batch's mean and variance,
    then scaled by ``gamma`` and shifted by ``beta``; the running mean and variance, updated as
    ``running = momentum * running + (1 - momentum) * batch``, take their place in inference.
    The running variance starts at 1 rather than the book's 0, so that a net evaluated after only
    a few steps does not divide by ``sqrt(eps)``.

    Args:
        gamma: Scale, shape ``(features,)``; the network's own array, updated in place.
        beta: Shift, shape ``(features,)``; likewise.
        momentum: Weight of the old running statistics.
        eps: Added to the variance before the square root (the book's ``10e-7``).
        dgamma, dbeta: Arrays that ``backward`` overwrites with the gradients (new if not given).
    """

    def __init__(
        self,
        gamma: np.ndarray,
        beta: np.ndarray,
        momentum: float = 0.9,
        eps: float = 10e-7,
        *,
        dgamma: np.ndarray | None = None,
        dbeta: np.ndarray | None = None,
    ) -> None:
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.eps = eps
        self.running_mean = np.zeros_like(gamma)
        self.running_var = np.ones_like(gamma)
        self.xn: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.dgamma = np.zeros_like(gamma) if dgamma is None else dgamma
        self.dbeta = np.zeros_like(beta) if dbeta is None else dbeta

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc * xc, axis=0)
            self.std = np.sqrt(var + self.eps)
            self.xn = xc / self.std
            m = self.momentum
            self.running_mean *= m
            self.running_mean += (1 - m) * mu
            self.running_var *= m
            self.running_var += (1 - m) * var
            xn = self.xn
        else:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
        return self.gamma * xn + self.beta

    def backward(self, dout: np.ndarray) -> np.ndarray:
        xn, std = self.xn, self.std
        if xn is None or std is None:
            raise no_forward_error(self)
        np.sum(dout, axis=0, out=self.dbeta)
        np.sum(xn * dout, axis=0, out=self.dgamma)
        # The book's step-by-step chain (dxn, dxc, dstd, dvar, dmu) collapses to this line:
        # the batch mean and the batch variance each remove one component of dxn.
        dxn = self.gamma * dout
        return (dxn - dxn.mean(axis=0) - xn * np.mean(dxn * xn, axis=0)) / std


class Dropout:
    """Dropout (Srivastava et al. 2014): in training each unit is kept with ``1 - ratio``.

    This is "inverted" dropout: kept units are scaled by ``1 / (1 - ratio)`` in training, so
    inference passes ``x`` through unchanged. The book scales by ``1 - ratio`` in inference
    instead; both give the next layer the same expected input.

    Args:
        dropout_ratio: Probability of dropping a unit, in ``[0, 1)``.
        rng: Draws the masks (the network passes its own generator).

    Example:
        >>> layer = Dropout(0.5, np.random.default_rng(0))
        >>> layer.fix_mask(np.array([[True, False]]))
        >>> layer.forward(np.array([[1.0, 1.0]]), train_flg=True)
        array([[2., 0.]])
    """

    def __init__(self, dropout_ratio: float, rng: np.random.Generator) -> None:
        if not 0 <= dropout_ratio < 1:
            raise ValueError(f"dropout_ratio must lie in [0, 1), but got {dropout_ratio!r}")
        self.dropout_ratio = float(dropout_ratio)
        self.rng = rng
        self.fixed_keep: np.ndarray | None = None
        self.mask: np.ndarray | None = None

    def fix_mask(self, keep: np.ndarray | None) -> None:
        """Use ``keep`` (True where a unit is kept) in every training forward; None to draw again.

        For gradient checks, which need the same function at every probe.
        """
        self.fixed_keep = None if keep is None else np.asarray(keep, dtype=bool)

    def forward(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        if not train_flg:
            return x
        if self.fixed_keep is not None:
            keep = self.fixed_keep
        else:
            keep = self.rng.random(x.shape, dtype=x.dtype) >= self.dropout_ratio
        self.mask = keep.astype(x.dtype)
        self.mask *= 1.0 / (1.0 - self.dropout_ratio)
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        mask = self.mask
        if mask is None:
            raise no_forward_error(self)
        return np.multiply(dout, mask, out=dout)


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
        y, t = self.y, self.t
        if y is None or t is None:
            raise no_forward_error(self)
        n = t.shape[0]
        dx = y.copy()
        dx[np.arange(n), t] -= 1
        dx *= dout / n
        return dx
