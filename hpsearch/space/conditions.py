"""Conditions: a parameter searched only where a categorical parameter takes given values.

``--param "decay_rate=float:0.9:0.999 if optimizer=rmsprop"`` searches the decay rate in the
trials that use RMSProp alone; in the others it is not a parameter at all (not in the trial's
params, blank in the tables). The space checks its conditions
(:class:`hpsearch.space.search_space.SearchSpace`) and says which parameters a point has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Condition"]


@dataclass(frozen=True)
class Condition:
    """When a parameter is searched: only while the categorical parameter ``parent`` takes one
    of ``values`` (and ``parent`` is itself searched: conditions may nest).

    Example:
        >>> Condition.of({"optimizer": ["rmsprop", "adam"]})
        Condition(parent='optimizer', values=('rmsprop', 'adam'))
        >>> Condition.of("optimizer=rmsprop").spec()
        'optimizer=rmsprop'
    """

    parent: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.parent, str) or not self.parent.isidentifier():
            raise ValueError(f"a condition needs a parameter name, but got {self.parent!r}")
        if not self.values or len(set(map(repr, self.values))) != len(self.values):
            raise ValueError(
                f"a condition on {self.parent} needs distinct values, but got {list(self.values)!r}"
            )

    @classmethod
    def of(cls, when: Any) -> Condition | None:
        """A condition from ``{"parent": value or [values]}``, ``"parent=a,b"`` or a
        :class:`Condition` (None: none)."""
        if when is None or isinstance(when, Condition):
            return when
        if isinstance(when, str):
            from hpsearch.space import parse_value

            parent, sep, rest = when.partition("=")
            items = [item.strip() for item in rest.split(",")]
            if not sep or not parent.strip() or any(not item for item in items):
                raise ValueError(f"expected a condition NAME=VALUE[,VALUE...], but got {when!r}")
            return cls(parent.strip(), tuple(parse_value(item) for item in items))
        if isinstance(when, Mapping) and len(when) == 1:
            ((parent, values),) = when.items()
            if isinstance(values, str) or not isinstance(values, Sequence):
                values = [values]
            return cls(parent, tuple(values))
        raise ValueError(
            "a condition is {NAME: VALUE or [VALUES]} on one categorical parameter, or "
            f"'NAME=VALUE[,VALUE...]', but got {when!r}"
        )

    def spec(self) -> str:
        """The CLI form, ``parent=a,b``."""
        return f"{self.parent}={','.join(str(v) for v in self.values)}"

    def holds(self, value: Any) -> bool:
        """Whether ``value`` of the parent makes the parameter active (``True`` is not ``1``)."""
        return any(
            value == v and isinstance(value, bool) == isinstance(v, bool) for v in self.values
        )

    def to_json(self) -> dict[str, Any]:
        return {"parent": self.parent, "values": list(self.values)}
