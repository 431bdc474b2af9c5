"""The built-in network's own conditions: a setting searched only where it acts.

An optimizer's settings act for that optimizer alone (momentum for momentum and Nesterov,
``decay_rate`` for RMSProp, ``beta1``/``beta2`` for Adam), and ``hswish_n`` for the h-swish
activation alone. A study of the network that searches such a setting beside the choice it
depends on searches it only where it acts (the condition is added to the space, and shown
with it); one that searches it while the choice is fixed to one that ignores it, or beside
choices none of which use it, is refused: its trials would differ in a number that does
nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hpsearch.builtin.nn.activations import ACTIVATIONS, activation_options
from hpsearch.builtin.nn.optimizers import OPTIMIZERS, optimizer_settings
from hpsearch.space.conditions import Condition
from hpsearch.space.dimensions import Categorical, Dimension
from hpsearch.space.search_space import SearchSpace

__all__ = ["ACTS_ON", "with_conditions"]


def _acts_on() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Setting -> (the choice it depends on, the values of that choice it acts for)."""
    users: dict[tuple[str, str], list[str]] = {}
    for name in OPTIMIZERS:
        for setting in optimizer_settings(name):
            users.setdefault(("optimizer", setting), []).append(name)
    for name in ACTIVATIONS:
        for option in activation_options(name):
            users.setdefault(("activation", f"{name}_{option}"), []).append(name)
    return {setting: (parent, tuple(values)) for (parent, setting), values in users.items()}


#: Each conditional setting of the network: the choice it depends on, and the values it acts for.
ACTS_ON = _acts_on()


def with_conditions(space: SearchSpace, fixed: Any) -> SearchSpace:
    """``space`` with the network's conditions on the settings it searches (see the module).

    Args:
        space: The searched settings.
        fixed: The network's fixed settings (a ``TrainConfig``): the value of a choice that is
            not searched.

    Raises:
        ValueError: A setting searched where it never acts, or with a condition of its own
            that names values which ignore it.
    """
    dims: dict[str, Dimension] = dict(space)
    for name, dim in space.items():
        if name not in ACTS_ON:
            continue
        parent, takers = ACTS_ON[name]
        uses = ", ".join(takers)
        choice = space.get(parent)
        if dim.when is not None:
            ignore = [v for v in dim.when.values if dim.when.parent == parent and v not in takers]
            if ignore:
                raise ValueError(
                    f"{name}: its condition asks {parent}={ignore[0]}, which does not use "
                    f"{name} (used by {parent} {uses})"
                )
            continue
        if not isinstance(choice, Categorical):
            value = getattr(fixed, parent)
            if value not in takers:
                raise ValueError(
                    f"{name} is searched, but {parent}={value} does not use it (used by "
                    f"{parent} {uses}): set {parent} to one of those, or search {parent}"
                )
            continue
        acting = tuple(c for c in choice.choices if c in takers)
        if not acting:
            raise ValueError(
                f"{name} is searched, but none of the {parent}s searched uses it "
                f"({', '.join(map(str, choice.choices))}; used by {parent} {uses})"
            )
        if len(acting) < len(choice.choices):
            dims[name] = dataclasses.replace(dim, when=Condition(parent, acting))  # type: ignore[type-var]
    return space if dims == dict(space) else SearchSpace(dims)
