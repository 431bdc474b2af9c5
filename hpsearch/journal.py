"""A study's records in memory, each one made durable in the study folder before it counts.

Every record goes to the folder's append-only logs first (see :mod:`hpsearch.storage`), inside
the interrupt guard, so a signal never leaves a record half written, and what is in memory is
always what a resume would read back.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from hpsearch.interrupts import Interrupts
from hpsearch.storage import StudyStorage
from hpsearch.trial import Checkpoint, RepeatResult, TrialResult

__all__ = ["Journal"]


class Journal:
    """The finished trials, paused trials, proposals and confirm-stage runs of one study.

    Args:
        storage: The study folder.
        interrupts: Whose guard every write runs under.
    """

    def __init__(self, storage: StudyStorage, interrupts: Interrupts) -> None:
        self.storage = storage
        self.interrupts = interrupts
        self.trials: dict[int, TrialResult] = {}
        self.rungs: dict[int, dict[int, TrialResult]] = {}
        self.asked: dict[int, dict[str, Any]] = {}
        self.repeats: dict[tuple[int, int, bool], RepeatResult] = {}
        #: Called after each finished trial or confirm-stage run (the progress bar).
        self.on_record: Callable[[], None] | None = None

    def load(self, *, repair: bool = False) -> None:
        """Reads every log of the study folder (``repair``: cut a torn last line first)."""
        self.trials = {t.number: t for t in self.storage.load_trials(repair=repair)}
        self.asked = self.storage.load_asked(repair=repair)
        self.rungs = {}
        for t in self.storage.load_rungs(repair=repair):
            self.rungs.setdefault(t.number, {})[t.epochs] = t
        self.repeats = {r.key: r for r in self.storage.load_repeats(repair=repair)}

    def sorted_trials(self) -> list[TrialResult]:
        return [self.trials[n] for n in sorted(self.trials)]

    def params_of(self, number: int) -> dict[str, Any] | None:
        """The params trial ``number`` ran or will run with, if known."""
        if number in self.trials:
            return self.trials[number].params
        return self.asked.get(number)

    def record_asked(self, proposals: Mapping[int, dict[str, Any]]) -> None:
        """Logs proposals before they run, so that a resume runs the very same ones."""
        with self.interrupts.guard():
            self.storage.append_asked(proposals)
            self.asked.update(proposals)

    def record_trial(self, trial: TrialResult) -> None:
        """Logs a finished trial (durably, first)."""
        with self.interrupts.guard():
            self.storage.append(trial)
            self.trials[trial.number] = trial
            self.storage.drop_checkpoint(trial.number)
            if self.on_record is not None:
                self.on_record()

    def record_rung(self, trial: TrialResult, checkpoint: Checkpoint) -> None:
        """Keeps a paused trial's checkpoint, then its result at the rung."""
        with self.interrupts.guard():
            self.storage.save_checkpoint(checkpoint)
            self.storage.append_rung(trial)
            self.rungs.setdefault(trial.number, {})[trial.epochs] = trial

    def record_repeat(self, run: RepeatResult) -> None:
        """Logs a finished confirm-stage run (durably, first)."""
        with self.interrupts.guard():
            self.storage.append_repeat(run)
            self.repeats[run.key] = run
            if self.on_record is not None:
                self.on_record()
