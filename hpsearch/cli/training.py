"""The commands that train: grid, random, bayes, run FILE, confirm and compare, once their
arguments are parsed.

Each function takes the parsed arguments and the raw words, prints for a person on stdout
(machine-readable formats alone on stdout, messages on stderr) and returns the exit status.
A command stopped by a signal says what was saved and the command line that resumes it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from hpsearch.cli.commands import load, summary

__all__ = ["run", "file", "confirm", "compare", "resume_command"]


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _space(
    params: Sequence[tuple[str, Any]], fixed: dict[str, Any], own_objective: bool = False
) -> Any:
    """The default space, less the settings fixed by --set, with the --param dimensions (an own
    objective given --param searches those alone: the defaults are the built-in network's)."""
    from hpsearch.space.search_space import SearchSpace, default_space

    seen: set[str] = set()
    for name, _ in params:
        if name in seen:
            raise ValueError(f"--param {name} is given twice; give each searched setting once")
        seen.add(name)
    kept = {name: dim for name, dim in default_space().items() if name not in fixed}
    if own_objective and params:
        kept = {}
    return SearchSpace({**kept, **dict(params)})


def _config(args: argparse.Namespace) -> Any:
    """The fixed settings: the built-in network's ``TrainConfig``, or with ``--objective`` the
    ``Settings`` every study has (a setting of the network alone is refused, never dropped)."""
    from hpsearch.builtin.config import TrainConfig
    from hpsearch.settings import Settings

    fixed = dict(args.set)  # shortcuts and --set in the order given: the last one wins
    for name, _ in args.param:
        if name in fixed:
            raise ValueError(
                f"--set {name} conflicts with --param {name}: a setting is fixed or searched"
            )
    if args.objective is None:
        names = TrainConfig.field_names()
        unknown = [name for name in fixed if name not in names]
        if unknown:
            raise ValueError(
                f"--set {unknown[0]}: not a training setting of the built-in network; settings: "
                f"{', '.join(names)} (or give --objective: your function reads any name)"
            )
        return TrainConfig(**fixed), fixed
    # With an own objective, a name that is no setting of every study is the function's own:
    # it finds the value in trial.params. A shortcut (--hidden) is the built-in network's.
    settings = [name for name in Settings.field_names() if name != "fixed"]
    network = [n for n in dict.fromkeys(getattr(args, "shortcuts", [])) if n not in settings]
    if network:
        raise ValueError(
            f"{', '.join(network)}: setting(s) of the built-in network, which your objective "
            f"(--objective) does not read; give --set NAME=VALUE for a value your function "
            "finds in trial.params"
        )
    own = {name: value for name, value in fixed.items() if name in settings}
    given = {name: value for name, value in fixed.items() if name not in own}
    return Settings(**own, fixed=given), fixed


def _backend_options(args: argparse.Namespace) -> dict[str, Any]:
    return dict(
        n_jobs=args.jobs,
        backend=args.backend,
        scheduler=args.scheduler,
        progress=not args.quiet,
        figures=args.figures,
        allow_changed_code=args.allow_changed_code,
    )


def resume_command(argv: Sequence[str], name: str) -> str:
    """The command that resumes the study: the same words, with its --name if none was given."""
    words = ["python", "-m", "hpsearch", *argv]
    # confirm and compare name their study positionally, and take no --name.
    if (
        "--name" not in argv
        and not any(a.startswith("--name=") for a in argv)
        and argv[:1] not in (["confirm"], ["compare"])
    ):
        words += ["--name", name]
    return shlex.join(words)


def _interrupted(study: Any, stop: Any, argv: Sequence[str]) -> int:
    _err(
        f"\ninterrupted ({stop}): {len(study.trials)} of {study.planned} trials and "
        f"{len(study.repeats_done)} confirm runs finished and saved in {study.path}\n"
        f"resume with: {resume_command(argv, study.name)}"
    )
    return stop.exit_code


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    config, fixed = _config(args)  # refused settings are said before the study's stack loads
    if args.objective is None:  # the built-in network searches its settings alone
        from hpsearch.builtin.config import TrainConfig

        names = TrainConfig.field_names()
        for name, _ in args.param:
            if name not in names:
                raise ValueError(
                    f"--param {name!r} is not a training setting; settings: {', '.join(names)} "
                    "(or give --objective to search your own function's params)"
                )
    space = _space(args.param, fixed, own_objective=args.objective is not None)
    if args.compare is not None and args.compare not in space.names:
        raise ValueError(
            f"--compare {args.compare}: not a searched setting; searched: {', '.join(space.names)}"
        )
    if args.objective is not None and args.backend in ("auto", "loky"):
        from hpsearch.execution.pool import start_early

        start_early()  # the workers' modules load beside the study's, on another core
    from hpsearch.exceptions import StudyInterrupted
    from hpsearch.study.study import Study

    study = Study(
        args.name,
        strategy=args.strategy,
        space=space,
        n_trials=args.trials,
        seed=args.seed,
        config=config,
        directory=args.out,
        resume=True,
        strategy_options={"batch_size": args.bayes_batch} if args.strategy == "bayes" else None,
        prune=args.prune,
        min_epochs=args.min_epochs,
        reduction_factor=args.reduction_factor,
        confirm=args.confirm,
        repeats=args.repeats,
        refit=args.refit,
        # A comparison reads each run's test curve (best test, epochs to a threshold).
        test_curves=True if args.test_curves is None and args.compare else args.test_curves,
        objective=args.objective,
        metric=args.metric,
        direction=args.direction,
        **_backend_options(args),
    )
    if study.trials:
        print(f"resuming {study.name}: {len(study.trials)} of {study.planned} trials already done")
        beyond = [t.number for t in study.trials if t.number >= study.planned]
        if beyond:
            shown = ", ".join(map(str, beyond[:10])) + (
                f" and {len(beyond) - 10} more" if len(beyond) > 10 else ""
            )
            _err(
                f"hpsearch: warning: the log holds {len(beyond)} trial(s) beyond the "
                f"{study.planned} planned (numbered {shown}; the plan counts from 0): "
                f"they are kept and ranked; give --trials {max(beyond) + 1} to plan them"
            )
    pinned = getattr(study.strategy, "pinned", None) or {}
    if args.compare in pinned:  # refused before anything is written
        raise ValueError(
            f"--compare {args.compare}: the grid gives it one point ({pinned[args.compare]:g}), "
            f"so there is nothing to compare; give --param {args.compare}=choice:A,B,... or a "
            "grid with more points"
        )
    if study.planned < args.trials:
        _err(f"the grid holds {study.planned} points; running those")
    for name, value in pinned.items():
        _err(
            f"note: the grid gives {name} one point: {value:g}, the centre of its range "
            f"{study.space[name].spec()}; give --param {name}=... or --set {name}=... to choose"
        )
    try:
        study.optimize(compare=args.compare)  # its runs in the same session (one bar)
    except StudyInterrupted as stop:
        return _interrupted(study, stop, argv)
    summary(study, 5)
    for path in study.report_paths.values():
        print(f"wrote {path}")
    if args.compare is not None:
        print()
        print(f"compared by {args.compare}:")
        try:
            _compare(study, args.compare, args.thresholds, "table")
        except StudyInterrupted as stop:
            return _interrupted(study, stop, argv)
    return 0


file = run


def confirm(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from hpsearch.exceptions import StudyInterrupted
    from hpsearch.reports.confirmed import confirmed_table, display_confirmed, headline

    # The settings not given are the study's own (stored with it).
    given = (("repeats", args.repeats), ("refit", args.refit), ("test_curves", args.test_curves))
    study = load(args, **{k: v for k, v in given if v is not None}, **_backend_options(args))
    try:
        study.confirm(args.confirm)
    except StudyInterrupted as stop:
        return _interrupted(study, stop, argv)
    chosen = study.chosen_trial
    names, goal = study.space.names, study.goal
    rank = study.ranking()["trial"].tolist()
    number = None if chosen is None else chosen.number
    table = display_confirmed(
        confirmed_table(study.repeats_done, names, goal, chosen=number, rank=rank), names, goal
    )
    print(table.to_string(index=False))
    if chosen is None:  # every confirm run failed: nothing to choose
        print(f"no confirm run has a {goal.metric}, so nothing was chosen: see repeats.jsonl")
    else:
        print(headline(study.repeats_done, chosen.number, chosen.params, study.goal))
    for path in study.report_paths.values():
        _err(f"wrote {path}")
    return 0


def compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from hpsearch.exceptions import StudyInterrupted

    options = {"repeats": args.repeats} if args.repeats is not None else {}
    study = load(args, test_curves=True, **options, **_backend_options(args))
    try:
        _compare(study, args.by, args.thresholds, args.format)
    except StudyInterrupted as stop:
        return _interrupted(study, stop, argv)
    return 0


def _compare(study: Any, by: str, thresholds: Sequence[float] | None, fmt: str) -> None:
    """Trains what a comparison by ``by`` lacks, prints its table and notes, writes
    compare_<by>.csv/.png and the study's page with them."""
    from hpsearch.reports import publish
    from hpsearch.reports.comparison import format_comparison

    table = study.compare(by, thresholds=thresholds)  # what Python's compare returns
    print(format_comparison(table, fmt))
    runs = study.compare_runs(by)  # made already: for the figure
    written = publish.write_comparison(
        study.path, runs, by, thresholds, space=study.space, trials=study.trials, table=table
    )
    with study.storage.lock():  # the page, now with the comparison
        page = study.write_reports(only_stale=True, refresh_index=True, figures=study.figures)
        written["index"] = page["index"]
    for path in written.values():
        _err(f"wrote {path}")
