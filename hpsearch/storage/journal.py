"""A study's records in memory, each one made durable in the study folder before it counts.

Every record goes to the folder's append-only logs first (see :mod:`hpsearch.storage.folder`),
inside the interrupt guard, so a signal never leaves a record half written, and what is in memory is
always what a resume would read back.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from hpsearch.exceptions import StudyError
from hpsearch.records import RepeatResult, TrialResult
from hpsearch.storage.folder import ASKED_LOG, StudyStorage
from hpsearch.trial import ObjectiveState

__all__ = ["Journal"]


class Journal:
    """The finished trials, paused trials, proposals and confirm-stage runs of one study.

    Args:
        storage: The study folder.
        guard: Makes a block that no signal cuts short (the study's
            :meth:`hpsearch.execution.interrupts.Interrupts.guard`); every write runs under it.
    """

    def __init__(
        self, storage: StudyStorage, guard: Callable[[], AbstractContextManager[None]]
    ) -> None:
        self.storage = storage
        self.guard = guard
        self.trials: dict[int, TrialResult] = {}
        self.rungs: dict[int, dict[int, TrialResult]] = {}
        self.asked: dict[int, dict[str, Any]] = {}
        self.repeats: dict[tuple[int, int, bool], RepeatResult] = {}
        #: Called after each finished trial or confirm-stage run (the progress bar, the live
        #: page), in order.
        self.on_record: list[Callable[[], None]] = []

    def load(self, *, repair: bool = False) -> None:
        """Reads every log of the study folder (``repair``: cut a torn last line first, and log
        again the proposals of trials whose proposal is missing, see :meth:`_rebuild_asked`)."""
        self.trials = {t.number: t for t in self.storage.load_trials(repair=repair)}
        self.asked = self.storage.load_asked(repair=repair)
        self.rungs = {}
        for t in self.storage.load_rungs(repair=repair):
            self.rungs.setdefault(t.number, {})[t.epochs] = t
        self.repeats = {r.key: r for r in self.storage.load_repeats(repair=repair)}
        self._rebuild_asked(repair)

    def _rebuild_asked(self, repair: bool) -> None:
        """Proposals missing from ``asked.jsonl`` (deleted, or lines lost) taken back from the
        trials.

        A finished or paused trial's params are its proposal, so those come back whole. The
        proposals of trials that had not finished are gone; a strategy that proposes from
        the results so far (Bayesian) then proposes them anew, and the study may end
        differently from an unbroken one: that is said, not hidden.
        """
        found = {n: dict(t.params) for n, t in self.trials.items() if n not in self.asked}
        for n, paused in self.rungs.items():
            if n not in self.asked and n not in found and paused:
                found[n] = dict(next(iter(paused.values())).params)
        if not found:
            return
        found = dict(sorted(found.items()))
        self.asked.update(found)
        if repair:
            with self.guard():
                self.storage.append_asked(found)
        message = (
            f"{self.storage.path / ASKED_LOG}: the proposals of {len(found)} trial(s) "
            "were missing; rebuilt them from the trials' records"
        )
        try:
            definition = self.storage.definition()
            adaptive = definition.strategy["name"] not in ("grid", "random")
            unfinished = len(self.trials) < definition.n_trials
        except (StudyError, KeyError, TypeError, ValueError):
            adaptive = unfinished = True
        if adaptive and unfinished:
            message += (
                "; those of trials that had not finished are lost and will be proposed anew, "
                "so the resumed study may differ from one never interrupted"
            )
        warnings.warn(message, stacklevel=3)

    def sorted_trials(self) -> list[TrialResult]:
        return [self.trials[n] for n in sorted(self.trials)]

    def params_of(self, number: int) -> dict[str, Any] | None:
        """The params trial ``number`` ran or will run with, if known."""
        if number in self.trials:
            return self.trials[number].params
        return self.asked.get(number)

    def record_asked(self, proposals: Mapping[int, dict[str, Any]]) -> None:
        """Logs proposals before they run, so that a resume runs the very same ones."""
        with self.guard():
            self.storage.append_asked(proposals)
            self.asked.update(proposals)

    def record_trial(self, trial: TrialResult) -> None:
        """Logs a finished trial (durably, first)."""
        with self.guard():
            self.storage.append(trial)
            self.trials[trial.number] = trial
            self.storage.drop_checkpoint(trial.number)
            for listener in self.on_record:
                listener()

    def record_rung(self, trial: TrialResult, checkpoint: ObjectiveState | None) -> None:
        """Keeps a paused trial's checkpoint (an own objective that keeps none trains its next
        rung from scratch), then its result at the rung."""
        with self.guard():
            if checkpoint is not None:
                self.storage.save_checkpoint(checkpoint)
            self.storage.append_rung(trial)
            self.rungs.setdefault(trial.number, {})[trial.epochs] = trial

    def record_repeat(self, run: RepeatResult) -> None:
        """Logs a finished confirm-stage run (durably, first)."""
        with self.guard():
            self.storage.append_repeat(run)
            self.repeats[run.key] = run
            for listener in self.on_record:
                listener()
