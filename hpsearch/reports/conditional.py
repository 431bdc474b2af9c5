"""Parameters searched under a condition, as the reports treat and say them.

A parameter with a condition (``decay_rate`` searched ``if optimizer=rmsprop``) is not in the
params of the trials where the condition fails: it did nothing there. The reports leave those
trials out for it (its edge note, its importance, its figure panel, its comparison), show its
cell blank in their rows, and say on how many trials it stands where that helps a reader.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

import pandas as pd

from hpsearch.space.search_space import SearchSpace

__all__ = ["blank", "having", "where", "share", "quoted"]

_R = TypeVar("_R")


def blank(value: Any) -> bool:
    """Whether a table cell holds no value: a parameter the row's trial did not have (None,
    or NaN once the table went through pandas or a CSV)."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def having(records: Sequence[_R], name: str) -> list[_R]:
    """The trials (or runs) whose params hold ``name``: where it was searched."""
    return [r for r in records if name in getattr(r, "params", {})]


def where(space: SearchSpace | None, name: str) -> str | None:
    """``name``'s condition as the CLI writes it (``optimizer=rmsprop``); None for a parameter
    searched in every trial (or not in ``space``)."""
    if space is None or name not in space:
        return None
    when = space[name].when
    return None if when is None else when.spec()


def share(
    space: SearchSpace | None, name: str, found: int, total: int, what: str = "trials"
) -> str:
    """How many of ``total`` records have ``name``, and why not all: ``"searched where
    optimizer=rmsprop, in 7 of 12 trials"`` ("" when every record has it).

    Example:
        >>> share(None, "decay_rate", 12, 12)
        ''
    """
    if found >= total:
        return ""
    condition = where(space, name)
    said = f"{found} of {total} {what}"
    return f"searched where {condition}, in {said}" if condition else f"in {said}"


def quoted(spec: str) -> str:
    """A ``--param`` value as a shell reads it whole: quoted when it holds a space (a
    condition, ``decay_rate=float:0.9:0.999 if optimizer=rmsprop``)."""
    return f'"{spec}"' if any(c.isspace() for c in spec) else spec
