"""What every study has, whatever it trains: the data, the split, the dtype and the budget.

A leaf: the engine (the pool, the runner, the study) carries these settings and nothing of a
network; the built-in network's own settings (hidden sizes, activation, optimizer, batch size,
...) are its objective's (:class:`hpsearch.builtin.config.TrainConfig`, which holds these too).
"""

from __future__ import annotations

import dataclasses
import json
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Settings", "positive_int"]


def positive_int(name: str, value: Any, *, upto: int | None = None) -> int:
    """``value`` if it is an integer >= 1 (and <= ``upto``): the one check of a count, for
    settings, arguments and data alike.

    Raises:
        ValueError: Otherwise, naming ``name``.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or int(value) < 1
        or (upto is not None and int(value) > upto)
    ):
        bound = f" and at most {upto:,}" if upto is not None else ""
        raise ValueError(f"{name} must be a positive integer{bound}, but got {value!r}")
    return int(value)


def _fixed(values: Any) -> dict[str, Any]:
    """``values`` as the fixed values of a study: a mapping of names (not names of settings) to
    JSON-ready values, which the study's definition stores.

    Raises:
        ValueError: Otherwise, naming the value.
    """
    if not isinstance(values, Mapping):
        raise ValueError(f"fixed must be a mapping of names to values, but got {values!r}")
    own = {f.name for f in dataclasses.fields(Settings)}
    for name, value in values.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"fixed: {name!r} is not a name (a Python identifier)")
        if name in own:
            raise ValueError(f"fixed: {name!r} is a setting of every study: give it as {name}=")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError(
                f"fixed: {name}={value!r} is not a number, string, bool, None, or a list or "
                "dict of them (the study stores it)"
            ) from None
    return dict(values)


@dataclass(frozen=True)
class Settings:
    """The settings every trial of a study shares, and every objective can read.

    Attributes:
        dataset: ``"mnist"``, ``"digits"`` or the path of an ``.npz`` file.
        samples: Images taken from the dataset's training part, before the split.
        val_ratio: The share of them held out for validation.
        dtype: ``"float32"`` or ``"float64"``: the images' type in ``trial.data``.
        epochs: What each trial trains (``trial.epochs``; under pruning, the last rung's).
        time_limit: Seconds a trial may take (None: no limit).
        fixed: Values an own objective finds in ``trial.params`` beside the searched ones, by
            any name (``--set NAME=VALUE``): settings of the study, never searched columns.

    Example:
        >>> Settings(epochs=5).with_params({"samples": 1000}).samples
        1000
    """

    dataset: str = "mnist"
    samples: int = 500
    val_ratio: float = 0.2
    dtype: str = "float32"
    epochs: int = 50
    time_limit: float | None = None
    fixed: Mapping[str, Any] = dataclasses.field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fixed", _fixed(self.fixed))
        for name in ("samples", "epochs"):
            object.__setattr__(self, name, positive_int(name, getattr(self, name)))
        if not (isinstance(self.val_ratio, (int, float)) and 0 < self.val_ratio < 1):
            raise ValueError(f"val_ratio must lie in (0, 1), but got {self.val_ratio!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', but got {self.dtype!r}")
        if self.time_limit is not None and not (
            isinstance(self.time_limit, (int, float)) and self.time_limit > 0
        ):
            raise ValueError(f"time_limit must be positive seconds, but got {self.time_limit!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def of(cls, config: Any) -> Settings:
        """The settings held by ``config``, any object with these fields (a ``TrainConfig``)."""
        names = [name for name in cls.field_names() if hasattr(config, name)]
        return cls(**{name: getattr(config, name) for name in names})

    def with_params(self, params: Mapping[str, Any]) -> Settings:
        """A copy with those of ``params`` that are settings of this class (a trial's searched
        ``samples``, say); other names are the objective's and are left alone."""
        own = {k: v for k, v in params.items() if k in self.field_names()}
        return dataclasses.replace(self, **own) if own else self

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Settings:
        return cls(**data)
