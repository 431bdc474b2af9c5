"""The values the command line takes: each argparse type here turns one word into a value
(``--trials 20``, ``--param lr=log:1e-5:1e-1``), or refuses it with one line that says what was
expected and what came.

A type that needs more of the package (a --param spec, a --set value) imports it only once it
has a word to read, so that building the parser and ``--help`` import nothing numeric.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = [
    "positive_int",
    "count",
    "jobs",
    "ratio",
    "seconds",
    "folder",
    "thresholds",
    "param",
    "setting",
    "hidden",
]


def _checked(convert: Any, ok: Any, expected: str) -> Any:
    """An argparse type: ``convert(text)``, refused with one line unless ``ok(value)``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, but got {text!r}")
        return value

    return parse


positive_int = _checked(int, lambda v: v >= 1, "a positive integer")
count = _checked(int, lambda v: v >= 0, "an integer >= 0")
jobs = _checked(int, lambda v: v >= 1 or v == -1, "a positive integer or -1 (all cores)")
ratio = _checked(float, lambda v: 0 < v < 1, "a number in (0, 1)")
seconds = _checked(float, lambda v: 0 < v < float("inf"), "positive seconds")
# An empty --out (an unset variable in a script) would put studies in the current folder.
folder = _checked(str, lambda v: bool(v.strip()) and "\0" not in v, "a folder")


def thresholds(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected accuracies in (0, 1] like 0.95,0.97, but got {text!r}"
        )
    return values


def _named(text: str, example: str, setting: bool = True) -> tuple[str, str]:
    """Splits ``NAME=REST``, with NAME a training setting if ``setting``; one-line argparse
    errors otherwise. (A searched name is checked by the study: an own objective reads any.)"""
    from hpsearch.builtin.config import TrainConfig

    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected {example}, but got {text!r}")
    if setting and name not in TrainConfig.field_names():
        raise argparse.ArgumentTypeError(
            f"{name!r} is not a training setting; settings: {', '.join(TrainConfig.field_names())}"
        )
    return name, rest


def param(text: str) -> tuple[str, Any]:
    from hpsearch.space.search_space import parse_dimension

    name, spec = _named(text, "NAME=SPEC (e.g. lr=log:1e-5:1e-1)", setting=False)
    try:
        return name, parse_dimension(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{name}: {exc}") from None


def setting(text: str) -> tuple[str, Any]:
    # Any name: an own objective's are its own; the built-in network's are checked with
    # the command (hpsearch.cli.training), which knows whether there is an objective.
    name, value = _named(text, "NAME=VALUE (e.g. optimizer=adam)", setting=False)
    if not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{name!r} is not a name, in {text!r}")
    from hpsearch.space import parse_value

    value = value.strip()
    return name, None if value.lower() == "none" else parse_value(value)


def hidden(text: str) -> tuple[int, ...]:
    from hpsearch.builtin.config import parse_hidden

    try:
        return parse_hidden(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
