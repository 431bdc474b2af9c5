"""Search-space dimensions: what one searched parameter may take, and how it behaves.

A dimension knows how to draw a value from a :class:`numpy.random.Generator`, how to lay ``n``
points on a grid, where a value lies in its range, which range to try next when the best trials
crowd a bound, how a plot axis shows it, how to describe itself to scikit-optimize and how to
round-trip through JSON. Reports, plots and the grid ask the dimension rather than test its
kind, so a new kind is added here only. Invalid bounds are refused in the constructor, so a bad
space never reaches a run.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpsearch.space.bounds import check_bounds, clean
from hpsearch.space.conditions import Condition

__all__ = [
    "Dimension",
    "RangeDimension",
    "Uniform",
    "LogUniform",
    "IntUniform",
    "Categorical",
    "KINDS",
]


class Dimension(ABC):
    """One searchable parameter's range or list of choices.

    Attributes:
        kind: The name in specs and JSON (``float``, ``log``, ``int``, ``choice``).
        numeric: Whether values are ordered numbers with ``low`` and ``high`` bounds.
        scale: How a plot axis shows it: ``"log"``, ``"linear"`` or ``"categorical"``.
        when: The :class:`Condition` under which it is searched (None: always). A parameter
            not searched in a trial is left out of that trial's params.
    """

    kind: str = ""
    numeric: bool = False
    scale: str = "categorical"
    when: Condition | None = None

    def inactive_value(self) -> Any:
        """The value a model of the space gives the parameter in trials where it is not searched
        (the same for all of them): a range's lower bound, the first choice."""
        return self.ends()[0]

    def described(self, text: str) -> str:
        """``text`` (a spec) and the condition, if any: ``float:0.9:0.999 if optimizer=adam``."""
        return text if self.when is None else f"{text} if {self.when.spec()}"

    @property
    def is_choice(self) -> bool:
        """Whether the dimension is a list of choices (no order, no bounds)."""
        return not self.numeric

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """Draws one value."""

    @abstractmethod
    def grid(self, n: int) -> list[Any]:
        """Returns at most ``n`` sorted, distinct values spanning the range (one: its centre)."""

    @property
    @abstractmethod
    def grid_size(self) -> int | None:
        """The most distinct grid points the dimension has (None: unbounded)."""

    def ends(self) -> list[Any]:
        """The values that bound what the dimension can give, to check before a study runs:
        a range's two ends, or every choice (never a range's every point: ``int:1:10**12``
        would be a grid of 10**12 values)."""
        return self.grid(2) if self.numeric else self.grid(self.grid_size or 2)

    @abstractmethod
    def to_skopt(self, name: str) -> Any:
        """The equivalent scikit-optimize dimension."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description that :meth:`from_json` reads back."""

    @abstractmethod
    def spec(self) -> str:
        """The CLI form, ``kind:low:high`` or ``choice:a,b``."""

    def contains(self, value: Any) -> bool:
        """Whether ``value`` lies in the dimension."""
        return True

    def position(self, value: Any) -> float:
        """Where ``value`` lies in the range: 0 at ``low``, 1 at ``high`` (on the log scale for
        log).

        Raises:
            TypeError: The dimension has no order (a list of choices).
        """
        raise TypeError(
            f"a {type(self).__name__} dimension has no order, so no position in a range"
        )

    def widened(self, side: str, top_positions: Sequence[float] = ()) -> Dimension | None:
        """The range to try next when the best trials crowd its ``side`` bound
        (``"upper"``/``"lower"``).

        Args:
            side: The crowded bound.
            top_positions: The best trials' positions (see :meth:`position`); a log range drops
                its far decade when none of them used it.

        Returns:
            The widened dimension, or None when it cannot move that way (a choice list, or a
            range that cannot extend below 0).
        """
        return None

    def limits(self, margin: float = 0.0) -> tuple[float, float]:
        """Axis limits: the range, widened by ``margin`` of its width at each end, on its scale.

        Raises:
            TypeError: The dimension has no order (a list of choices).
        """
        raise TypeError(f"a {type(self).__name__} dimension has no numeric limits")

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Dimension:
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown dimension kind {kind!r}; expected one of {sorted(KINDS)}")
        cls = KINDS[kind]
        when = data.get("when")
        cond = None if when is None else Condition(when["parent"], tuple(when["values"]))
        if issubclass(cls, RangeDimension):
            return cls(data["low"], data["high"], when=cond)
        return Categorical(list(data["choices"]), when=cond)

    def _json(self, data: dict[str, Any]) -> dict[str, Any]:
        # Written only when there is one: an unconditional space's JSON is what it always was.
        return data if self.when is None else {**data, "when": self.when.to_json()}


@dataclass(frozen=True, repr=False)
class RangeDimension(Dimension):
    """Shared behaviour of the numeric kinds, measured on the dimension's own scale.

    Its bounds ``low`` and ``high`` are checked here for every kind (an int range takes
    integers, a log range positive ones); a log range overrides the two maps between values
    and the axis (:meth:`_to_axis`, :meth:`_from_axis`) and the widening rule.
    """

    low: Any
    high: Any
    when: Condition | None = field(default=None, kw_only=True)
    numeric = True
    scale = "linear"

    def __post_init__(self) -> None:
        name = type(self).__name__
        object.__setattr__(self, "when", Condition.of(self.when))
        if self.kind == "int":
            for label, value in (("low", self.low), ("high", self.high)):
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                    raise ValueError(f"{name} needs integer bounds, but got {label}={value!r}")
        check_bounds(name, self.low, self.high, positive=self.scale == "log")
        if self.kind == "int":
            object.__setattr__(self, "low", int(self.low))
            object.__setattr__(self, "high", int(self.high))

    def __repr__(self) -> str:
        when = "" if self.when is None else f", when={self.when!r}"
        return f"{type(self).__name__}(low={self.low!r}, high={self.high!r}{when})"

    def _to_axis(self, value: float) -> float:
        return float(value)

    def _from_axis(self, u: float) -> float:
        return float(u)

    def sample(self, rng: np.random.Generator) -> Any:
        """Uniform on the axis: on a log range, log-uniform."""
        return self._from_axis(
            float(rng.uniform(self._to_axis(self.low), self._to_axis(self.high)))
        )

    def position(self, value: Any) -> float:
        lo, hi = self._to_axis(self.low), self._to_axis(self.high)
        return (self._to_axis(float(value)) - lo) / (hi - lo)

    def limits(self, margin: float = 0.0) -> tuple[float, float]:
        lo, hi = self._to_axis(self.low), self._to_axis(self.high)
        pad = (hi - lo) * margin
        return self._from_axis(lo - pad), self._from_axis(hi + pad)

    def center(self) -> Any:
        """The middle of the range on its scale: where a grid of one point puts it."""
        return clean(self._from_axis((self._to_axis(self.low) + self._to_axis(self.high)) / 2))

    def widened(self, side: str, top_positions: Sequence[float] = ()) -> Dimension | None:
        step = (self.high - self.low) / 2
        if side == "upper":
            return Uniform(self.low, clean(self.high + step), when=self.when)
        low = self.low - step if self.low < 0 else max(0.0, self.low - step)
        return Uniform(clean(low), self.high, when=self.when) if low < self.low else None

    @property
    def grid_size(self) -> int | None:
        return None

    def to_json(self) -> dict[str, Any]:
        return self._json({"kind": self.kind, "low": self.low, "high": self.high})

    def spec(self) -> str:
        return self.described(f"{self.kind}:{self.low!r}:{self.high!r}")

    def contains(self, value: Any) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True, repr=False)
class Uniform(RangeDimension):
    """A float drawn uniformly from ``[low, high]``.

    Example:
        >>> Uniform(0.0, 0.5).grid(3)
        [0.0, 0.25, 0.5]
    """

    kind = "float"

    def grid(self, n: int) -> list[float]:
        return [float(v) for v in np.linspace(self.low, self.high, n)] if n > 1 else [self.center()]

    def to_skopt(self, name: str) -> Any:
        from skopt.space import Real

        return Real(self.low, self.high, prior="uniform", name=name)


@dataclass(frozen=True, repr=False)
class LogUniform(RangeDimension):
    """A positive float whose logarithm is uniform: ``10 ** U(log10 low, log10 high)``.

    Example:
        >>> LogUniform(1e-6, 1e-2).grid(3)
        [1e-06, 0.0001, 0.01]
        >>> LogUniform(1e-6, 1e-2).grid(1), LogUniform(1e-6, 1e-2).position(1e-3)
        ([0.0001], 0.75)
    """

    kind = "log"
    scale = "log"

    def _to_axis(self, value: float) -> float:
        return math.log10(value)

    def _from_axis(self, u: float) -> float:
        # Clamped to what a float holds: a widened or padded range of 1e-300..1e300 stays finite.
        return float(10 ** min(max(u, -323.0), 308.0))

    def grid(self, n: int) -> list[float]:
        if n <= 1:
            return [self.center()]
        points = np.logspace(math.log10(self.low), math.log10(self.high), n)
        # Round away the float noise of 10**x so that 1e-4 prints as 1e-4.
        return [clean(v) for v in points]

    def widened(self, side: str, top_positions: Sequence[float] = ()) -> Dimension | None:
        lo, hi = self.low, self.high
        decades = math.log10(hi) - math.log10(lo)
        # Move the crowded bound a decade out; drop the far decade if none of the best used it.
        far_unused = decades > 1 and all(
            (p > 1 / decades) if side == "upper" else (p < 1 - 1 / decades) for p in top_positions
        )
        if side == "upper":
            return LogUniform(clean(lo * 10) if far_unused else lo, clean(hi * 10), when=self.when)
        return LogUniform(clean(lo / 10), clean(hi / 10) if far_unused else hi, when=self.when)

    def to_skopt(self, name: str) -> Any:
        from skopt.space import Real

        return Real(self.low, self.high, prior="log-uniform", name=name)


@dataclass(frozen=True, repr=False)
class IntUniform(RangeDimension):
    """An integer drawn uniformly from ``low`` to ``high``, both included.

    A grid rounds evenly spaced points to distinct integers, so it may hold fewer points than
    asked for; a single point is the middle integer.

    Example:
        >>> IntUniform(32, 256).grid(3), IntUniform(1, 10).grid(1)
        ([32, 144, 256], [5])
    """

    kind = "int"

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high, endpoint=True))

    def center(self) -> int:
        return (self.low + self.high) // 2

    def grid(self, n: int) -> list[int]:
        n = min(n, self.high - self.low + 1)
        if n <= 1:
            return [self.center()]
        return sorted({int(round(v)) for v in np.linspace(self.low, self.high, n)})

    def widened(self, side: str, top_positions: Sequence[float] = ()) -> Dimension | None:
        step = max(1, int(math.ceil((self.high - self.low) / 2)))
        # Counts and sizes stay positive: a range from 1 or more never widens below 1.
        floor = 1 if self.low >= 1 else (0 if self.low >= 0 else None)
        if side == "upper":
            return IntUniform(self.low, self.high + step, when=self.when)
        low = self.low - step if floor is None else max(floor, self.low - step)
        return IntUniform(low, self.high, when=self.when) if low < self.low else None

    @property
    def grid_size(self) -> int | None:
        return self.high - self.low + 1

    def to_skopt(self, name: str) -> Any:
        from skopt.space import Integer

        return Integer(self.low, self.high, name=name)

    def spec(self) -> str:
        return self.described(f"int:{self.low}:{self.high}")


@dataclass(frozen=True)
class Categorical(Dimension):
    """One of a fixed list of choices (strings, numbers or booleans).

    Example:
        >>> Categorical(["sgd", "adam"]).grid(5)
        ['sgd', 'adam']
    """

    choices: tuple[Any, ...]
    when: Condition | None = None
    kind = "choice"

    def __init__(self, choices: Sequence[Any], *, when: Any = None) -> None:
        if isinstance(choices, str) or not isinstance(choices, Sequence):
            raise ValueError(f"Categorical needs a list of choices, but got {choices!r}")
        choices = tuple(choices)
        if not choices:
            raise ValueError("Categorical needs at least one choice, but got none")
        if len(set(map(repr, choices))) != len(choices):
            raise ValueError(f"Categorical needs distinct choices, but got {list(choices)!r}")
        object.__setattr__(self, "choices", choices)
        object.__setattr__(self, "when", Condition.of(when))

    def sample(self, rng: np.random.Generator) -> Any:
        return self.choices[int(rng.integers(len(self.choices)))]

    def grid(self, n: int) -> list[Any]:
        # Choices keep the order the user gave: a grid over ["relu", "sigmoid"] reads as written.
        return list(self.choices[: max(n, 1)])

    @property
    def grid_size(self) -> int | None:
        return len(self.choices)

    def to_skopt(self, name: str) -> Any:
        from skopt.space import Categorical as SkCategorical

        return SkCategorical(list(self.choices), name=name, transform="onehot")

    def to_json(self) -> dict[str, Any]:
        return self._json({"kind": self.kind, "choices": list(self.choices)})

    def spec(self) -> str:
        return self.described("choice:" + ",".join(str(c) for c in self.choices))

    def contains(self, value: Any) -> bool:
        return value in self.choices


KINDS: dict[str, type[Dimension]] = {
    "float": Uniform,
    "log": LogUniform,
    "int": IntUniform,
    "choice": Categorical,
}
