"""The Gaussian-process posterior the Bayesian strategy scores candidates on, grown by a row.

The kernel's hyperparameters are fitted elsewhere (:mod:`hpsearch.strategies.bayes`); here they
are fixed, and the posterior is conditioned on the trials the model sees, then on each lie of a
batch by growing its inverse Cholesky factor by one row instead of refactoring it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

__all__ = ["Posterior"]

# Jitter added to the kernel matrix's diagonal, as scikit-learn's default ``alpha``.
JITTER = 1e-10


class Posterior:
    """The GP conditioned on ``(X, y)`` with fixed kernel hyperparameters, grown point by point.

    Holds ``Li``, the inverse Cholesky factor of ``K + noise I`` (products with it run several
    times faster than triangular solves), ``u = Li y``, ``e = Li 1``. With ``y`` normalised as by
    ``normalize_y`` (mean ``m``, std ``s``, lies included), at ``z`` projected as
    ``v = Li k(X, z)``: ``mean = m + v.u - m v.e``, ``std = s sqrt(k(z, z) - v.v)``,
    scikit-optimize's GP up to rounding. A lie adds a row to ``Li``, ``u``, ``e`` and to the
    projections kept.
    """

    def __init__(self, signal: Any, noise: float, X: np.ndarray, y: np.ndarray, room: int) -> None:
        n, size = len(y), len(y) + room
        self.signal, self.noise, self.n = signal, noise, n
        self.X, self.y = np.zeros((size, X.shape[1])), np.zeros(size)
        self.X[:n], self.y[:n] = X, y
        K = signal(X)
        K[np.diag_indices_from(K)] += noise + JITTER
        # Imported here: scipy.linalg costs a quarter of a second, which a grid or random study
        # (that never fits a model) should not pay.
        from scipy.linalg import cholesky, solve_triangular

        self.Li = np.zeros((size, size))
        L = cholesky(K, lower=True, check_finite=False)
        self.Li[:n, :n] = solve_triangular(L, np.eye(n), lower=True, check_finite=False)
        self.u, self.e = np.zeros(size), np.zeros(size)
        self.u[:n], self.e[:n] = (self.Li[:n, :n] @ np.stack([y, np.ones(n)], axis=1)).T

    def project(self, Z: np.ndarray, keep: bool = False) -> SimpleNamespace:
        n, Li, X = self.n, self.Li[: self.n, : self.n], self.X[: self.n]
        # In chunks: a kernel matrix that stays in cache is computed twice as fast.
        V = np.hstack([Li @ self.signal(X, Z[i : i + 256]) for i in range(0, len(Z), 256)])
        c = SimpleNamespace(Z=Z, kzz=self.signal.diag(Z), vv=np.einsum("ij,ij->j", V, V))
        c.vu, c.ve = np.stack([self.u[:n], self.e[:n]]) @ V
        c.V = np.vstack([V, np.zeros((len(self.y) - n, len(Z)))]) if keep else None
        return c

    def predictor(self, c: SimpleNamespace) -> SimpleNamespace:
        """The predictions at ``c`` with the ``predict`` that scikit-optimize's acquisitions
        call."""
        y = self.y[: self.n]
        m, s = float(np.mean(y)), float(np.std(y))
        mean, std = (
            m + c.vu - m * c.ve,
            np.sqrt(np.maximum(c.kzz - c.vv, 0.0)) * (s if s > 0 else 1.0),
        )
        return SimpleNamespace(
            predict=lambda X, return_std=False: (mean, std) if return_std else mean
        )

    def add(self, x: np.ndarray, value: float, kept: Sequence[SimpleNamespace]) -> None:
        """Conditions on one more observation, updating the projections in ``kept``."""
        n, x, Li = self.n, x[None, :], self.Li[: self.n, : self.n]
        w = Li @ self.signal(self.X[:n], x)[:, 0]
        d = math.sqrt(max(float(self.signal.diag(x)[0]) + self.noise + JITTER - w @ w, JITTER))
        self.Li[n, :n], self.Li[n, n] = -(w @ Li) / d, 1.0 / d
        self.u[n], self.e[n] = (value - w @ self.u[:n]) / d, (1.0 - w @ self.e[:n]) / d
        self.X[n], self.y[n] = x[0], value
        for c in kept:
            row = c.V[n] = (self.signal(x, c.Z)[0] - w @ c.V[:n]) / d
            c.vv, c.vu, c.ve = c.vv + row * row, c.vu + row * self.u[n], c.ve + row * self.e[n]
        self.n = n + 1
