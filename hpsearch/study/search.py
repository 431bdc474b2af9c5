"""The search loop: ask the strategy, run the trials on the pool, log and tell; pruned or not.

Everything a trial's outcome depends on is fixed before it runs (its params are logged first,
its number fixes its seeds), and the strategy is told finished trials in trial-number order at
points fixed by trial numbers, never by timing. So a study gives the same trials with any
number of workers, on any backend, and after an interrupt and resume.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hpsearch.execution.pool import Pool
from hpsearch.execution.workers import Task
from hpsearch.records import Goal, TrialResult, TrialState
from hpsearch.storage.journal import Journal
from hpsearch.strategies import Strategy
from hpsearch.study.pruning import Pruning, rungs_for, survivors
from hpsearch.trial import ObjectiveState

__all__ = ["Search", "runs_ahead_from", "WARM_UP"]

# Trials told before a model-based strategy's proposals run a batch ahead. While the model has
# few points each result moves it much, and one batch of lag costs search quality (the seed
# experiment, median of 5 seeds at 30 trials: 0.84 running ahead from trial 14, 0.85 waiting);
# past a few dozen points one batch more or less changes little.
WARM_UP = 30


def runs_ahead_from(strategy: Strategy) -> int:
    """The first trial number whose batch is proposed while the batch before it still trains.

    Batches that start before :data:`WARM_UP` (or before the end of the random start) wait
    for the batch before them; the point is a function of the strategy's settings alone, never
    of timing. On a cluster whose batches are larger than that, only the first batch waits.
    """
    return max(getattr(strategy, "n_initial_points", 0), WARM_UP)


class Search:
    """Runs the trials of a study that are not yet in its journal.

    Args:
        strategy: A new strategy, told nothing yet: it is told here, in trial-number order.
        journal: The study's records; every result is logged there before the loop goes on.
        pruning: The pruning settings.
        epochs: Epochs of a trial that is never stopped.
        planned: Trials the study will have when done.
        lag: Batches a model-based strategy may lag behind: 0 asks batch k after batch k-1 is
            told; 1 asks it while batch k-1 still trains (told up to batch k-2).
    """

    def __init__(
        self,
        strategy: Strategy,
        journal: Journal,
        pruning: Pruning,
        epochs: int,
        planned: int,
        lag: int = 0,
        goal: Goal | None = None,
    ) -> None:
        self.strategy, self.journal, self.pruning = strategy, journal, pruning
        self.goal = goal or Goal()
        self.epochs, self.planned, self.lag = epochs, planned, lag

    def run(self, pool: Pool) -> None:
        if self.pruning.active:
            self.strategy.tell_new(self.journal.sorted_trials())
            self._run_pruned(pool)
        else:
            self._run_batches(pool)

    def _run_batches(self, pool: Pool) -> None:
        """Batch k is asked once batches 0 .. k-1-lag are told, in order, and runs as soon as asked.

        With ``lag`` 1 the strategy proposes batch k+1 while batch k trains, so no worker waits
        for the model (after the first batches, which each wait for the one before so that the
        model starts from every early result); which results a proposal sees is fixed by batch
        numbers, never by timing, and a resume replays the same tells before the same asks.
        """
        journal = self.journal
        step = self.strategy.batch_size or self.planned or 1
        batches = [
            list(range(i, min(i + step, self.planned))) for i in range(0, self.planned, step)
        ]
        ahead_from = runs_ahead_from(self.strategy)
        told = 0  # batches told so far
        for k, batch in enumerate(batches):
            lag = self.lag if batch[0] >= ahead_from else 0
            while told < k - lag:
                self._finish(pool, batches[told])
                told += 1
            missing = [n for n in batch if journal.params_of(n) is None]
            if missing:
                self._ask(missing)
            for n in batch:
                if n not in journal.trials:
                    params = journal.params_of(n)
                    if params is None:  # never: every missing proposal was asked and logged above
                        raise RuntimeError(f"trial {n} has no logged proposal")
                    pool.submit(Task(n, params))
        while told < len(batches):
            self._finish(pool, batches[told])
            told += 1

    def _finish(self, pool: Pool, batch: list[int]) -> None:
        """Logs results as they arrive until every trial of ``batch`` is done, then tells it."""
        results = pool.results()
        while any(n not in self.journal.trials for n in batch):
            _, trial, _ = next(results)
            self.journal.record_trial(trial)
        results.close()
        self.strategy.tell_new([self.journal.trials[n] for n in batch])

    def _ask(self, numbers: list[int]) -> dict[int, dict[str, Any]]:
        """New proposals from the strategy, logged before they run."""
        proposals = dict(zip(numbers, self.strategy.ask(numbers), strict=True))
        self.journal.record_asked(proposals)
        return proposals

    @staticmethod
    def _execute(
        pool: Pool,
        tasks: list[Task],
        on_result: Callable[[TrialResult, ObjectiveState | None], None],
    ) -> list[TrialResult]:
        for task in tasks:
            pool.submit(task)
        done = []
        for _, trial, checkpoint in pool.results():
            on_result(trial, checkpoint)
            done.append(trial)
        return done

    def _run_pruned(self, pool: Pool) -> None:
        """Synchronous successive halving, bracket by bracket (see
        :mod:`hpsearch.study.pruning`)."""
        journal = self.journal
        rungs = journal.rungs
        # A model-based strategy learns between brackets: give it brackets of eta**(rungs) trials.
        n_rungs = len(rungs_for(self.epochs, self.pruning.min_epochs, self.pruning.eta))
        size = None if self.strategy.batch_size is None else self.pruning.eta**n_rungs
        for bracket in self.pruning.brackets(self.planned, self.epochs, size):
            numbers = list(bracket.numbers)
            if all(n in journal.trials for n in numbers):
                continue
            logged = {n: journal.params_of(n) for n in numbers}
            params = {n: p for n, p in logged.items() if p is not None}
            unknown = [n for n in numbers if n not in params]
            if unknown:
                params.update(self._ask(unknown))
            alive = numbers
            for i, rung in enumerate(bracket.rungs):
                last = i == len(bracket.rungs) - 1
                tasks = [
                    Task(n, params[n], None if last else rung, journal.storage.load_checkpoint(n))
                    for n in alive
                    if n not in journal.trials and rung not in rungs.get(n, {})
                ]

                def on_result(trial: TrialResult, checkpoint: ObjectiveState | None) -> None:
                    if trial.state is TrialState.PRUNED:  # paused (an own objective: no state)
                        journal.record_rung(trial, checkpoint)
                    else:
                        journal.record_trial(trial)

                self._execute(pool, tasks, on_result)
                if last:
                    break
                at_rung = [rungs[n][rung] for n in alive if rung in rungs.get(n, {})]
                keep = survivors(at_rung, len(alive), self.pruning.eta, self.goal)
                for trial in at_rung:
                    if trial.number not in keep and trial.number not in journal.trials:
                        journal.record_trial(trial)  # stopped here: its paused record is final
                alive = keep
            # Trials a resume already told the strategy are not told twice.
            self.strategy.tell_new([journal.trials[n] for n in numbers if n in journal.trials])
