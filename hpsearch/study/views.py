"""What a study holds, read from its records: the trials, the confirm stage's runs, the best and
the chosen configuration, the ranking, the importance of each setting, a data frame.

:class:`StudyView` is the reading half of :class:`hpsearch.Study` (everything a study opened
with ``read_only=True`` may do); the study runs and writes in :mod:`hpsearch.study.study`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hpsearch.records import Goal, RepeatResult, TrialResult
from hpsearch.settings import Settings
from hpsearch.space.search_space import SearchSpace
from hpsearch.storage.folder import StudyStorage
from hpsearch.storage.journal import Journal
from hpsearch.strategies import Strategy
from hpsearch.study import confirm as confirm_stage
from hpsearch.study.objectives import TrainConfig

__all__ = ["StudyView"]


class StudyView:
    """The read-only views of a study (see the module's text)."""

    space: SearchSpace
    config: TrainConfig | None
    settings: Settings
    goal: Goal
    n_trials: int
    n_confirm: int
    seed: int
    strategy: Strategy
    storage: StudyStorage
    journal: Journal

    @property
    def path(self) -> Path:
        return self.storage.path

    @property
    def trials(self) -> list[TrialResult]:
        """Every finished trial, by trial number."""
        return self.journal.sorted_trials()

    @property
    def repeats_done(self) -> list[RepeatResult]:
        """Every finished confirm-stage run, by trial, refit and repeat."""
        return sorted(self.journal.repeats.values(), key=lambda r: (r.number, r.refit, r.repeat))

    @property
    def best_trial(self) -> TrialResult | None:
        """The top-ranked search trial (None if no trial has a score yet)."""
        return next(iter(confirm_stage.candidates(self.trials, 1, self.goal)), None)

    @property
    def chosen_trial(self) -> TrialResult | None:
        """The search trial whose configuration the confirm stage chose, or None before it ran
        (and in a study without a confirm stage, whose runs a comparison made: they compare,
        they do not choose)."""
        if self.n_confirm == 0:
            return None
        return confirm_stage.chosen(self.trials, self.repeats_done, self.n_confirm, self.goal)

    @property
    def best_params(self) -> dict[str, Any] | None:
        """The chosen configuration's params (after the confirm stage), else the best trial's."""
        best = self.chosen_trial or self.best_trial
        return None if best is None else dict(best.params)

    @property
    def best_config(self) -> TrainConfig | Settings | None:
        """The full settings of :attr:`best_params`: the built-in network's :class:`TrainConfig`;
        for an own objective (or trials told by hand) the study's :class:`Settings`, with the
        fixed values the user gave and none of the network's (None before any trial has a
        score)."""
        params = self.best_params
        return None if params is None else (self.config or self.settings).with_params(params)

    def ranking(self) -> pd.DataFrame:
        """The ranked trials (see :func:`hpsearch.reports.ranking.ranking`)."""
        from hpsearch.reports.ranking import ranking

        return ranking(self.trials, self.space.names, self.goal)

    @property
    def planned(self) -> int:
        """Trials the study will have when done: ``n_trials``, or a grid's size if smaller."""
        capacity = self.strategy.capacity
        return self.n_trials if capacity is None else min(self.n_trials, capacity)

    def importance(self) -> Any:
        """Each searched parameter's share of the variance of the study's metric, with a 95%
        interval (:func:`hpsearch.reports.importance.importance`); reads the logs only.

        Example:
            >>> Study.load("demo").importance().table  # doctest: +SKIP
        """
        from hpsearch.reports.importance import importance

        return importance(self.trials, self.space, self.goal, self.seed)

    def trials_dataframe(self) -> pd.DataFrame:
        """The trials with the columns an Optuna user knows (see
        :func:`hpsearch.study.frame.trials_frame`), with the times the study logged."""
        from hpsearch.study.frame import trials_frame

        return trials_frame(self.trials, self.space.names, self.goal, self.storage.finish_times())
