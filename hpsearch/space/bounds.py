"""A range's bounds: checked before a range exists, and printed without float noise."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["check_bounds", "clean"]


def check_bounds(cls_name: str, low: Any, high: Any, *, positive: bool = False) -> None:
    for label, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{cls_name} needs numeric bounds, but got {label}={value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{cls_name} needs finite bounds, but got {label}={value!r}")
    if positive and low <= 0:
        raise ValueError(
            f"{cls_name} needs `low > 0` (log scale), but got low={low!r}, high={high!r}"
        )
    if not low < high:
        raise ValueError(f"{cls_name} needs `low < high`, but got low={low!r}, high={high!r}")


def clean(value: float) -> float:
    # 1e-6 * 10 is 9.999999999999999e-06: round away the float noise before printing a spec.
    return float(f"{value:.12g}")
