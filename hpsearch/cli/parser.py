"""The command line's grammar: ``hpsearch {grid,random,bayes,run,confirm,compare,report,...}``,
each command with its description and its options, for :mod:`hpsearch.cli.main` to parse with.

A word refused while parsing ends in one line on stderr and exit status 2. Building the parser
imports nothing numeric, so that ``--help`` and a usage error answer at once.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from hpsearch import __version__
from hpsearch.cli.options import (
    FORMATS,
    add_backend,
    add_confirm,
    add_format,
    add_out,
    add_search_options,
    add_thresholds,
)
from hpsearch.cli.values import positive_int

__all__ = ["build_parser"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``hpsearch: error: ...``, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"hpsearch: error: {message}\n")


def _command(
    sub: Any, name: str, help_text: str, description: str, **defaults: Any
) -> argparse.ArgumentParser:
    """A subcommand: its line in ``hpsearch --help``, the description its own --help opens with,
    and what it runs: ``command`` (the function of that name, by default the subcommand's name
    with ``_`` for ``-``) and any other ``defaults``."""
    p = sub.add_parser(name, help=help_text, description=description)
    p.set_defaults(**{"command": name.replace("-", "_"), **defaults})
    return p


def _study_parser(
    sub: Any, command: str, help_text: str, description: str
) -> argparse.ArgumentParser:
    """A subcommand that works on an existing study: its NAME and the --out folder."""
    p = _command(sub, command, help_text, description)
    p.add_argument("name", help="the study name")
    add_out(p)
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
    for strategy, help_text in (
        ("grid", "grid search: evenly spaced points, log-spaced on log ranges"),
        ("random", "random search: log-uniform on log ranges"),
        ("bayes", "Bayesian optimisation with a Gaussian process (scikit-optimize)"),
    ):
        p = _command(sub, strategy, help_text, help_text, command="run", strategy=strategy)
        add_search_options(p, strategy)

    f = _command(
        sub,
        "run",
        "run (or resume) the study a TOML or JSON file declares",
        "Run (or resume) the study declared in a TOML or JSON file: strategy, options, "
        "[space] and [set] tables (see the README). Options after the file override it.",
        command="file",
    )
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
    add_confirm(c, later=True)
    add_backend(c)

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
    add_thresholds(m)
    m.add_argument(
        "--format",
        choices=FORMATS[:3],
        default="table",
        help="table, markdown or csv (default table)",
    )
    m.add_argument(
        "--repeats",
        type=positive_int,
        default=None,
        metavar="R",
        help="runs per value (default 3)",
    )
    add_backend(m)

    r = _study_parser(
        sub,
        "report",
        "print a study's top trials; rebuild its CSVs and figures if stale",
        "Print the top trials of a study (finished, interrupted or running) on stdout, its notes "
        "and headline on stderr, and rebuild the files in its folder that are older than its "
        "logs, naming each file written. A study another process is running is printed from its "
        "logs as they stand, and nothing is written.",
    )
    r.add_argument("--top", type=positive_int, default=5, help="rows to print (default 5)")
    add_format(r)
    r.add_argument("--write", action="store_true", help="rewrite every file, stale or not")

    imp = _study_parser(
        sub,
        "importance",
        "which searched setting matters: each one's share of the variance of the metric",
        "Each searched parameter's share of the variance of the study's metric over its COMPLETE "
        "trials (each parameter's main effect, less what chance gives), with a 95% interval "
        "over bootstrap resamples of the trials. Writes importance.csv and importance.png and "
        "adds the table to index.html; reads the logs only, never the objective.",
    )
    add_format(imp)

    cs = _command(
        sub,
        "compare-studies",
        "studies side by side: best, chosen test score, and whether they differ beyond noise",
        "Studies side by side: strategy, space, trials, wall time, best validation "
        "score with its interval, the chosen configuration's test mean ± sd, a sentence on "
        "whether the chosen test scores differ by more than their noise, and a figure of each "
        "study's best so far. Studies that rank by different metrics are refused.",
    )
    cs.add_argument("names", nargs="+", metavar="NAME", help="two or more study names")
    add_out(cs)
    cs.add_argument("--to", help="the folder for compare-studies_<names>.csv/.png (default: --out)")
    add_format(cs)

    ls = _command(
        sub,
        "list",
        "the studies in a folder, one line each",
        "The studies in a "
        "folder: name, strategy, trials done / planned, best validation accuracy, last change.",
    )
    add_out(ls)

    d = _command(
        sub,
        "data",
        "download a dataset into the cache",
        "Download a dataset (IDX gz files from public mirrors, checked by checksum) into the "
        "cache folder ($HPSEARCH_DATA or ~/.cache/hpsearch), for studies run later or offline.",
    )
    d.add_argument("action", choices=("download",), help="what to do")
    d.add_argument("dataset", choices=("fashion-mnist", "mnist"), help="the dataset")
    d.add_argument("--mirror", help="a base URL to download from instead of the usual mirrors")
    d.add_argument(
        "--cache-dir", help="the cache folder (default $HPSEARCH_DATA or ~/.cache/hpsearch)"
    )
    d.add_argument("--force", action="store_true", help="download again even if cached")
    return parser
