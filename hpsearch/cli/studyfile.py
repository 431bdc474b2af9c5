"""Study files: a TOML or JSON file that stands for a command line, kept in version control.

The file holds ``strategy`` and any run option by its long name (``trials = 100``,
``bayes_batch = 8``), a ``[space]`` table of ``NAME = "SPEC"`` and a ``[set]`` table of fixed
training settings. It is turned into the words of a command line, so that it gets the very
checks and messages of the command line; options given after the file come later and win.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["study_file_argv"]


def _toml_loads(text: str) -> dict[str, Any]:
    """``tomllib.loads``: from the standard library, or from tomli on Python 3.10."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # tomli is a dependency on Python 3.10 only: mypy may not find it on 3.11 and later
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]  # tomli: 3.10 only
    return tomllib.loads(text)


def _option_strings(parser: argparse.ArgumentParser, command: str) -> set[str]:
    """Every option string of ``command``'s subparser (empty if it cannot be found)."""
    for action in parser._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict) and command in choices:
            return {s for a in choices[command]._actions for s in a.option_strings}
    return set()


def study_file_argv(path: str, parser: argparse.ArgumentParser | None = None) -> list[str]:
    """The command line a study file stands for.

    The file holds ``strategy`` and any run option by its long name (``trials = 100``,
    ``bayes_batch = 8``), a ``[space]`` table of ``NAME = "SPEC"`` and a ``[set]`` table of fixed
    training settings. Going through the parser gives the file the very checks and messages of
    the command line.

    Args:
        path: The study file.
        parser: The command line's parser: given, a key that is no run option of the file's
            strategy is refused naming the file and the key (not as an unknown flag).

    Raises:
        ValueError: The file is missing, unreadable, not of that shape, or holds an unknown key.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        if file.suffix == ".json":
            data = json.loads(text)
        else:
            data = _toml_loads(text)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read study file {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or data.get("strategy") not in ("grid", "random", "bayes"):
        raise ValueError(f'study file {path} must set strategy = "grid", "random" or "bayes"')
    data = dict(data)
    argv = [data.pop("strategy")]

    def text_of(value: Any) -> str:
        if isinstance(value, (list, tuple)):
            return ",".join(text_of(v) for v in value)
        if isinstance(value, bool):
            return str(value).lower()
        return str(value)

    for table, flag in (("space", "--param"), ("set", "--set")):
        entries = data.pop(table, {})
        if not isinstance(entries, dict):
            raise ValueError(f"study file {path}: [{table}] must be a table of NAME = VALUE")
        for name, value in entries.items():
            argv += [flag, f"{name}={text_of(value)}"]
    for key, value in data.items():
        option = "--" + key.replace("_", "-")
        if value is True:
            argv.append(option)
        elif value is not False:
            argv += [option, text_of(value)]
    if parser is not None:
        _, extra = parser.parse_known_args(argv)
        unknown = [w[2:].replace("-", "_") for w in extra if w.startswith("--")] or extra
        # argparse takes a prefix of an option for the option (`repeat` for `repeats`): a key
        # of a file must name its option whole.
        named = _option_strings(parser, argv[0])
        unknown += [
            w[2:].replace("-", "_")
            for w in argv
            if w.startswith("--") and named and w not in named and w[2:] not in unknown
        ]
        if unknown:
            raise ValueError(
                f"study file {path}: unknown key {unknown[0]} (the keys are strategy, the run "
                f"options by their long names as `python -m hpsearch {argv[0]} --help` lists "
                "them, and the tables [space] and [set])"
            )
    return argv
