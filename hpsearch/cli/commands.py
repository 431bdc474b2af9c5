"""What each command of :mod:`hpsearch.cli.parser` does, once its arguments are parsed.

Each function takes the parsed arguments and the raw words, prints for a person on stdout
(machine-readable formats alone on stdout, messages on stderr) and returns the exit status.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import shlex
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = ["run", "file", "confirm", "compare", "report", "list", "data"]


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
    from hpsearch.builtin.config import TrainConfig

    fixed = dict(args.set)  # shortcuts and --set in the order given: the last one wins
    for name, _ in args.param:
        if name in fixed:
            raise ValueError(
                f"--set {name} conflicts with --param {name}: a setting is fixed or searched"
            )
    return TrainConfig(**fixed), fixed


def _backend_options(args: argparse.Namespace) -> dict[str, Any]:
    return dict(
        n_jobs=args.jobs, backend=args.backend, scheduler=args.scheduler, progress=not args.quiet
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


def _states(records: Iterable[Any]) -> str:
    """How many records ended in each state: ``4 DIVERGED, 1 FAILED``."""
    from hpsearch.trial import TrialState

    ended = [r.state for r in records]
    return ", ".join(f"{ended.count(s)} {s.value}" for s in TrialState if s in ended)


def _summary(
    study: Any,
    k: int,
    fmt: str = "table",
    *,
    messages: TextIO | None = None,
    running: bool = False,
) -> None:
    """The top of the ranking on stdout, then (table and markdown) the notes, a line when no
    trial has a score, and the confirmed headline: on ``messages`` (default stdout; ``report``
    gives stderr, so that stdout holds the table alone). ``running``: another process runs the
    study, whose stages may not have run yet."""
    from hpsearch.reports.confirmed import headline
    from hpsearch.reports.ranking import edge_notes, format_top, tie_note

    out = sys.stdout if messages is None else messages
    ranking = study.ranking()
    if fmt == "table":
        print(
            f"top {min(k, len(study.trials))} of {len(study.trials)} trials ({study.name}), "
            f"{'validation accuracy' if study.goal.accuracy else study.goal.metric} "
            "of one run each:"
        )
    print(format_top(ranking, k, fmt))
    if fmt not in ("table", "markdown"):
        return
    if study.pruning.active and study.trials:
        trained = sum(t.epochs for t in study.trials)
        full = len(study.trials) * study.config.epochs
        said = f"{trained} epochs trained of {full} without pruning ({trained / full:.0%})"
        if study.objective_ref is not None:  # its function may retrain each rung from scratch
            said = (
                f"trials stopped at {trained} epochs in all, of {full} without pruning "
                f"({trained / full:.0%}); an objective that keeps no checkpoint "
                "(trial.set_checkpoint) trains each rung again from scratch"
            )
        print(f"pruning ({study.pruning.kind}): {said}", file=out)
    for note in [tie_note(ranking, study.goal), *edge_notes(study.trials, study.space)]:
        if note:
            print(f"note: {note}", file=out)
    if study.trials and study.best_trial is None:
        # Nothing to rank by, so nothing to confirm or choose: said, not left to be guessed.
        if running:
            print(f"no trial has a score yet ({_states(study.trials)})", file=out)
        else:
            print(
                f"no trial has a score ({_states(study.trials)})"
                + (", so nothing was confirmed" if study.n_confirm else ""),
                file=out,
            )
    chosen = study.chosen_trial
    if chosen is not None:
        print(headline(study.repeats_done, chosen.number, chosen.params, study.goal), file=out)


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
    _summary(study, 5)
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


def _load(args: argparse.Namespace, **overrides: Any) -> Any:
    from hpsearch.study.study import Study

    return Study.load(args.name, args.out, **overrides)


def _load_to_read(args: argparse.Namespace) -> tuple[Any, bool]:
    """The study, and whether another process runs it: then it is opened to read its
    append-only logs as they stand (``read_only``), and the command writes nothing."""
    from hpsearch.exceptions import StudyError
    from hpsearch.storage.folder import StudyStorage

    try:
        StudyStorage(args.out, args.name).check_unlocked()
        running = False
    except StudyError:
        running = True
    return _load(args, progress=False, read_only=running), running


def confirm(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from hpsearch.exceptions import StudyInterrupted
    from hpsearch.reports.confirmed import confirmed_table, display_confirmed, headline

    # The settings not given are the study's own (stored with it).
    given = (("repeats", args.repeats), ("refit", args.refit), ("test_curves", args.test_curves))
    study = _load(args, **{k: v for k, v in given if v is not None}, **_backend_options(args))
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
    study = _load(args, test_curves=True, **options, **_backend_options(args))
    try:
        _compare(study, args.by, args.thresholds, args.format)
    except StudyInterrupted as stop:
        return _interrupted(study, stop, argv)
    return 0


def _compare(study: Any, by: str, thresholds: Sequence[float] | None, fmt: str) -> None:
    """Trains what a comparison by ``by`` lacks, prints its table and notes, writes
    compare_<by>.csv/.png and the study's page with them."""
    from hpsearch.reports import publish
    from hpsearch.reports.comparison import comparison, format_comparison

    runs = study.compare(by)
    trials = study.trials
    print(format_comparison(comparison(runs, by, thresholds, study.space, trials), fmt))
    written = publish.write_comparison(
        study.path, runs, by, thresholds, space=study.space, trials=trials
    )
    with study.storage.lock():  # the page, now with the comparison
        written["index"] = study.write_reports(only_stale=True, refresh_index=True)["index"]
    for path in written.values():
        _err(f"wrote {path}")


def report(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from hpsearch.storage.folder import LOCK_HOLDER

    study, running = _load_to_read(args)
    written: dict[str, Path] = {}
    if not running:
        with study.storage.lock():  # no run starts while the files are rewritten
            written = study.write_reports(only_stale=not args.write)
    _summary(study, args.top, args.format, messages=sys.stderr, running=running)
    if running:
        try:
            holder = (study.path / LOCK_HOLDER).read_text(encoding="utf-8").strip() or "?"
        except OSError:
            holder = "?"
        _err(
            f"note: study {study.name!r} is being run by another process (pid {holder}): "
            "this is its logs as they stand, and no file was written (report it again once "
            "the run ends)"
        )
    for path in written.values():
        _err(f"wrote {path}")
    return 0


def importance(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from hpsearch.exceptions import StudyError
    from hpsearch.reports import publish
    from hpsearch.reports.formatting import format_frame
    from hpsearch.reports.importance import display

    study, running = _load_to_read(args)
    result = study.importance()
    if result.note is not None:
        raise StudyError(f"study {study.name!r}: {result.note}")
    title = (
        f"which setting matters for {study.goal.metric} ({study.name}, {result.trials} COMPLETE "
        "trials): share of its variance, 95% interval over resamples of the trials"
    )
    if args.format == "table":
        print(title)
    else:  # stdout holds the table alone (csv, json, markdown), for a file or a pipe
        _err(title)
    print(format_frame(result.table, display(result), args.format))
    if running:
        _err(
            f"note: study {study.name!r} is being run by another process: this is its trials "
            "so far, and no file was written (run importance again once the run ends)"
        )
        return 0
    paths = publish.write_importance(study.path, result, study.goal.metric)
    written = study.write_reports(only_stale=True, refresh_index=True)  # the page, at least
    for path in [*paths.values(), *written.values()]:
        _err(f"wrote {path}")
    return 0


def compare_studies(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from hpsearch.reports import publish
    from hpsearch.reports.formatting import format_frame
    from hpsearch.reports.studies import StudySummary, side_by_side, verdict
    from hpsearch.study.study import Study

    if len(set(args.names)) < 2:
        raise ValueError("compare-studies needs two or more different study names")
    studies = [Study.load(name, args.out, progress=False) for name in args.names]
    summaries = [
        StudySummary.of(
            s.name,
            s.storage.read_definition(),
            s.trials,
            s.repeats_done,
            s.chosen_trial,
            s.goal,
            s.space,
            s.storage.finish_times(),
        )
        for s in studies
    ]
    table, shown = side_by_side(summaries)  # refuses studies of different goals
    print(format_frame(table, shown, args.format))
    print(verdict(summaries))
    to = Path(args.to) if args.to else Path(args.out)
    for path in publish.write_studies(to, summaries, table).values():
        _err(f"wrote {path}")
    return 0


def list(args: argparse.Namespace, argv: Sequence[str]) -> int:  # noqa: A001 (the command's name)
    from hpsearch.exceptions import StudyError
    from hpsearch.storage.folder import DEFINITION, LOGS, StudyStorage
    from hpsearch.trial import Goal

    root = Path(args.out)
    if not root.is_dir():
        raise ValueError(f"--out {args.out}: no such folder")
    rows = []
    # A folder of logs whose definition is lost is listed too (as damaged): it is no less there.
    studies = [
        p
        for p in root.iterdir()
        if p.is_dir() and any((p / n).is_file() for n in (DEFINITION, *LOGS))
    ]
    for folder in sorted(studies):
        try:
            storage = StudyStorage(root, folder.name)
            d = storage.read_definition()
            trials = storage.load_trials()
        except (StudyError, ValueError) as exc:
            rows.append(f"{folder.name}  (unreadable: {' '.join(str(exc).split())})")
            continue
        try:
            goal = Goal(**d.get("goal", {}))
        except (TypeError, ValueError):
            goal = Goal()
        values = [goal.of(t) for t in trials if t.ok]
        scores = [v for v in values if v is not None]
        if scores:
            top = (max if goal.direction == "maximize" else min)(scores)
            best = f"best val {top:.2f}" if goal.accuracy else f"best {goal.metric} {top:.4g}"
        elif trials:  # finished trials, none with a score: the study has nothing to choose
            best = f"no trial scored ({_states(trials)})"
        else:
            best = "no score yet"
        changed = max(
            p.stat().st_mtime for p in folder.iterdir() if p.suffix in (".json", ".jsonl")
        )
        when = _dt.datetime.fromtimestamp(changed).strftime("%Y-%m-%d %H:%M")
        rows.append(
            f"{folder.name}  {d.get('strategy', {}).get('name', '?')}  "
            f"{len(trials)}/{d.get('n_trials', '?')} trials  {best}  changed {when}"
        )
    print("\n".join(rows) if rows else f"no studies in {root}")
    return 0


def data(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from hpsearch.data.download import download

    path = download(args.dataset, cache_dir=args.cache_dir, mirrors=args.mirror, force=args.force)
    print(f"{args.dataset}: {path}")
    return 0
