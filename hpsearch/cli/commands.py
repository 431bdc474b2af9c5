"""The commands that train nothing: report, importance, compare-studies, list and data, once
their arguments are parsed; and the summary of a study's ranking, which ``run`` prints too.

Each function takes the parsed arguments and the raw words, prints for a person on stdout
(machine-readable formats alone on stdout, messages on stderr) and returns the exit status.
These commands read a study from its folder and never import its objective's code.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = ["report", "importance", "compare_studies", "list", "data", "summary", "load"]


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def summary(
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
    from hpsearch.reports.formatting import failed_note, state_counts
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
        from hpsearch.storage.folder import CHECKPOINTS
        from hpsearch.study.pruning import pruning_summary

        line = pruning_summary(
            study.pruning.kind,
            sum(t.epochs for t in study.trials),
            len(study.trials) * study.settings.epochs,
            own=study.objective_ref is not None,
            # The folder appears with the first checkpoint a rung keeps (and stays).
            kept_checkpoints=(study.path / CHECKPOINTS).is_dir(),
        )
        print(line, file=out)
    notes = [tie_note(ranking, study.goal), *edge_notes(study.trials, study.space)]
    for note in [*notes, failed_note(study.trials)]:
        if note:
            print(f"note: {note}", file=out)
    if study.trials and study.best_trial is None:
        # Nothing to rank by, so nothing to confirm or choose: said, not left to be guessed.
        if running:
            print(f"no trial has a score yet ({state_counts(study.trials)})", file=out)
        else:
            print(
                f"no trial has a score ({state_counts(study.trials)})"
                + (", so nothing was confirmed" if study.n_confirm else ""),
                file=out,
            )
    chosen = study.chosen_trial
    if chosen is not None:
        print(headline(study.repeats_done, chosen.number, chosen.params, study.goal), file=out)


def load(args: argparse.Namespace, **overrides: Any) -> Any:
    """The study NAME in the --out folder, opened with ``overrides`` (:meth:`Study.load`'s)."""
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
    return load(args, progress=False, read_only=running), running


def report(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from hpsearch.storage.lock import LOCK_HOLDER

    study, running = _load_to_read(args)
    written: dict[str, Path] = {}
    if not running:
        with study.storage.lock():  # no run starts while the files are rewritten
            written = study.write_reports(only_stale=not args.write)
    summary(study, args.top, args.format, messages=sys.stderr, running=running)
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
            s.storage.definition(),
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
    from hpsearch.records import Goal
    from hpsearch.reports.formatting import state_counts
    from hpsearch.storage.folder import DEFINITION, LOGS, StudyStorage

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
            d = storage.definition()
            trials = storage.load_trials()
            # A bad line in any log makes the study unreadable to every command: said here too.
            storage.load_asked()
            storage.load_rungs()
            storage.load_repeats()
        except (StudyError, ValueError) as exc:
            rows.append(f"{folder.name}  (unreadable: {' '.join(str(exc).split())})")
            continue
        try:
            goal = Goal(**d.goal)
        except (TypeError, ValueError):
            goal = Goal()
        values = [goal.of(t) for t in trials if t.ok]
        scores = [v for v in values if v is not None]
        if scores:
            top = (max if goal.direction == "maximize" else min)(scores)
            best = f"best val {top:.2f}" if goal.accuracy else f"best {goal.metric} {top:.4g}"
            failed = sum(t.state.value == "FAILED" for t in trials)
            best += f" ({failed} FAILED)" if failed else ""  # a failure is not hidden by a score
        elif trials:  # finished trials, none with a score: the study has nothing to choose
            best = f"no trial scored ({state_counts(trials)})"
        else:
            best = "no score yet"
        changed = max(
            p.stat().st_mtime for p in folder.iterdir() if p.suffix in (".json", ".jsonl")
        )
        when = _dt.datetime.fromtimestamp(changed).strftime("%Y-%m-%d %H:%M")
        rows.append(
            f"{folder.name}  {d.strategy['name']}  "
            f"{len(trials)}/{d.n_trials} trials  {best}  changed {when}"
        )
    print("\n".join(rows) if rows else f"no studies in {root}")
    return 0


def data(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from hpsearch.data.download import download

    path = download(args.dataset, cache_dir=args.cache_dir, mirrors=args.mirror, force=args.force)
    print(f"{args.dataset}: {path}")
    return 0
