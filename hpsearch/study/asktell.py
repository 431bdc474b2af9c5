"""Ask and tell: the study proposes, the user trains wherever they like, the study records.

Every proposal is logged before it is handed out and every told result is logged before the
strategy learns it, so a new process that opens the study asks exactly what an uninterrupted
loop would have asked: a trial asked but never told is asked again, not skipped.

Several processes (notebooks, machines sharing the folder) may ask one study together: each
ask takes, under the study's lock, a trial no other live process holds. What a study object
holds is written in ``asking/<token>.json`` (its pid and host); a holder whose process is gone
(same host), or an earlier object of the same process (a notebook cell run again), is not
waited for: its trials are asked again.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path
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
        # Asked here and not told: trial number -> (start, the handle, its searched params).
        self.pending: dict[int, tuple[float, Trial, dict[str, Any]]] = {}
        self.token = uuid.uuid4().hex

    def next_number(self, planned: int, folder: Path) -> int:
        """The lowest trial number with no result that no live study object holds."""
        held = _held_elsewhere(folder, self.token)
        for n in range(planned):
            if n not in self.journal.trials and n not in self.pending and n not in held:
                return n
        raise StudyError(
            f"every one of the study's {planned} trials is told or handed out; "
            "give a larger n_trials to ask more"
        )

    def ask(self, number: int, settings: Settings, seed: int, folder: Path) -> Trial:
        """Logs (or finds in the log) trial ``number``'s params; its handle, with the global
        generators seeded from its seed."""
        self.strategy.tell_new(self.journal.sorted_trials())
        params = self.journal.params_of(number)
        if params is None:
            params = self.strategy.ask([number])[0]
            self.journal.record_asked({number: params})
        trial = start_trial(settings, seed, Task(number, params))
        self.pending[number] = (time.perf_counter(), trial, dict(params))
        self._write_holding(folder)
        return trial

    def tell(
        self, trial: Trial, value: Any, metric: str, ref: str, settings: Settings, folder: Path
    ) -> TrialResult:
        """Logs the result of a trial this object handed out; returns its record.

        Raises:
            StudyError: The trial was asked by another study object (another study, another
                process), or is told already.
        """
        held = self.pending.get(trial.number)
        if held is None or held[1] is not trial:
            raise StudyError(
                f"trial {trial.number} was not asked by this study object (a trial of another "
                "study or process), or is told already"
            )
        start, _, params = held
        record = trial_result(
            trial,
            Task(trial.number, params),  # the searched params: fixed ones are settings
            value,
            metric,
            ref,
            settings,
            time.perf_counter() - start,
        )
        assert isinstance(record, TrialResult)  # a search trial's record, never a repeat's
        del self.pending[trial.number]
        self.journal.record_trial(record)
        self._write_holding(folder)
        return record

    def _write_holding(self, folder: Path) -> None:
        path = folder / ASKING / f"{self.token}.json"
        if not self.pending:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(exist_ok=True)
        holding = {"pid": os.getpid(), "host": socket.gethostname(), "trials": sorted(self.pending)}
        path.write_text(json.dumps(holding), encoding="utf-8")


#: The folder, in a study's, of what each asking study object holds.
ASKING = "asking"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _held_elsewhere(folder: Path, token: str) -> set[int]:
    """The trials other live study objects hold (a holder gone from this host is forgotten)."""
    held: set[int] = set()
    for path in sorted((folder / ASKING).glob("*.json")):
        if path.stem == token:
            continue
        try:
            holding = json.loads(path.read_text(encoding="utf-8"))
            pid, host, trials = holding["pid"], holding["host"], holding["trials"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable: it holds nothing
        if host == socket.gethostname():
            if int(pid) == os.getpid():
                continue  # an earlier object of this process (a cell run again): asked again
            if not _alive(int(pid)):
                path.unlink(missing_ok=True)  # its process is gone: its trials are asked again
                continue
        held.update(int(n) for n in trials)
    return held
