"""Building a layer or an optimizer by name: one lookup and one check of the options given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["lookup", "checked_options"]


def lookup(table: Mapping[str, Any], kind: str, name: str) -> Any:
    """``table[name]``.

    Raises:
        ValueError: The name is unknown, with the names there are.
    """
    try:
        return table[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {kind} {name!r}; expected one of {sorted(table)}") from None


def checked_options(
    kind: str, name: str, allowed: Sequence[str], given: Mapping[str, Any], noun: str, none: str
) -> dict[str, Any]:
    """The options of ``given`` that are set (not None), each one that ``name`` takes.

    Args:
        kind: ``"activation"`` or ``"optimizer"``, for the message.
        name: The name asked for.
        allowed: The options it takes.
        given: The options passed, None meaning "not set".
        noun: ``"option"`` or ``"setting"``, for the message.
        none: What to say when it takes none (``"takes no options"``).

    Raises:
        ValueError: A set option that ``name`` does not take.
    """
    chosen = {key: value for key, value in given.items() if value is not None}
    for key in sorted(chosen):
        if key not in allowed:
            takes = f"takes only {list(allowed)}" if allowed else none
            raise ValueError(f"{kind} {name!r} has no {noun} {key!r}; it {takes}")
    return chosen
