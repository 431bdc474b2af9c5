"""The command line's entry: parse the words, run the command, and say any failure in one line.

Bad input ends in one line on stderr and exit status 2, with nothing written: every value is
checked where it enters (argument parsing, then the :class:`~hpsearch.Study` constructor) before
the study folder is touched. Library errors name Python arguments (``n_jobs``); this module
says them as its flags (``--jobs``). Parsing and ``--help`` import nothing numeric, so they
answer at once even where the numeric stack is slow to load.
"""

from __future__ import annotations

import argparse
import errno
import functools
import os
import re
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any

from hpsearch.cli.parser import build_parser

__all__ = ["main"]

# Python argument -> flag, for errors raised by the library.
_FLAGS = {
    "n_trials": "--trials",
    "n_jobs": "--jobs",
    "seed": "--seed",
    "val_ratio": "--val-ratio",
    "batch_size": "--batch-size",
    "min_epochs": "--min-epochs",
    "reduction_factor": "--reduction-factor",
    "prune": "--prune",
    "confirm": "--confirm",
    "repeats": "--repeats",
    "scheduler": "--scheduler",
    "samples": "--samples",
    "epochs": "--epochs",
    "hidden": "--hidden",
    "time_limit": "--time-limit",
    "dataset": "--dataset",
    "space": "--param",
    "name": "--name",
    "top": "--top",
}


def _flagged(message: str, positional: Sequence[str] = ()) -> str:
    """A library message with Python argument names said as flags: ``n_jobs=0`` -> ``--jobs 0``.

    Names in ``positional`` are left as they are: the command took them as positional
    arguments (``report NAME``), not as flags.
    """
    for name, flag in _FLAGS.items():
        if name in positional:
            continue
        message = re.sub(
            rf"(?<![\w.-]){name}(=| must| needs| ')",
            functools.partial(_said_as_flag, flag),
            message,
        )
    return message


def _said_as_flag(flag: str, m: re.Match[str]) -> str:
    """The replacement for one match in :func:`_flagged`: ``name=`` -> ``flag ``, else ``flag``
    followed by what came after the name."""
    return flag + (" " if m.group(1) == "=" else m.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    said: set[str] = set()

    def show(message: Any, *_: Any, **__: Any) -> None:
        # A warning is one line for a person, not a source location, and is said once even
        # when two checks (the arguments, then the data) find the same thing.
        text = f"hpsearch: warning: {_flagged(' '.join(str(message).split()))}"
        if text not in said:
            said.add(text)
            print(text, file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        return _main(build_parser(), argv)


def _main(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    # Nothing numeric is imported before the arguments are parsed: --help, --version and a
    # usage error answer at once, even where NumPy is slow or unable to load.
    from hpsearch.cli import commands, training

    args = None
    try:
        args = parser.parse_args(argv)
        if args.command == "file":
            from hpsearch.cli.studyfile import study_file_argv

            args = parser.parse_args(study_file_argv(args.file, parser) + args.overrides)
        # The commands that train, and those that train nothing (never importing an objective).
        module = training if args.command in ("run", "file", "confirm", "compare") else commands
        return getattr(module, args.command)(args, argv)
    except BrokenPipeError:  # `hpsearch report NAME | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError) as exc:  # hpsearch.storage.folder.StudyError is a ValueError
        text = " ".join(str(exc).split()) if not isinstance(exc, OSError) else _os_error(exc)
        positional = (
            ("name",)
            if getattr(args, "command", None) in ("confirm", "compare", "report", "importance")
            else ()
        )
        print(f"hpsearch: error: {_flagged(text, positional)}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 0


# A file being replaced is first written beside it as ``.NAME.PID.tmp`` (hpsearch.storage.files).
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.\d+\.tmp")
_CAUSES = {
    errno.EFBIG: "file too large (a file size limit: see `ulimit -f`)",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EPERM: "operation not permitted (an immutable file or folder?)",
    errno.EACCES: "permission denied",
}


def _os_error(exc: OSError) -> str:
    """One line for a file the study could not write or read: which file, and why.

    The file is the one the study meant, never its temporary twin; when the library gives no
    name (a figure's writer hitting a full disk), the file being replaced is found on the way
    the error came. Of errors that followed one another (the reports failing on the same full
    disk as the log), the first is told: it is the one that stopped the study.
    """
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and all(link is not e for e in chain):
        chain.append(link)
        link = link.__context__
    errors = [e for e in reversed(chain) if isinstance(e, OSError)]  # the first one first
    first = errors[0]
    # os.replace(temporary, target): the target is the file that refused.
    names = [e.filename2 or e.filename for e in errors] + [
        _being_written(e) for e in reversed(chain)
    ]
    name = next((n for n in names if n is not None), None)
    why = _CAUSES.get(first.errno or 0) or first.strerror or str(first) or type(first).__name__
    if name is None:
        return why
    head, tail = os.path.split(os.fsdecode(name))
    match = _TEMPORARY.fullmatch(tail)
    return (
        f"{os.path.join(head, match.group('name')) if match else os.path.join(head, tail)}: {why}"
    )


def _being_written(exc: BaseException) -> Any:
    """The temporary file an hpsearch frame was writing when the error came up through it,
    if any."""
    found = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        if not str(frame.f_globals.get("__name__", "")).startswith("hpsearch."):
            continue
        for value in frame.f_locals.values():
            if isinstance(value, (str, os.PathLike)) and _TEMPORARY.fullmatch(
                os.path.basename(os.fspath(value))
            ):
                found = value
    return found
