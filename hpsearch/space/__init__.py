"""The search space: dimensions (`Uniform`, `LogUniform`, `IntUniform`, `Categorical`) and
`SearchSpace`."""

from __future__ import annotations

__all__ = ["parse_value"]


def parse_value(text: str) -> bool | int | float | str:
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
