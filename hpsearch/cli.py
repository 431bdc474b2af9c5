"""The command line: ``hpsearch {grid,random,bayes,report} ...``.

Bad input ends in one line on stderr and exit status 2, with nothing written: every value is
checked where it enters (argument parsing, then the :class:`Study` constructor) before the
study folder is touched.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from typing import Any, Sequence

from hpsearch import __version__
from hpsearch.data import REMOTE_DATASETS, download
from hpsearch.report import FORMATS, edge_notes, format_top
from hpsearch.space import SearchSpace, default_space, parse_dimension, parse_value
from hpsearch.storage import StudyError
from hpsearch.study import Study, StudyInterrupted
from hpsearch.config import TrainConfig, parse_hidden

__all__ = ["main", "build_parser"]

_DEFAULTS = TrainConfig()


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``hpsearch: error: ...``, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
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
_jobs = _checked(int, lambda v: v >= 1 or v == -1, "a positive integer or -1 (all cores)")
_seed = _checked(int, lambda v: v >= 0, "an integer >= 0")
_ratio = _checked(float, lambda v: 0 < v < 1, "a number in (0, 1)")


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return parse_hidden(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _named(text: str, example: str) -> tuple[str, str]:
    """Splits ``NAME=REST``, with NAME a training setting; one-line argparse errors otherwise."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected {example}, but got {text!r}")
    if name not in TrainConfig.field_names():
        raise argparse.ArgumentTypeError(
            f"{name!r} is not a training setting; settings: {', '.join(TrainConfig.field_names())}"
        )
    return name, rest


def _param(text: str) -> tuple[str, Any]:
    name, spec = _named(text, "NAME=SPEC (e.g. lr=log:1e-5:1e-1)")
    try:
        return name, parse_dimension(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{name}: {exc}") from None


def _setting(text: str) -> tuple[str, Any]:
    name, value = _named(text, "NAME=VALUE (e.g. optimizer=adam)")
    value = value.strip()
    return name, None if value.lower() == "none" else parse_value(value)


def _add_run_parser(sub: Any, strategy: str, help_text: str) -> None:
    p = sub.add_parser(strategy, help=help_text, description=help_text)
    p.set_defaults(command="run", strategy=strategy)
    g = p.add_argument_group("study")
    g.add_argument("--trials", type=_positive_int, default=100, help="trials to run in all (default 100)")
    g.add_argument("--jobs", type=_jobs, default=-1, help="parallel workers, -1 for one per core (default -1)")
    g.add_argument("--seed", type=_seed, default=0, help="study seed: same seed, same results (default 0)")
    g.add_argument("--name", help="study name; running again with the same name resumes it "
                                  f"(default: {strategy}-<date>-<time>)")
    g.add_argument("--out", default="studies", help="the studies folder (default studies)")
    g.add_argument("--param", type=_param, action="append", default=[], metavar="NAME=SPEC",
                   help="a searched dimension, repeatable: lr=log:1e-5:1e-1, weight_decay=float:0:1e-4, "
                        "batch_size=int:32:256, activation=choice:relu,sigmoid; replaces the default "
                        "entry of the same name (defaults: lr=log:1e-06:0.01, weight_decay=log:1e-08:0.0001)")
    if strategy == "bayes":
        g.add_argument("--bayes-batch", type=_positive_int, default=4,
                       help="points proposed per model update, whatever --jobs (default 4)")
    g.add_argument("--prune", choices=("none", "halving", "hyperband"), default="none",
                   help="stop poor trials early by successive halving over epochs, or Hyperband (default none)")
    g.add_argument("--min-epochs", type=_positive_int, default=5,
                   help="with --prune: fewest epochs before a trial can be stopped (default 5)")
    g.add_argument("--reduction-factor", type=_positive_int, default=3,
                   help="with --prune: each rung keeps the best 1/N (default 3)")
    g.add_argument("--backend", choices=("loky", "threading", "dask"), default="loky",
                   help="where trials run: loky worker processes, threads, or a Dask cluster (default loky)")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="the Dask scheduler's address, with --backend dask")
    g.add_argument("--quiet", action="store_true", help="no progress bar")

    t = p.add_argument_group("training (defaults: the seed experiment)")
    t.add_argument("--set", type=_setting, action="append", default=[], metavar="NAME=VALUE",
                   help="fix any training setting, repeatable: optimizer=adam, activation=tanhexp, "
                        "epochs=20 (the options below are shortcuts for common ones)")
    t.add_argument("--dataset", default=_DEFAULTS.dataset,
                   help="mnist (the shipped 10,000-image subset; full MNIST is downloaded when --samples "
                        "> 10000), fashion-mnist, digits, or a path to a .npz with x_train, y_train "
                        "(default mnist)")
    t.add_argument("--samples", type=_positive_int, default=_DEFAULTS.samples,
                   help=f"images taken from the training set (default {_DEFAULTS.samples})")
    t.add_argument("--val-ratio", type=_ratio, default=_DEFAULTS.val_ratio,
                   help=f"share held out for validation (default {_DEFAULTS.val_ratio})")
    t.add_argument("--epochs", type=_positive_int, default=_DEFAULTS.epochs,
                   help=f"epochs per trial (default {_DEFAULTS.epochs})")
    t.add_argument("--batch-size", type=_positive_int, default=_DEFAULTS.batch_size,
                   help=f"mini-batch size (default {_DEFAULTS.batch_size})")
    t.add_argument("--hidden", type=_hidden, default=_DEFAULTS.hidden,
                   help="hidden layer sizes, e.g. 100,100,100 or 100x6 (default 100x6)")
    t.add_argument("--dtype", choices=("float32", "float64"), default=_DEFAULTS.dtype,
                   help="floating type of the network (default float32)")
    t.add_argument("--time-limit", type=float, default=None,
                   help="seconds after which a trial stops (recorded TIMEOUT)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hpsearch",
        description="Hyperparameter search for the NumPy MultiLayerNet of 'Deep Learning from Scratch'.",
    )
    parser.add_argument("--version", action="version", version=f"hpsearch {__version__}")
    sub = parser.add_subparsers(dest="subcommand", metavar="{grid,random,bayes,run,report,data}",
                                parser_class=_Parser)
    sub.required = True
    _add_run_parser(sub, "grid", "grid search: evenly spaced points, log-spaced on log ranges")
    _add_run_parser(sub, "random", "random search: log-uniform on log ranges")
    _add_run_parser(sub, "bayes", "Bayesian optimisation with a Gaussian process (scikit-optimize)")

    f = sub.add_parser("run", help="run (or resume) the study a TOML or JSON file declares",
                       description="Run (or resume) the study declared in a TOML or JSON file: "
                                   "strategy, options, [space] and [set] tables (see the README). "
                                   "Options given after the file override the file's.")
    f.set_defaults(command="file")
    f.add_argument("file", help="the study file (.toml or .json)")
    f.add_argument("overrides", nargs=argparse.REMAINDER, help="run options, e.g. --jobs 2 --name NAME")

    r = sub.add_parser("report", help="rebuild a study's CSV and figures from its log, print the top",
                       description="Rebuild a study's ranked CSV and figures from its trial log "
                                   "(finished, interrupted or still running) and print the top trials.")
    r.set_defaults(command="report")
    r.add_argument("name", help="the study name")
    r.add_argument("--out", default="studies", help="the studies folder (default studies)")
    r.add_argument("--top", type=_positive_int, default=5, help="rows to print (default 5)")
    r.add_argument("--format", choices=FORMATS, default="table",
                   help="how to print the top rows: table, markdown, csv or json (default table)")

    d = sub.add_parser("data", help="download a dataset into the cache", description=(
        "Download a dataset (IDX gz files from public mirrors, checked by checksum) into the cache "
        "folder ($HPSEARCH_DATA or ~/.cache/hpsearch), for studies run later or offline."))
    d.set_defaults(command="data")
    d.add_argument("action", choices=("download",), help="what to do")
    d.add_argument("dataset", choices=sorted(REMOTE_DATASETS), help="the dataset")
    d.add_argument("--mirror", help="a base URL to download from instead of the usual mirrors")
    d.add_argument("--cache-dir", help="the cache folder (default $HPSEARCH_DATA or ~/.cache/hpsearch)")
    d.add_argument("--force", action="store_true", help="download again even if cached")
    return parser


def _space(params: Sequence[tuple[str, Any]], fixed: Sequence[tuple[str, Any]]) -> SearchSpace:
    """The default space, less the settings fixed by --set, with the --param dimensions."""
    fixed_names = {name for name, _ in fixed}
    kept = {name: dim for name, dim in default_space().items() if name not in fixed_names}
    return SearchSpace({**kept, **dict(params)})


def _config(args: argparse.Namespace) -> TrainConfig:
    settings: dict[str, Any] = dict(
        dataset=args.dataset,
        samples=args.samples,
        val_ratio=args.val_ratio,
        epochs=args.epochs,
        batch_size=args.batch_size,
        hidden=args.hidden,
        dtype=args.dtype,
        time_limit=args.time_limit,
    )
    searched = {name for name, _ in args.param}
    for name, value in args.set:
        if name in searched:
            raise ValueError(f"--set {name} conflicts with --param {name}: a setting is fixed or searched")
        settings[name] = value
    return TrainConfig(**settings)


def _print_top(study: Study, k: int, fmt: str = "table") -> None:
    if fmt == "table":
        print(f"top {min(k, len(study.trials))} of {len(study.trials)} trials ({study.name}):")
    print(format_top(study.ranking(), k, fmt))
    if fmt in ("table", "markdown"):
        if study.pruning.active and study.trials:
            trained = sum(t.epochs for t in study.trials)
            full = len(study.trials) * study.config.epochs
            print(f"pruning ({study.pruning.kind}): {trained} epochs trained of {full} without "
                  f"pruning ({trained / full:.0%})")
        for note in edge_notes(study.trials, study.space):
            print(f"note: {note}")


def _resume_command(argv: Sequence[str], name: str) -> str:
    words = ["python", "-m", "hpsearch", *argv]
    if "--name" not in argv and not any(a.startswith("--name=") for a in argv):
        words += ["--name", name]
    return shlex.join(words)


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    study = Study(
        args.name,
        strategy=args.strategy,
        space=_space(args.param, args.set),
        n_trials=args.trials,
        n_jobs=args.jobs,
        seed=args.seed,
        config=_config(args),
        directory=args.out,
        resume=True,
        strategy_options={"batch_size": args.bayes_batch} if args.strategy == "bayes" else None,
        backend=args.backend,
        scheduler=args.scheduler,
        prune=args.prune,
        min_epochs=args.min_epochs,
        reduction_factor=args.reduction_factor,
        progress=not args.quiet,
    )
    if study.trials:
        print(f"resuming {study.name}: {len(study.trials)} of {study.planned} trials already done")
    if study.planned < args.trials:
        print(f"the grid holds {study.planned} points; running those", file=sys.stderr)
    try:
        study.optimize()
    except StudyInterrupted as stop:
        print(
            f"\ninterrupted ({stop}): {len(study.trials)} of {study.planned} trials finished and "
            f"saved in {study.path}\nresume with: {_resume_command(argv, study.name)}",
            file=sys.stderr,
        )
        return stop.exit_code
    _print_top(study, 5)
    for path in study.report_paths.values():
        print(f"wrote {path}")
    return 0


def _report(args: argparse.Namespace) -> int:
    study = Study.load(args.name, args.out, progress=False)
    paths = study.write_reports()
    _print_top(study, args.top, args.format)
    if args.format in ("table", "markdown"):
        for path in paths.values():
            print(f"wrote {path}")
    return 0


def _data(args: argparse.Namespace) -> int:
    path = download(args.dataset, cache_dir=args.cache_dir, mirrors=args.mirror, force=args.force)
    print(f"{args.dataset}: {path}")
    return 0


def study_file_argv(path: str) -> list[str]:
    """The command line a study file stands for.

    The file holds ``strategy`` and any run option by its long name (``trials = 100``,
    ``bayes_batch = 8``), a ``[space]`` table of ``NAME = "SPEC"`` and a ``[set]`` table of fixed
    training settings. Going through the parser gives the file the very checks and messages of
    the command line.

    Raises:
        ValueError: The file is missing, unreadable, or not of that shape.
    """
    import json
    from pathlib import Path

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        if file.suffix == ".json":
            data = json.loads(text)
        else:
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read study file {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or data.get("strategy") not in ("grid", "random", "bayes"):
        raise ValueError(f"study file {path} must set strategy = \"grid\", \"random\" or \"bayes\"")
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
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    with warnings.catch_warnings():
        # A warning is one line for a person, not a source location.
        warnings.showwarning = lambda message, *_, **__: print(f"hpsearch: warning: {message}", file=sys.stderr)
        return _main(parser, argv)


def _main(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    try:
        args = parser.parse_args(argv)
        if args.command == "file":
            return _run(parser.parse_args(study_file_argv(args.file) + args.overrides), argv)
        if args.command == "run":
            return _run(args, argv)
        if args.command == "data":
            return _data(args)
        return _report(args)
    except (ValueError, StudyError) as exc:
        print(f"hpsearch: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:  # `hpsearch report NAME | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
