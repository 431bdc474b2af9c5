"""The confirm stage: the best configurations trained again with fresh seeds, scored on the test
part.

A search's best score is the best of many single runs on a small validation set, so it is
biased upward: luck (initial weights, batch order) and the validation images' own noise both
helped it to the top. The confirm stage retrains each of the top ``k`` distinct configurations
``repeats`` times with streams derived from the study seed, the trial number and the repeat
index alone (the search's own run does not count: its score is what selected it), and scores
every run on validation and on the dataset's test part. The chosen configuration is the one
with the best mean validation accuracy over its repeats (:func:`choose`);
the test part never chooses anything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from hpsearch.execution.pool import Pool
from hpsearch.execution.workers import Task
from hpsearch.records import DEFAULT_GOAL, Goal, RepeatResult, TrialResult
from hpsearch.reports.confirmed import choice_order
from hpsearch.storage.journal import Journal

__all__ = ["best_per_value", "candidates", "check_enough", "choose", "chosen", "plan", "run"]


def candidates(
    trials: Sequence[TrialResult], k: int, goal: Goal = DEFAULT_GOAL
) -> list[TrialResult]:
    """The trials of the top ``k`` distinct configurations, best final score first (the
    study's ``goal``: validation accuracy, maximised, for the built-in network).

    Ties go to the lower trial number, as in the ranking; a configuration tried twice (a grid
    of choices, a small int range) counts once, by its best trial.
    """
    if k < 1:
        return []
    values = ((goal.of(t), t) for t in trials if t.ok)
    scored = sorted(
        ((v, t) for v, t in values if v is not None),
        key=lambda s: (goal.key(s[0]), s[1].number),
    )
    seen: set[str] = set()
    out: list[TrialResult] = []
    for _, t in scored:
        key = json.dumps(t.params, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(t)
        if len(out) == k:
            break
    return out


def chosen(
    trials: Sequence[TrialResult],
    repeats: Sequence[RepeatResult],
    k: int,
    goal: Goal = DEFAULT_GOAL,
) -> TrialResult | None:
    """The configuration a study chose: the one rule every output (headline, page, model, API)
    follows.

    Among the top ``k`` distinct configurations of the search (at least one), the one whose
    confirm-stage repeats have the best mean validation accuracy; a tie goes to the better ranked.
    Runs of other configurations (a ``compare``'s) never choose. None before any candidate has a
    scored repeat.
    """
    ranked = candidates(trials, max(k, 1), goal)
    number = choose(repeats, [t.number for t in ranked], goal)
    return next((t for t in ranked if t.number == number), None)


def choose(
    repeats: Sequence[RepeatResult],
    numbers: Sequence[int] | None = None,
    goal: Goal = DEFAULT_GOAL,
) -> int | None:
    """The trial whose repeats have the best mean validation accuracy (or, for another
    ``goal``, the best mean of its metric over the runs that have one), in the order of
    :func:`hpsearch.reports.confirmed.choice_order`, which the confirmed table follows too.

    Refit runs do not count; None when no repeat has a validation score. With ``numbers`` (the
    confirmed trials, best ranked first) only those count and a tie goes to the better ranked;
    without, a tie goes to the earlier trial.

    Example:
        >>> choose(study.repeats_done)  # doctest: +SKIP
        12
    """
    allowed = None if numbers is None else set(numbers)
    return next(
        (
            n
            for n, mean in choice_order(repeats, numbers, goal)
            if not math.isnan(mean) and (allowed is None or n in allowed)
        ),
        None,
    )


def check_enough(trials: Sequence[TrialResult], k: int, name: str) -> None:
    """Refuses to confirm ``k`` configurations of a study that has fewer.

    Raises:
        ValueError: Fewer than ``k`` distinct configurations with a score.
    """
    found = len(candidates(trials, k))
    if found < k:
        raise ValueError(
            f"confirm={k} needs {k} distinct finished trials with a score, "
            f"but study {name!r} has {found}"
        )


def best_per_value(
    trials: Sequence[TrialResult],
    by: str,
    searched: Sequence[str],
    name: str,
    goal: Goal = DEFAULT_GOAL,
) -> list[TrialResult]:
    """The best trial of each value that the searched setting ``by`` took, best first (the
    trials where a condition left ``by`` unsearched take no part).

    Raises:
        ValueError: ``by`` was not searched, or no trial has a score.
    """
    if by not in searched:
        raise ValueError(
            f"compare by {by!r}: not a searched setting of study {name!r}; "
            f"searched: {', '.join(searched)}"
        )
    best: dict[str, TrialResult] = {}
    for trial in candidates(trials, len(trials), goal):
        if by in trial.params:
            best.setdefault(repr(trial.params[by]), trial)
    if not best:
        raise ValueError(f"study {name!r} has no finished trial with a score and a {by} to compare")
    return list(best.values())


def plan(
    chosen: Sequence[TrialResult],
    repeats: int,
    done: set[tuple[int, int, bool]],
    *,
    refit: bool = False,
    test_curve: bool = False,
) -> list[Task]:
    """The runs still to do: ``repeats`` of each trial in ``chosen``, in trial then repeat order."""
    return [
        Task(t.number, dict(t.params), repeat=r, refit=refit, test_curve=test_curve)
        for t in chosen
        for r in range(repeats)
        if (t.number, r, refit) not in done
    ]


def run(pool: Pool, journal: Journal, tasks: Sequence[Task]) -> list[RepeatResult]:
    """Runs the tasks on ``pool``, logging each run as it finishes; returns those logged.

    A run made again (for its test curve, see :meth:`hpsearch.study.session.Session.repeat_tasks`)
    is logged only if it brings that curve: a run is never written twice for nothing.
    """
    for task in tasks:
        pool.submit(task)
    out = []
    for _, record, _ in pool.results():
        old = journal.repeats.get(record.key)
        if old is not None and (old.test_curve or not record.test_curve):
            continue
        journal.record_repeat(record)
        out.append(record)
    return out
