"""The checks a log's line passes as it becomes a record: each field of its kind and range.

A study's logs are JSON Lines (see :mod:`hpsearch.storage.jsonl`); a line edited by hand or
damaged on the way may hold any JSON value where a record's field stands: ``Infinity`` for an
accuracy, ``"0.9"`` as a string, a negative trial number, params as a list. Each line is
checked here, in one place, as it is read, so that such a value is refused in one line naming
the field (``val_acc is Infinity, not a number in 0..1``; :func:`read_log` adds the file and the
line), before any report, strategy or resume computes with it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from hpsearch.records import RepeatResult, TrialResult, TrialState

__all__ = ["check_fields", "proposal_from_line", "repeat_from_line", "trial_from_line"]

_Check = Callable[[str, Any], None]  # check(name, value) raises ValueError naming the field
_Field = tuple[bool, _Check]  # whether the field is required, and its check


def _shown(value: Any) -> str:
    """A value as JSON spells it (``Infinity``, ``"0.9"``), cut short when long."""
    text = json.dumps(value, sort_keys=True)
    if len(text) <= 40:
        return text
    return f"{text[:10]}... ({len(text)} digits)" if isinstance(value, int) else text[:37] + "..."


def _real(value: Any) -> bool:
    """A finite number (not a bool; an integer too large for a float is not one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _value(test: Callable[[Any], bool], kind: str, *, null: bool = True) -> _Check:
    def check(name: str, value: Any) -> None:
        if not (null and value is None) and not test(value):
            raise ValueError(f"{name} is {_shown(value)}, not {kind}")

    return check


def _list_of(item: _Check) -> _Check:
    def check(name: str, value: Any) -> None:
        if not isinstance(value, list):
            raise ValueError(f"{name} is {_shown(value)}, not a list")
        for i, v in enumerate(value):
            item(f"{name}[{i}]", v)

    return check


def _object_of(item: _Check) -> _Check:
    def check(name: str, value: Any) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"{name} is {_shown(value)}, not an object of names and values")
        for k, v in value.items():
            item(f"{name}[{json.dumps(k)}]", v)

    return check


def _searched(value: Any) -> bool:
    """A searched value: a number (finite), a text, true or false, as a dimension gives (a
    choice may be null too)."""
    return value is None or isinstance(value, (str, bool)) or _real(value)


def _count(*, null: bool) -> _Check:
    return _value(
        lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63,
        "a whole number 0 or more",
        null=null,
    )


_COUNT = _count(null=False)
_SHARE = _value(lambda v: _real(v) and 0 <= v <= 1, "a number in 0..1")
_NUMBER = _value(_real, "a finite number")
_SECONDS = _value(lambda v: _real(v) and v >= 0, "a number of seconds 0 or more", null=False)
# When a trial's line was logged (seconds since the epoch), on the line beside its record.
_STAMP = _value(lambda v: _real(v) and v >= 0, "a time in seconds since 1970")
_STATE = _value(
    lambda v: v in tuple(TrialState.__members__),
    f"one of {', '.join(TrialState.__members__)}",
    null=False,
)
# An accuracy is a share in 0..1, and so is each point of its curve (null for a value that was not
# finite): the reports give it an interval. Loss and an own objective's values need only be finite.
_COMMON: dict[str, _Field] = {
    "number": (True, _COUNT),
    "params": (True, _object_of(_value(_searched, "a finite number, a text, true or false"))),
    "state": (True, _STATE),
    "val_acc": (False, _SHARE),
    "train_acc": (False, _SHARE),
    "epochs": (False, _COUNT),
    "train_curve": (False, _list_of(_SHARE)),
    "val_curve": (False, _list_of(_SHARE)),
    "loss_curve": (False, _list_of(_NUMBER)),
    "seconds": (False, _SECONDS),
    "error": (False, _value(lambda v: isinstance(v, str), "a text")),
    "n_val": (False, _count(null=True)),
    "metrics": (False, _object_of(_NUMBER)),
    "curves": (False, _object_of(_list_of(_NUMBER))),
}


def check_fields(data: Any, fields: Mapping[str, _Field]) -> None:
    """Checks each of ``fields`` in the JSON object ``data`` (a line of a log); other keys are
    left alone (a later version's, say).

    Raises:
        ValueError: ``data`` is not an object, or a field is missing or not of its kind.
    """
    if not isinstance(data, dict):
        raise ValueError(f"the line holds {_shown(data)}, not a JSON object (one record)")
    for name, (required, check) in fields.items():
        if name in data:
            check(name, data[name])
        elif required:
            raise ValueError(f"{name} is missing")


_TRIAL = {**_COMMON, "best_val_acc": (False, _SHARE), "finished": (False, _STAMP)}
_REPEAT = {
    **_COMMON,
    "repeat": (True, _COUNT),
    "refit": (False, _value(lambda v: isinstance(v, bool), "true or false", null=False)),
    "n_test": (False, _count(null=True)),
    "test_acc": (False, _SHARE),
    "best_test_acc": (False, _SHARE),
    "test_curve": (False, _list_of(_SHARE)),
}
_PROPOSAL = {"number": _COMMON["number"], "params": _COMMON["params"]}


def trial_from_line(data: Any) -> TrialResult:
    """The finished trial a line of ``trials.jsonl`` (or ``rungs.jsonl``) holds.

    Raises:
        ValueError: A field is missing or not of its kind, in one line naming it.
    """
    check_fields(data, _TRIAL)
    return TrialResult.from_json(data)


def repeat_from_line(data: Any) -> RepeatResult:
    """The confirm-stage run a line of ``repeats.jsonl`` holds.

    Raises:
        ValueError: A field is missing or not of its kind, in one line naming it.
    """
    check_fields(data, _REPEAT)
    return RepeatResult.from_json(data)


def proposal_from_line(data: Any) -> tuple[int, dict[str, Any]]:
    """The trial number and params a line of ``asked.jsonl`` holds.

    Raises:
        ValueError: ``number`` or ``params`` is missing or not of its kind.
    """
    check_fields(data, _PROPOSAL)
    return data["number"], data["params"]
