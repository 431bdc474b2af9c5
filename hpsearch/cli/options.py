"""The options the commands are built from: the studies folder, the output format, where runs
go, the confirm stage, comparison thresholds, and the whole option set of a search command.

Each function adds its options to a parser or an argument group, with their help texts; the
values are checked by the types of :mod:`hpsearch.cli.values`.
"""

from __future__ import annotations

import argparse
from typing import Any

from hpsearch.cli.values import (
    count,
    folder,
    hidden,
    jobs,
    param,
    positive_int,
    ratio,
    seconds,
    setting,
    thresholds,
)

__all__ = [
    "FORMATS",
    "add_backend",
    "add_confirm",
    "add_thresholds",
    "add_search_options",
    "add_out",
    "add_format",
]

FORMATS = ("table", "markdown", "csv", "json")


class _Shortcut(argparse.Action):
    """``--epochs 20`` is ``--set epochs=20``: both land in one list, so the later one wins."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        namespace.set.append((self.dest, values))
        namespace.shortcuts = [*getattr(namespace, "shortcuts", []), self.dest]


def add_backend(g: Any) -> None:
    g.add_argument(
        "--jobs",
        type=jobs,
        default=-1,
        help="parallel workers, -1 for one per core (default -1)",
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
    g.add_argument(
        "--no-figures",
        dest="figures",
        action="store_false",
        help="write the tables and the page but none of the study's figures (they cost about a "
        "second of CPU a session, matplotlib's import included); `hpsearch report NAME` draws "
        "them later",
    )
    g.add_argument(
        "--allow-changed-code",
        action="store_true",
        help="go on training a study whose --objective file changed since its runs were "
        "trained (refused otherwise); the change is marked in the study",
    )


def add_confirm(g: Any, later: bool = False) -> None:
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
        type=positive_int if later else count,
        default=None,
        metavar="K",
        help=confirm_help,
    )
    g.add_argument(
        "--repeats",
        type=positive_int,
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
        add_thresholds(g)


def add_thresholds(g: Any) -> None:
    g.add_argument(
        "--thresholds",
        type=thresholds,
        default=None,
        help="test accuracies whose first epoch a comparison reports, e.g. 0.8,0.9 (default: "
        "90, 95 and 98%% of the best value's mean test accuracy)",
    )


def add_search_options(p: Any, strategy: str) -> None:
    """The options of a search command (``grid``, ``random``, ``bayes``): the study, its stages
    and where its runs go, then the training settings."""
    g = p.add_argument_group("study")
    g.add_argument(
        "--trials", type=positive_int, default=100, help="trials to run in all (default 100)"
    )
    g.add_argument(
        "--seed",
        type=count,
        default=0,
        help="study seed: same seed, same results (default 0)",
    )
    g.add_argument(
        "--name", help=f"study name; the same name resumes it (default: {strategy}-<date>-<time>)"
    )
    add_out(g)
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
        type=param,
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="a searched dimension, repeatable: lr=log:1e-5:1e-1, weight_decay=float:0:1e-4, "
        "batch_size=int:32:256, activation=choice:relu,sigmoid, and with a condition "
        "'decay_rate=float:0.9:0.999 if optimizer=rmsprop' (searched only for rmsprop); "
        "replaces the default "
        "entry of the same name (defaults: lr=log:1e-06:0.01, weight_decay=log:1e-08:0.0001)",
    )
    if strategy == "bayes":
        g.add_argument(
            "--bayes-batch",
            type=positive_int,
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
        type=positive_int,
        default=5,
        help="with --prune: fewest epochs before a trial can be stopped (default 5)",
    )
    g.add_argument(
        "--reduction-factor",
        type=positive_int,
        default=3,
        help="with --prune: each rung keeps the best 1/N (default 3)",
    )
    add_backend(g)
    add_confirm(g)
    t = p.add_argument_group("training (defaults: the seed experiment)")
    t.add_argument(
        "--set",
        type=setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fix any training setting, repeatable: optimizer=adam, activation=tanhexp, "
        "epochs=20 (the options below are shortcuts for common ones; the last one given wins); "
        "with --objective, any name: your function finds it in trial.params",
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
        type=positive_int,
        **shortcut,
        help="images taken from the training set (default 500)",
    )
    t.add_argument(
        "--val-ratio",
        type=ratio,
        **shortcut,
        help="share held out for validation (default 0.2)",
    )
    t.add_argument("--epochs", type=positive_int, **shortcut, help="epochs per trial (default 50)")
    t.add_argument(
        "--batch-size", type=positive_int, **shortcut, help="mini-batch size (default 100)"
    )
    t.add_argument(
        "--hidden",
        type=hidden,
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
        type=seconds,
        **shortcut,
        help="seconds after which a trial stops (TIMEOUT)",
    )


def add_out(p: Any) -> None:
    p.add_argument(
        "--out", type=folder, default="studies", help="the studies folder (default studies)"
    )


def add_format(p: Any) -> None:
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table, markdown, csv or json (default table)",
    )
