"""The search space: named dimensions in a fixed order, and their CLI and JSON forms.

The dimensions themselves (their sampling, grids, positions, widening and axis scales) live in
:mod:`hpsearch.space.dimensions`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from hpsearch.space import parse_value
from hpsearch.space.conditions import Condition
from hpsearch.space.dimensions import KINDS as _KINDS
from hpsearch.space.dimensions import (
    Categorical,
    Dimension,
    IntUniform,
    LogUniform,
    RangeDimension,
    Uniform,
)

__all__ = [
    "SearchSpace",
    "parse_dimension",
    "default_space",
]


def _number(text: str, *, integer: bool) -> float | int:
    try:
        return int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"expected {kind}, but got {text!r}") from None


def parse_dimension(spec: str) -> Dimension:
    """Reads a CLI dimension spec.

    Args:
        spec: ``log:LOW:HIGH``, ``float:LOW:HIGH``, ``int:LOW:HIGH`` or ``choice:A,B,...``,
            followed by `` if NAME=VALUE[,VALUE...]`` for a parameter searched only where the
            categorical parameter NAME takes one of those values.

    Returns:
        The dimension.

    Raises:
        ValueError: The spec is malformed or its bounds are invalid.

    Example:
        >>> parse_dimension("log:1e-5:1e-1")
        LogUniform(low=1e-05, high=0.1)
        >>> parse_dimension("float:0.9:0.999 if optimizer=rmsprop").spec()
        'float:0.9:0.999 if optimizer=rmsprop'
    """
    spec, *condition = re.split(r"\s+if\s+", spec.strip(), maxsplit=1)
    when = Condition.of(condition[0]) if condition else None
    kind, sep, rest = spec.partition(":")
    if not sep:
        raise ValueError(f"expected KIND:..., with KIND one of {sorted(_KINDS)}, but got {spec!r}")
    if kind not in _KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {sorted(_KINDS)}")
    cls = _KINDS[kind]
    if not issubclass(cls, RangeDimension):  # the one kind without bounds: choice:A,B,...
        items = [item.strip() for item in rest.split(",")]
        if not rest.strip() or any(item == "" for item in items):
            raise ValueError(f"expected choice:A,B,... with no empty choice, but got {spec!r}")
        return Categorical([parse_value(item) for item in items], when=when)
    parts = rest.split(":")
    if len(parts) != 2:
        raise ValueError(f"expected {kind}:LOW:HIGH, but got {spec!r}")
    integer = kind == "int"
    low, high = (_number(p, integer=integer) for p in parts)
    return cls(low, high, when=when)


class SearchSpace(Mapping[str, Dimension]):
    """Named dimensions, always in sorted name order so that grids and seeds reproduce.

    Args:
        dimensions: Parameter name to dimension.

    Raises:
        ValueError: A name is empty or a value is not a :class:`Dimension`.

    Example:
        >>> space = SearchSpace(
        ...     {"lr": LogUniform(1e-6, 1e-2), "weight_decay": LogUniform(1e-8, 1e-4)}
        ... )
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
        for name, dim in self._dims.items():
            self._check_condition(name, dim.when)

    def _check_condition(self, name: str, when: Condition | None) -> None:
        """A condition names another searched categorical parameter, values it can take, and
        no chain of conditions leads back to ``name``."""
        seen = [name]
        while when is not None:
            parent = self._dims.get(when.parent)
            if when.parent in seen:
                chain = " -> ".join([*seen, when.parent])
                raise ValueError(f"{name}: its condition leads back to itself ({chain})")
            if parent is None:
                raise ValueError(
                    f"{name}: its condition names {when.parent}, which is not searched; "
                    f"searched: {', '.join(self._dims)}"
                )
            if not isinstance(parent, Categorical):
                raise ValueError(
                    f"{name}: its condition names {when.parent}, a range; a condition needs "
                    "a list of choices (choice:A,B,...)"
                )
            if len(seen) == 1:
                takes = Condition(when.parent, parent.choices)  # every value the parent takes
                wrong = [v for v in when.values if not takes.holds(v)]
                if wrong:
                    raise ValueError(
                        f"{name}: its condition asks {when.parent}={wrong[0]}, which "
                        f"{when.parent} cannot take (choices: {parent.spec().partition(':')[2]})"
                    )
            seen.append(when.parent)
            when = parent.when

    @property
    def conditional(self) -> bool:
        """Whether some parameter is searched only under a condition."""
        return any(dim.when is not None for dim in self._dims.values())

    def is_active(self, name: str, params: Mapping[str, Any]) -> bool:
        """Whether ``name`` is searched at the point ``params`` (its condition, and its parent's,
        hold there)."""
        when = self._dims[name].when
        while when is not None:
            if when.parent not in params or not when.holds(params[when.parent]):
                return False
            when = self._dims[when.parent].when
        return True

    def active(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` without the parameters its own values leave unsearched."""
        return {k: v for k, v in params.items() if k not in self._dims or self.is_active(k, params)}

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
        """Draws one value per dimension, in name order; the unsearched ones are left out (each
        is drawn all the same, so a point's other values do not depend on the conditions)."""
        return self.active({name: dim.sample(rng) for name, dim in self._dims.items()})

    def with_dimensions(self, dimensions: Mapping[str, Dimension]) -> SearchSpace:
        """A copy where ``dimensions`` replace (or add) entries of the same name."""
        return SearchSpace({**self._dims, **dimensions})

    # The one place where dict params and scikit-optimize's lists meet.
    def to_skopt(self) -> list[Any]:
        return [dim.to_skopt(name) for name, dim in self._dims.items()]

    def to_list(self, params: Mapping[str, Any]) -> list[Any]:
        """The values in name order; an unsearched parameter takes its dimension's
        :meth:`~hpsearch.space.dimensions.Dimension.inactive_value` (one value for all)."""
        return [params[n] if n in params else d.inactive_value() for n, d in self._dims.items()]

    def from_list(self, values: Sequence[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (name, dim), value in zip(self._dims.items(), values, strict=True):
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
