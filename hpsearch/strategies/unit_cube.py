"""The unit cube the Bayesian strategy's Gaussian process works in, and the way back to params.

scikit-optimize's normalised :class:`skopt.space.Space` maps a point of the search space into
[0, 1] per column: log dimensions in log scale, integers normalised, categoricals one-hot (one
column for two choices). Here the strategy draws its candidate points in that cube, perturbs
the best of them without leaving it, and turns a chosen point back into params within bounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hpsearch.space.dimensions import IntUniform, LogUniform, Uniform
from hpsearch.space.search_space import SearchSpace

__all__ = ["UnitCube"]


def _reflect(u: np.ndarray) -> np.ndarray:
    """Folds values back into [0, 1]; clipping would pile perturbed points up on the bounds."""
    u = np.abs(u)
    return np.clip(np.where(u > 1.0, 2.0 - u, u), 0.0, 1.0)


class UnitCube:
    """The columns of ``space`` in the unit cube, each block drawn and perturbed by its kind.

    Args:
        space: The search space.
    """

    def __init__(self, space: SearchSpace) -> None:
        from skopt.space import Categorical, Integer, Space
        from skopt.utils import normalize_dimensions

        self.space = space
        self.sk = Space(normalize_dimensions(space.to_skopt()))
        self.blocks: list[tuple[str, int, int, Any]] = []  # kind, first column, width, extra
        col = 0
        for dim in self.sk.dimensions:
            width = dim.transformed_size
            if isinstance(dim, Categorical):
                table = np.asarray(dim.transform(list(dim.categories)), dtype=float).reshape(
                    -1, width
                )
                self.blocks.append(("cat", col, width, table))
            elif isinstance(dim, Integer):
                self.blocks.append(("int", col, width, dim.high - dim.low))
            else:
                self.blocks.append(("real", col, width, None))
            col += width
        self.n_cols = col

    def encode(self, params: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """One row in the cube per point of ``params``."""
        rows = self.sk.transform([self.space.to_list(p) for p in params])
        return np.asarray(rows, dtype=float).reshape(len(params), self.n_cols)

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` points drawn uniformly in the transformed space (log-uniform for log dims)."""
        Z = np.empty((count, self.n_cols))
        for kind, col, width, extra in self.blocks:
            if kind == "real":
                Z[:, col] = rng.random(count)
            elif kind == "int":
                Z[:, col] = rng.integers(0, extra, endpoint=True, size=count) / extra
            else:
                Z[:, col : col + width] = extra[rng.integers(len(extra), size=count)]
        return self.canonical(Z)

    def perturb(self, Z: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
        """``Z`` moved by about ``sigma`` per column, staying in the cube; a categorical switches
        to a random choice with probability ``sigma``."""
        Z, count = Z.copy(), len(Z)
        for kind, col, width, extra in self.blocks:
            if kind == "real":
                Z[:, col] = _reflect(Z[:, col] + sigma * rng.standard_normal(count))
            elif kind == "int":
                Z[:, col] = (
                    np.round(_reflect(Z[:, col] + sigma * rng.standard_normal(count)) * extra)
                    / extra
                )
            else:
                switch = rng.random(count) < sigma
                Z[switch, col : col + width] = extra[
                    rng.integers(len(extra), size=int(switch.sum()))
                ]
        return self.canonical(Z)

    def canonical(self, Z: np.ndarray) -> np.ndarray:
        """``Z`` with each parameter a point leaves unsearched (a condition that does not hold
        there) at the one place every such trial is encoded at, so the model compares a
        candidate with the trials that have the same parameters, never with noise along a
        dimension the candidate does not have."""
        if not self.space.conditional or not len(Z):
            return Z
        # One inverse transform for the whole matrix: row by row it cost ten times the model.
        rows = self.sk.inverse_transform(Z)
        return self.encode([self._within(self.space.from_list(row)) for row in rows])

    def to_params(self, point: np.ndarray) -> dict[str, Any]:
        """The params at ``point``, within the search space's bounds."""
        return self._within(self.space.from_list(self.sk.inverse_transform(point[None, :])[0]))

    def _within(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` within the bounds, less what its values leave unsearched."""
        for name, dim in self.space.items():
            # The inverse of the log transform can land a rounding error outside the bounds.
            if isinstance(dim, (Uniform, LogUniform)):
                params[name] = float(min(max(params[name], dim.low), dim.high))
            elif isinstance(dim, IntUniform):
                params[name] = int(min(max(params[name], dim.low), dim.high))
        return self.space.active(params)
