"""Search-space dimensions and the :class:`SearchSpace` that names them.

A dimension knows how to draw a value from a :class:`numpy.random.Generator`, how to lay
``n`` points on a grid, how to describe itself to scikit-optimize and how to round-trip through
JSON. Invalid bounds are refused in the constructor, so a bad space never reaches a run.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

__all__ = [
    "Dimension",
    "Uniform",
    "LogUniform",
    "IntUniform",
    "Categorical",
    "SearchSpace",
    "parse_dimension",
    "parse_value",
    "default_space",
]


class Dimension(ABC):
    """One searchable parameter's range."""

    kind: str = ""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """Draws one value."""

    @abstractmethod
    def grid(self, n: int) -> list[Any]:
        """Returns at most ``n`` sorted, distinct values spanning the range."""

    @property
    @abstractmethod
    def grid_size(self) -> int | None:
        """The most distinct grid points the dimension has (None: unbounded)."""

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

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Dimension:
        kind = data.get("kind")
        if kind not in _KINDS:
            raise ValueError(f"unknown dimension kind {kind!r}; expected one of {sorted(_KINDS)}")
        cls = _KINDS[kind]
        if cls is Categorical:
            return Categorical(list(data["choices"]))
        return cls(data["low"], data["high"])


def _check_bounds(cls_name: str, low: Any, high: Any, *, positive: bool = False) -> None:
    for label, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{cls_name} needs numeric bounds, but got {label}={value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{cls_name} needs finite bounds, but got {label}={value!r}")
    if positive and low <= 0:
        raise ValueError(f"{cls_name} needs `low > 0` (log scale), but got low={low!r}, high={high!r}")
    if not low < high:
        raise ValueError(f"{cls_name} needs `low < high`, but got low={low!r}, high={high!r}")


@dataclass(frozen=True)
class Uniform(Dimension):
    """A float drawn uniformly from ``[low, high]``.

    Example:
        >>> Uniform(0.0, 0.5).grid(3)
        [0.0, 0.25, 0.5]
    """

    low: float
    high: float
    kind = "float"

    def __post_init__(self) -> None:
        _check_bounds("Uniform", self.low, self.high)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def grid(self, n: int) -> list[float]:
        return [float(v) for v in np.linspace(self.low, self.high, n)] if n > 1 else [float(self.low)]

    @property
    def grid_size(self) -> int | None:
        return None

    def to_skopt(self, name: str) -> Any:
        from skopt.space import Real

        return Real(self.low, self.high, prior="uniform", name=name)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "low": self.low, "high": self.high}

    def spec(self) -> str:
        return f"float:{self.low!r}:{self.high!r}"

    def contains(self, value: Any) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class LogUniform(Dimension):
    """A positive float whose logarithm is uniform: ``10 ** U(log10 low, log10 high)``.

    Example:
        >>> LogUniform(1e-6, 1e-2).grid(3)
        [1e-06, 0.0001, 0.01]
    """

    low: float
    high: float
    kind = "log"

    def __post_init__(self) -> None:
        _check_bounds("LogUniform", self.low, self.high, positive=True)

    def sample(self, rng: np.random.Generator) -> float:
        return float(10 ** rng.uniform(math.log10(self.low), math.log10(self.high)))

    def grid(self, n: int) -> list[float]:
        if n <= 1:
            return [float(self.low)]
        points = np.logspace(math.log10(self.low), math.log10(self.high), n)
        # Round away the float noise of 10**x so that 1e-4 prints as 1e-4.
        return [float(f"{v:.12g}") for v in points]

    @property
    def grid_size(self) -> int | None:
        return None

    def to_skopt(self, name: str) -> Any:
        from skopt.space import Real

        return Real(self.low, self.high, prior="log-uniform", name=name)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "low": self.low, "high": self.high}

    def spec(self) -> str:
        return f"log:{self.low!r}:{self.high!r}"

    def contains(self, value: Any) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class IntUniform(Dimension):
    """An integer drawn uniformly from ``low`` to ``high``, both included.

    Example:
        >>> IntUniform(32, 256).grid(3)
        [32, 144, 256]
    """

    low: int
    high: int
    kind = "int"

    def __post_init__(self) -> None:
        for label, value in (("low", self.low), ("high", self.high)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"IntUniform needs integer bounds, but got {label}={value!r}")
        _check_bounds("IntUniform", self.low, self.high)
        object.__setattr__(self, "low", int(self.low))
        object.__setattr__(self, "high", int(self.high))

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high, endpoint=True))

    def grid(self, n: int) -> list[int]:
        n = min(n, self.high - self.low + 1)
        if n <= 1:
            return [self.low]
        return sorted({int(round(v)) for v in np.linspace(self.low, self.high, n)})

    @property
    def grid_size(self) -> int | None:
        return self.high - self.low + 1

    def to_skopt(self, name: str) -> Any:
        from skopt.space import Integer

        return Integer(self.low, self.high, name=name)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "low": self.low, "high": self.high}

    def spec(self) -> str:
        return f"int:{self.low}:{self.high}"

    def contains(self, value: Any) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Categorical(Dimension):
    """One of a fixed list of choices (strings, numbers or booleans).

    Example:
        >>> Categorical(["sgd", "adam"]).grid(5)
        ['sgd', 'adam']
    """

    choices: tuple[Any, ...]
    kind = "choice"

    def __init__(self, choices: Sequence[Any]) -> None:
        if isinstance(choices, str) or not isinstance(choices, Sequence):
            raise ValueError(f"Categorical needs a list of choices, but got {choices!r}")
        choices = tuple(choices)
        if not choices:
            raise ValueError("Categorical needs at least one choice, but got none")
        if len(set(map(repr, choices))) != len(choices):
            raise ValueError(f"Categorical needs distinct choices, but got {list(choices)!r}")
        object.__setattr__(self, "choices", choices)

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
        return {"kind": self.kind, "choices": list(self.choices)}

    def spec(self) -> str:
        return "choice:" + ",".join(str(c) for c in self.choices)

    def contains(self, value: Any) -> bool:
        return value in self.choices


_KINDS: dict[str, type[Dimension]] = {
    "float": Uniform,
    "log": LogUniform,
    "int": IntUniform,
    "choice": Categorical,
}


def _number(text: str, *, integer: bool) -> float | int:
    try:
        return int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"expected {kind}, but got {text!r}") from None


def parse_value(text: str) -> Any:
    """Reads a CLI value as bool, int or float where it looks like one, else keeps the string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def parse_dimension(spec: str) -> Dimension:
    """Reads a CLI dimension spec.

    Args:
        spec: ``log:LOW:HIGH``, ``float:LOW:HIGH``, ``int:LOW:HIGH`` or ``choice:A,B,...``.

    Returns:
        The dimension.

    Raises:
        ValueError: The spec is malformed or its bounds are invalid.

    Example:
        >>> parse_dimension("log:1e-5:1e-1")
        LogUniform(low=1e-05, high=0.1)
    """
    kind, sep, rest = spec.partition(":")
    if not sep:
        raise ValueError(f"expected KIND:..., with KIND one of {sorted(_KINDS)}, but got {spec!r}")
    if kind not in _KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {sorted(_KINDS)}")
    if kind == "choice":
        items = [item.strip() for item in rest.split(",")]
        if not rest.strip() or any(item == "" for item in items):
            raise ValueError(f"expected choice:A,B,... with no empty choice, but got {spec!r}")
        return Categorical([parse_value(item) for item in items])
    parts = rest.split(":")
    if len(parts) != 2:
        raise ValueError(f"expected {kind}:LOW:HIGH, but got {spec!r}")
    integer = kind == "int"
    low, high = (_number(p, integer=integer) for p in parts)
    return _KINDS[kind](low, high)


class SearchSpace(Mapping[str, Dimension]):
    """Named dimensions, always in sorted name order so that grids and seeds reproduce.

    Args:
        dimensions: Parameter name to dimension.

    Raises:
        ValueError: A name is empty or a value is not a :class:`Dimension`.

    Example:
        >>> space = SearchSpace({"lr": LogUniform(1e-6, 1e-2), "weight_decay": LogUniform(1e-8, 1e-4)})
        >>> space.names
        ('lr', 'weight_decay')
    """

    def __init__(self, dimensions: Mapping[str, Dimension]) -> None:
        if not dimensions:
            raise ValueError("a SearchSpace needs at least one dimension, but got none")
        for name, dim in dimensions.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"parameter names must be identifiers, but got {name!r}")
            if not isinstance(dim, Dimension):
                raise ValueError(f"parameter {name!r} needs a Dimension, but got {dim!r}")
        self._dims = {name: dimensions[name] for name in sorted(dimensions)}

    def __getitem__(self, name: str) -> Dimension:
        return self._dims[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dims)

    def __len__(self) -> int:
        return len(self._dims)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self._dims == other._dims

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v.spec()}" for k, v in self._dims.items())
        return f"SearchSpace({inner})"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._dims)

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draws one value per dimension, in name order."""
        return {name: dim.sample(rng) for name, dim in self._dims.items()}

    def with_dimensions(self, dimensions: Mapping[str, Dimension]) -> SearchSpace:
        """A copy where ``dimensions`` replace (or add) entries of the same name."""
        return SearchSpace({**self._dims, **dimensions})

    # The one place where dict params and scikit-optimize's lists meet.
    def to_skopt(self) -> list[Any]:
        return [dim.to_skopt(name) for name, dim in self._dims.items()]

    def to_list(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self._dims]

    def from_list(self, values: Sequence[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (name, dim), value in zip(self._dims.items(), values):
            if isinstance(dim, IntUniform):
                value = int(value)
            elif isinstance(dim, (Uniform, LogUniform)):
                value = float(value)
            elif isinstance(value, np.generic):
                value = value.item()
            out[name] = value
        return out

    def to_json(self) -> dict[str, Any]:
        return {name: dim.to_json() for name, dim in self._dims.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchSpace:
        return cls({name: Dimension.from_json(spec) for name, spec in data.items()})


def default_space() -> SearchSpace:
    """The seed experiment's space: lr ~ 10**U(-6, -2), weight decay ~ 10**U(-8, -4)."""
    return SearchSpace({"lr": LogUniform(1e-6, 1e-2), "weight_decay": LogUniform(1e-8, 1e-4)})
