"""Grid search: the product of evenly spaced points of each dimension.

A range the budget leaves one point takes its centre (the geometric centre on a log range),
not its lower bound, and the strategy names it in :attr:`GridStrategy.pinned`, so that a grid
over one categorical setting trains the other ranges at a sensible value and says so.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from hpsearch.records import TrialResult
from hpsearch.space.search_space import SearchSpace
from hpsearch.strategies.base import Strategy

__all__ = ["GridStrategy", "grid_points", "grid_shape"]


def grid_shape(space: SearchSpace, n_trials: int) -> dict[str, int]:
    """Points per dimension so that the grid holds at most ``n_trials`` points.

    Dimensions with few distinct values (categories, small int ranges) take all of them; the
    others share what remains evenly, then grow one at a time, in name order, while the grid
    still fits. A categorical dimension is never cut, so its choices alone may exceed the budget.

    With conditions (a parameter searched only for some choices), the ranges grow one point at
    a time, in name order, while the grid's distinct points (see :func:`grid_points`) still fit.

    Example:
        >>> from hpsearch.space.search_space import default_space
        >>> grid_shape(default_space(), 16)
        {'lr': 4, 'weight_decay': 4}
    """
    if space.conditional:
        return _conditional_shape(space, n_trials)
    shape: dict[str, int] = {}
    free: list[str] = []
    fixed = 1
    for name, dim in space.items():
        size = dim.grid_size
        if size is not None and (dim.is_choice or size <= 2):
            shape[name] = size
            fixed *= size
        else:
            free.append(name)
    budget = max(n_trials // fixed, 1)
    if free:
        per = max(int(math.floor(budget ** (1 / len(free)) + 1e-9)), 1)
        for name in free:
            cap = space[name].grid_size
            shape[name] = min(per, cap) if cap is not None else per
        grew = True
        while grew:
            grew = False
            for name in free:
                cap = space[name].grid_size
                if cap is not None and shape[name] >= cap:
                    continue
                trial = math.prod(shape[n] for n in free) // shape[name] * (shape[name] + 1)
                if trial <= budget:
                    shape[name] += 1
                    grew = True
    return {name: shape[name] for name in space.names}


def grid_points(space: SearchSpace, shape: dict[str, int]) -> list[dict[str, Any]]:
    """The distinct points of the grid of ``shape``, in trial order: each combination with the
    parameters it leaves unsearched taken out, kept where it first appears (RMSProp x 3 decay
    rates + AdaGrad is 4 points, not 6)."""
    axes = [space[name].grid(shape[name]) for name in space.names]
    points, seen = [], set()
    for combo in itertools.product(*axes):
        point = space.active(dict(zip(space.names, combo, strict=True)))
        key = tuple((name, repr(value)) for name, value in point.items())
        if key not in seen:
            seen.add(key)
            points.append(point)
    return points


def _conditional_shape(space: SearchSpace, n_trials: int) -> dict[str, int]:
    # Choices and ranges of two points or fewer take all of them; the others start at one.
    shape: dict[str, int] = {}
    for name, dim in space.items():
        size = dim.grid_size
        shape[name] = size if size is not None and (dim.is_choice or size <= 2) else 1
    grew = True
    while grew:
        grew = False
        for name, dim in space.items():
            size = dim.grid_size
            if dim.is_choice or (size is not None and shape[name] >= size):
                continue
            wider = {**shape, name: shape[name] + 1}
            if len(grid_points(space, wider)) <= n_trials:
                shape, grew = wider, True
    return shape


class GridStrategy(Strategy):
    """Every combination of evenly spaced points (log-spaced on log dimensions).

    The points of each dimension are sorted and dimensions are taken in name order, so trial
    ``k`` is always the same grid point. Its length is exact; asking past it is an error.

    Attributes:
        shape: Points per dimension.
        points: Every grid point, in trial order.
        pinned: The numeric ranges the budget left one point, name to the value every trial
            uses (the range's centre on its scale); empty when every range is varied.

    Example:
        >>> from hpsearch.space.search_space import default_space
        >>> g = GridStrategy(default_space(), seed=0, n_trials=16)
        >>> len(g.points), g.ask([0])[0]
        (16, {'lr': 1e-06, 'weight_decay': 1e-08})
        >>> GridStrategy(default_space(), seed=0, n_trials=1).pinned
        {'lr': 0.0001, 'weight_decay': 1e-06}
    """

    name = "grid"

    def __init__(self, space: SearchSpace, seed: int, n_trials: int) -> None:
        super().__init__(space, seed, n_trials)
        self.shape = grid_shape(space, n_trials)
        axes = [space[name].grid(self.shape[name]) for name in space.names]
        self.points = grid_points(space, self.shape)
        self.pinned: dict[str, Any] = {
            name: values[0]
            for name, values in zip(space.names, axes, strict=True)
            if len(values) == 1 and space[name].numeric
        }

    @property
    def capacity(self) -> int:
        return len(self.points)

    def notes(self) -> list[str]:
        """The points past ``n_trials``, which never run (a categorical dimension is never cut,
        so its choices alone may exceed the budget); the ranges pinned to one point are
        :attr:`pinned`."""
        said = []
        run = self.points[: self.n_trials]
        if len(run) < len(self.points):
            shape = " x ".join(f"{self.shape[n]} {n}" for n in self.space.names)
            never = [
                f"{name}={value}"
                for name, values in self.space.items()
                if values.is_choice
                for value in values.grid(self.shape[name])
                if all(p.get(name) != value for p in run)
            ]
            missing = f": {', '.join(never)} never run" if never else ""
            said.append(
                f"grid: {len(self.points)} points ({shape}), but n_trials={self.n_trials} runs the "
                f"first {len(run)}{missing}; give n_trials={len(self.points)} for all of them"
            )
        return said

    def ask(self, numbers: Sequence[int]) -> list[dict[str, Any]]:
        for number in numbers:
            if not 0 <= number < len(self.points):
                raise IndexError(
                    f"the grid has {len(self.points)} points; trial {number} lies past it"
                )
        return [dict(self.points[number]) for number in numbers]

    def tell(self, trials: Sequence[TrialResult]) -> None:
        pass

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "shape": self.shape}
