"""A study's definition (``study.json``) as one typed record: every module reads it through
:class:`Definition`, never by key, and a file whose keys or kinds are wrong is refused in one
line naming it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpsearch.exceptions import StudyError

__all__ = ["Definition"]


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


# Keys a study may lack: those not kept for its objective (the built-in network has no code
# fingerprint) or not yet set (no change of code). Every study is stored with ``created``: one
# without it is damaged (no version without it was released), not an earlier one.
_OPTIONAL = ("code", "code_changes")

# Each field's kind, as JSON gives it: a check and the words that name it.
_KINDS: dict[str, tuple[Any, str]] = {
    "name": (lambda v: isinstance(v, str), "a string"),
    "strategy": (lambda v: isinstance(v, dict) and isinstance(v.get("name"), str), "a strategy"),
    "space": (lambda v: isinstance(v, dict), "an object"),
    "seed": (_count, "an integer >= 0"),
    "config": (lambda v: isinstance(v, dict), "an object"),
    "objective": (lambda v: v is None or isinstance(v, str), "a reference or null"),
    "goal": (lambda v: isinstance(v, dict), "an object"),
    "pruning": (lambda v: isinstance(v, dict), "an object"),
    "n_trials": (lambda v: _count(v) and v >= 1, "a positive integer"),
    "lag": (_count, "an integer >= 0"),
    "confirm": (_count, "an integer >= 0"),
    "repeats": (lambda v: _count(v) and v >= 1, "a positive integer"),
    "refit": (lambda v: isinstance(v, bool), "true or false"),
    "test_curves": (lambda v: isinstance(v, bool), "true or false"),
    "hpsearch_version": (lambda v: isinstance(v, str), "a string"),
    "code": (lambda v: v is None or isinstance(v, str), "a fingerprint or null"),
    "code_changes": (
        lambda v: isinstance(v, list) and all(isinstance(c, dict) for c in v),
        "a list of objects",
    ),
    "created": (lambda v: v is None or isinstance(v, str), "a time or null"),
}


@dataclass(frozen=True)
class Definition:
    """What defines a study, as stored in ``study.json``.

    Attributes:
        name: The study's name.
        strategy: The strategy's settings (``{"name": "bayes", ...}``).
        space: The search space, as :meth:`hpsearch.SearchSpace.to_json` gives it.
        seed: The study seed.
        config: The fixed settings: the built-in network's ``TrainConfig``, or for an own
            objective (or trials told by hand) the ``Settings`` every study has.
        objective: The own objective's reference; None for the built-in network.
        goal: What the study ranks by (``{"metric": ..., "direction": ...}``).
        pruning: The pruning schedule's settings.
        n_trials: Trials planned.
        lag: 1 where proposals run a batch ahead of the results, else 0.
        confirm, repeats, refit, test_curves: The confirm stage's settings.
        hpsearch_version: The version that made the study.
        created: When it was made (ISO 8601), if known.
        code: A fingerprint of the own objective's source (its modules' text), if it has one.
        code_changes: Each time the study went on with changed code: ``{"from", "to",
            "trials", "repeats"}`` (the fingerprints, and the runs recorded before it).
    """

    name: str
    strategy: dict[str, Any]
    space: dict[str, Any]
    seed: int
    config: dict[str, Any]
    objective: str | None
    goal: dict[str, Any]
    pruning: dict[str, Any]
    n_trials: int
    lag: int
    confirm: int
    repeats: int
    refit: bool
    test_curves: bool
    hpsearch_version: str
    created: str | None = field(default=None)
    code: str | None = field(default=None)
    code_changes: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> Definition:
        """The definition ``data`` (the JSON object of the file ``path``) holds.

        Raises:
            StudyError: A key is missing, unknown, or not of its kind.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [k for k in names if k not in data and k not in _OPTIONAL]
        unknown = sorted(set(data) - set(names))
        if missing or unknown:
            said = [f"missing {missing}"] * bool(missing) + [f"unknown {unknown}"] * bool(unknown)
            raise StudyError(f"corrupt study definition {path}: {'; '.join(said)}")
        for key, value in data.items():
            ok, kind = _KINDS[key]
            if not ok(value):
                raise StudyError(f"corrupt study definition {path}: {key} is {value!r}, not {kind}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in _OPTIONAL:  # a study without code or code changes stores neither
            if not data[key]:
                del data[key]
        return data

    def replace(self, **changes: Any) -> Definition:
        return dataclasses.replace(self, **changes)
