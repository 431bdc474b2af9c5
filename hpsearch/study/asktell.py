"""Ask and tell: the study proposes, the user trains wherever they like, the study records.

Every proposal is logged before it is handed out and every told result is logged before the
strategy learns it, so a new process that opens the study asks exactly what an uninterrupted
loop would have asked: a trial asked but never told is asked again, not skipped.
"""

from __future__ import annotations

import time
from typing import Any

from hpsearch.exceptions import StudyError
from hpsearch.execution.runner import start_trial, trial_result
from hpsearch.execution.workers import Task
from hpsearch.records import TrialResult
from hpsearch.settings import Settings
from hpsearch.storage.journal import Journal
from hpsearch.strategies import Strategy
from hpsearch.trial import Trial

__all__ = ["AskTell"]


class AskTell:
    """The ask/tell state of one study object: which trials it handed out and has not been
    told, and which results its strategy has learned.

    Args:
        strategy: The study's strategy, told nothing yet.
        journal: The study's records, loaded afresh before each ask and tell.
    """

    def __init__(self, strategy: Strategy, journal: Journal) -> None:
        self.strategy, self.journal = strategy, journal
        self.pending: dict[int, float] = {}  # asked here and not told: trial number -> start

    def next_number(self, planned: int) -> int:
        """The lowest trial number with no result that this object has not handed out."""
        for n in range(planned):
            if n not in self.journal.trials and n not in self.pending:
                return n
        raise StudyError(
            f"every one of the study's {planned} trials is told or handed out; "
            "give a larger n_trials to ask more"
        )

    def ask(self, number: int, settings: Settings, seed: int) -> Trial:
        """Logs (or finds in the log) trial ``number``'s params; its handle, with the global
        generators seeded from its seed."""
        self.strategy.tell_new(self.journal.sorted_trials())
        params = self.journal.params_of(number)
        if params is None:
            params = self.strategy.ask([number])[0]
            self.journal.record_asked({number: params})
        self.pending[number] = time.perf_counter()
        return start_trial(settings, seed, Task(number, params))

    def tell(
        self, trial: Trial, value: Any, metric: str, ref: str, settings: Settings
    ) -> TrialResult:
        """Logs the result of a trial this object handed out; returns its record."""
        if trial.number not in self.pending:
            raise StudyError(
                f"trial {trial.number} was not asked by this study object, or is told already"
            )
        start = self.pending[trial.number]
        record = trial_result(
            trial,
            Task(trial.number, trial.params),
            value,
            metric,
            ref,
            settings,
            time.perf_counter() - start,
        )
        assert isinstance(record, TrialResult)  # a search trial's record, never a repeat's
        del self.pending[trial.number]
        self.journal.record_trial(record)
        return record
