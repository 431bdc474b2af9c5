"""Which trials the Bayesian strategy's Gaussian process sees once there are too many to fit.

A GP costs cubic time in its points, so beyond ``max_model_points`` the model sees a subset:
the best eighth by score (the incumbent and its rivals), the quarter nearest the incumbent
whatever they scored (a trust region where noise is averaged, not cherry-picked), and a
farthest-point sample of the rest, so that explored space never looks unexplored. The choice
depends on the trials alone, so a resumed study makes the same one.
"""

from __future__ import annotations

import numpy as np

__all__ = ["model_subset"]


def model_subset(X: np.ndarray, y: np.ndarray, cap: int) -> np.ndarray:
    """Rows (ascending) of the trials a GP capped at ``cap`` points sees: all up to ``cap``, else
    the ``max(1, cap // 8)`` lowest ``y``, the ``cap // 4`` other rows nearest the lowest, then a
    greedy farthest-point (k-center) sample of the rest; ties go to the first row.

    Example:
        >>> X = np.array([[0.0], [0.1], [0.25], [0.3], [0.6], [1.0]])
        >>> model_subset(X, (X[:, 0] - 0.3) ** 2, 4).tolist()  # 0.3, next to it 0.25, then 1, 0.6
        [2, 3, 4, 5]
    """
    n = len(y)
    if n <= cap:
        return np.arange(n)
    # Squared distances as |a|^2 + |b|^2 - 2 a.b: one matrix-vector product per row, several
    # times faster than differences at thousands of trials (a rounding below 0 changes nothing).
    sq = np.einsum("ij,ij->i", X, X)
    chosen = np.zeros(n, dtype=bool)
    best = np.argsort(y, kind="stable")
    chosen[best[: max(1, cap // 8)]] = True
    near = np.argsort(X @ (-2.0 * X[best[0]]) + sq, kind="stable")
    chosen[near[~chosen[near]][: cap // 4]] = True
    kept = np.flatnonzero(chosen)  # then gap: each row's squared distance to the nearest kept
    gap = (X @ (-2.0 * X[kept].T) + sq[kept] + sq[:, None]).min(axis=1)
    gap[chosen] = -1.0  # never again; duplicates (gap 0) come after every distinct row
    for _ in range(cap - int(chosen.sum())):
        j = int(np.argmax(gap))
        chosen[j] = True
        np.minimum(gap, X @ (-2.0 * X[j]) + (sq + sq[j]), out=gap)
        gap[j] = -1.0
    return np.flatnonzero(chosen)
