"""The command line: ``hpsearch {grid,random,bayes,run,confirm,compare,report,list,data} ...``.

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
from typing import Any, NoReturn

from hpsearch import __version__

__all__ = ["main", "build_parser"]

FORMATS = ("table", "markdown", "csv", "json")
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
# The training options that are shortcuts for --set NAME=VALUE.
_SHORTCUTS = (
    "dataset",
    "samples",
    "val_ratio",
    "epochs",
    "batch_size",
    "hidden",
    "dtype",
    "time_limit",
)


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


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``hpsearch: error: ...``, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"hpsearch: error: {message}\n")


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


_positive_int = _checked(int, lambda v: v >= 1, "a positive integer")
_count = _checked(int, lambda v: v >= 0, "an integer >= 0")
_jobs = _checked(int, lambda v: v >= 1 or v == -1, "a positive integer or -1 (all cores)")
_ratio = _checked(float, lambda v: 0 < v < 1, "a number in (0, 1)")
_seconds = _checked(float, lambda v: 0 < v < float("inf"), "positive seconds")
# An empty --out (an unset variable in a script) would put studies in the current folder.
_folder = _checked(str, lambda v: bool(v.strip()) and "\0" not in v, "a folder")


def _thresholds(text: str) -> tuple[float, ...]:
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


def _param(text: str) -> tuple[str, Any]:
    from hpsearch.space.search_space import parse_dimension

    name, spec = _named(text, "NAME=SPEC (e.g. lr=log:1e-5:1e-1)", setting=False)
    try:
        return name, parse_dimension(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{name}: {exc}") from None


def _setting(text: str) -> tuple[str, Any]:
    name, value = _named(text, "NAME=VALUE (e.g. optimizer=adam)")
    from hpsearch.space.search_space import (
        parse_value,
    )  # after the name is known good: it loads NumPy

    value = value.strip()
    return name, None if value.lower() == "none" else parse_value(value)


class _Shortcut(argparse.Action):
    """``--epochs 20`` is ``--set epochs=20``: both land in one list, so the later one wins."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        namespace.set.append((self.dest, values))


def _hidden(text: str) -> tuple[int, ...]:
    from hpsearch.builtin.config import parse_hidden

    try:
        return parse_hidden(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_backend(g: Any) -> None:
    g.add_argument(
        "--jobs", type=_jobs, default=-1, help="parallel workers, -1 for one per core (default -1)"
    )
    g.add_argument(
        "--backend",
        choices=("auto", "loky", "threading", "dask"),
        default="auto",
        help="where runs go: loky worker processes, threads, or a Dask cluster (default auto: "
        "threads for a small study of the built-in network, else processes)",
    )
    g.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="the Dask scheduler's address, with --backend dask",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_confirm(g: Any, later: bool = False) -> None:
    """The confirm stage's options: of a search command, or (``later``) of ``confirm``. None
    given leaves a study's stored setting as it is (the defaults make a new study's)."""
    if later:
        confirm_help = (
            "configurations to train again: the top K distinct ones of the search (default: "
            "the study's own, or 5 for a study made with --confirm 0)"
        )
        own = "default: the study's own"
    else:
        confirm_help = (
            "after the search, train the top K distinct configurations again with fresh seeds "
            "and score them on the test part; 0: no confirm stage (default 5; a study resumed "
            "keeps its own)"
        )
        own = "default: the study's own when resumed"
    g.add_argument(
        "--confirm",
        type=_positive_int if later else _count,
        default=None,
        metavar="K",
        help=confirm_help,
    )
    g.add_argument(
        "--repeats",
        type=_positive_int,
        default=None,
        metavar="R",
        help=f"runs of each confirmed configuration, in all: runs already done count "
        f"({own}, else 3)",
    )
    g.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also train the chosen configuration on training plus validation images for its "
        f"final test score ({own}, else no)",
    )
    g.add_argument(
        "--test-curves",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="score the test part after every epoch of each confirm run, for `compare` "
        f"({own}, else no)",
    )
    if not later:
        g.add_argument(
            "--compare",
            metavar="SETTING",
            help="after the study, compare the values of this searched setting (as the compare "
            "command does: each value's best configuration trained --repeats times, its table "
            "printed, compare_SETTING.csv/.png written and shown in index.html)",
        )
        _add_thresholds(g)


def _add_thresholds(g: Any) -> None:
    g.add_argument(
        "--thresholds",
        type=_thresholds,
        default=None,
        help="test accuracies whose first epoch a comparison reports, e.g. 0.8,0.9 (default: "
        "90, 95 and 98%% of the best value's mean test accuracy)",
    )


def _add_run_parser(sub: Any, strategy: str, help_text: str) -> None:
    p = sub.add_parser(strategy, help=help_text, description=help_text)
    p.set_defaults(command="run", strategy=strategy)
    g = p.add_argument_group("study")
    g.add_argument(
        "--trials", type=_positive_int, default=100, help="trials to run in all (default 100)"
    )
    g.add_argument(
        "--seed", type=_count, default=0, help="study seed: same seed, same results (default 0)"
    )
    g.add_argument(
        "--name", help=f"study name; the same name resumes it (default: {strategy}-<date>-<time>)"
    )
    _add_out(g)
    g.add_argument(
        "--objective",
        metavar="REF",
        help="your own training function instead of the built-in network: PATH.py:FUNCTION or "
        "package.module:FUNCTION, called with a trial handle (params, epochs, data, report); "
        "with --param, only the dimensions given are searched",
    )
    g.add_argument(
        "--metric",
        default="val_acc",
        help="with --objective: the metric your function returns that ranks the trials "
        "(default val_acc)",
    )
    g.add_argument(
        "--direction",
        choices=("maximize", "minimize"),
        default="maximize",
        help="with --objective: whether the metric is best high or low (default maximize)",
    )
    g.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="a searched dimension, repeatable: lr=log:1e-5:1e-1, weight_decay=float:0:1e-4, "
        "batch_size=int:32:256, activation=choice:relu,sigmoid; replaces the default "
        "entry of the same name (defaults: lr=log:1e-06:0.01, weight_decay=log:1e-08:0.0001)",
    )
    if strategy == "bayes":
        g.add_argument(
            "--bayes-batch",
            type=_positive_int,
            default=4,
            help="points proposed per model update, whatever --jobs (default 4)",
        )
    g.add_argument(
        "--prune",
        choices=("none", "halving", "hyperband"),
        default="none",
        help=(
            "stop poor trials early by successive halving over epochs, or Hyperband (default none)"
        ),
    )
    g.add_argument(
        "--min-epochs",
        type=_positive_int,
        default=5,
        help="with --prune: fewest epochs before a trial can be stopped (default 5)",
    )
    g.add_argument(
        "--reduction-factor",
        type=_positive_int,
        default=3,
        help="with --prune: each rung keeps the best 1/N (default 3)",
    )
    _add_backend(g)
    _add_confirm(g)
    t = p.add_argument_group("training (defaults: the seed experiment)")
    t.add_argument(
        "--set",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fix any training setting, repeatable: optimizer=adam, activation=tanhexp, "
        "epochs=20 (the options below are shortcuts for common ones; the last one given wins)",
    )
    shortcut = dict(action=_Shortcut, default=argparse.SUPPRESS)
    t.add_argument(
        "--dataset",
        **shortcut,
        help="mnist (the shipped 10,000-image subset; full MNIST is "
        "downloaded when --samples > 10000), fashion-mnist, digits, or a path to a .npz with "
        "x_train, y_train and optionally x_test, y_test (default mnist)",
    )
    t.add_argument(
        "--samples",
        type=_positive_int,
        **shortcut,
        help="images taken from the training set (default 500)",
    )
    t.add_argument(
        "--val-ratio", type=_ratio, **shortcut, help="share held out for validation (default 0.2)"
    )
    t.add_argument("--epochs", type=_positive_int, **shortcut, help="epochs per trial (default 50)")
    t.add_argument(
        "--batch-size", type=_positive_int, **shortcut, help="mini-batch size (default 100)"
    )
    t.add_argument(
        "--hidden",
        type=_hidden,
        **shortcut,
        help="hidden layer sizes, e.g. 100,100,100 or 100x6 (default 100x6)",
    )
    t.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        **shortcut,
        help="floating type (default float32)",
    )
    t.add_argument(
        "--time-limit",
        type=_seconds,
        **shortcut,
        help="seconds after which a trial stops (TIMEOUT)",
    )


def _add_out(p: Any) -> None:
    p.add_argument(
        "--out", type=_folder, default="studies", help="the studies folder (default studies)"
    )


def _add_format(p: Any) -> None:
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table, markdown, csv or json (default table)",
    )


def _study_parser(
    sub: Any, command: str, help_text: str, description: str
) -> argparse.ArgumentParser:
    """A subcommand that works on an existing study: its NAME and the --out folder."""
    p = sub.add_parser(command, help=help_text, description=description)
    p.set_defaults(command=command)
    p.add_argument("name", help="the study name")
    _add_out(p)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hpsearch",
        description=(
            "Hyperparameter search for the NumPy MultiLayerNet of 'Deep Learning from Scratch'."
        ),
    )
    parser.add_argument("--version", action="version", version=f"hpsearch {__version__}")
    sub = parser.add_subparsers(
        dest="subcommand",
        parser_class=_Parser,
        metavar="{grid,random,bayes,run,confirm,compare,report,importance,compare-studies,list,data}",
    )
    sub.required = True
    _add_run_parser(sub, "grid", "grid search: evenly spaced points, log-spaced on log ranges")
    _add_run_parser(sub, "random", "random search: log-uniform on log ranges")
    _add_run_parser(sub, "bayes", "Bayesian optimisation with a Gaussian process (scikit-optimize)")

    f = sub.add_parser(
        "run",
        help="run (or resume) the study a TOML or JSON file declares",
        description="Run (or resume) the study declared in a TOML or JSON file: strategy, options, "
        "[space] and [set] tables (see the README). Options after the file override it.",
    )
    f.set_defaults(command="file")
    f.add_argument("file", help="the study file (.toml or .json)")
    f.add_argument(
        "overrides", nargs=argparse.REMAINDER, help="run options, e.g. --jobs 2 --epochs 3"
    )

    c = _study_parser(
        sub,
        "confirm",
        "train a study's top configurations again and score them on the test part",
        "Run, complete or extend the confirm stage of a study whose search is done: its top K "
        "distinct configurations trained R times each with fresh seeds and scored on the test "
        "part; only the runs not done yet are trained. The settings given are stored with the "
        "study.",
    )
    _add_confirm(c, later=True)
    _add_backend(c)

    m = _study_parser(
        sub,
        "compare",
        "compare the values of a searched setting over repeated runs",
        "For each value of a searched setting, its best configuration trained --repeats times: "
        "train, validation and test accuracy (mean ± sd), best test accuracy over epochs, first "
        "epoch reaching each threshold, seconds.",
    )
    m.add_argument(
        "--by",
        required=True,
        metavar="SETTING",
        help="the searched setting to compare, e.g. activation",
    )
    _add_thresholds(m)
    m.add_argument(
        "--format",
        choices=FORMATS[:3],
        default="table",
        help="table, markdown or csv (default table)",
    )
    m.add_argument(
        "--repeats",
        type=_positive_int,
        default=None,
        metavar="R",
        help="runs per value (default 3)",
    )
    _add_backend(m)

    r = _study_parser(
        sub,
        "report",
        "print a study's top trials; rebuild its CSVs and figures if stale",
        "Print the top trials of a study (finished, interrupted or running) on stdout, its notes "
        "and headline on stderr, and rebuild the files in its folder that are older than its "
        "logs, naming each file written. A study another process is running is printed from its "
        "logs as they stand, and nothing is written.",
    )
    r.add_argument("--top", type=_positive_int, default=5, help="rows to print (default 5)")
    _add_format(r)
    r.add_argument("--write", action="store_true", help="rewrite every file, stale or not")

    imp = _study_parser(
        sub,
        "importance",
        "which searched setting matters: each one's share of the variance of the metric",
        "Each searched parameter's share of the variance of the study's metric over its COMPLETE "
        "trials (permutation importance of a random forest, scikit-learn), with a 95% interval "
        "over bootstrap resamples of the trials. Writes importance.csv and importance.png and "
        "adds the table to index.html; reads the logs only, never the objective.",
    )
    _add_format(imp)

    cs = sub.add_parser(
        "compare-studies",
        help="studies side by side: best, chosen test score, and whether they differ beyond noise",
        description="Studies side by side: strategy, space, trials, wall time, best validation "
        "score with its interval, the chosen configuration's test mean ± sd, a sentence on "
        "whether the chosen test scores differ by more than their noise, and a figure of each "
        "study's best so far. Studies that rank by different metrics are refused.",
    )
    cs.set_defaults(command="compare_studies")
    cs.add_argument("names", nargs="+", metavar="NAME", help="two or more study names")
    _add_out(cs)
    cs.add_argument("--to", help="the folder for compare-studies_<names>.csv/.png (default: --out)")
    _add_format(cs)

    ls = sub.add_parser(
        "list",
        help="the studies in a folder, one line each",
        description="The studies in a "
        "folder: name, strategy, trials done / planned, best validation accuracy, last change.",
    )
    ls.set_defaults(command="list")
    _add_out(ls)

    d = sub.add_parser(
        "data",
        help="download a dataset into the cache",
        description=(
            "Download a dataset (IDX gz files from public mirrors, checked by checksum) into the "
            "cache folder ($HPSEARCH_DATA or ~/.cache/hpsearch), for studies run later or offline."
        ),
    )
    d.set_defaults(command="data")
    d.add_argument("action", choices=("download",), help="what to do")
    d.add_argument("dataset", choices=("fashion-mnist", "mnist"), help="the dataset")
    d.add_argument("--mirror", help="a base URL to download from instead of the usual mirrors")
    d.add_argument(
        "--cache-dir", help="the cache folder (default $HPSEARCH_DATA or ~/.cache/hpsearch)"
    )
    d.add_argument("--force", action="store_true", help="download again even if cached")
    return parser


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
