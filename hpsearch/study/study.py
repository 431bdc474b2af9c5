"""The :class:`Study`: a thin front. It checks its arguments (:mod:`hpsearch.study.options`),
reads what the study holds (:mod:`hpsearch.study.views`) and hands the runs to its session
(:mod:`hpsearch.study.session`), which drives the search, the confirm stage and the reports.
"""

from __future__ import annotations

import datetime as _dt
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hpsearch.exceptions import StudyError
from hpsearch.execution.interrupts import Interrupts
from hpsearch.records import RepeatResult, TrialResult
from hpsearch.settings import Settings, positive_int
from hpsearch.space.search_space import SearchSpace
from hpsearch.storage.definition import Definition
from hpsearch.storage.folder import StudyStorage, validate_name
from hpsearch.storage.journal import Journal
from hpsearch.strategies import make_strategy
from hpsearch.study import confirm as confirm_stage
from hpsearch.study.asktell import AskTell
from hpsearch.study.definition import definition_of, stored_arguments
from hpsearch.study.objectives import TrainConfig, runnable
from hpsearch.study.options import ARGUMENTS, CONFIRM_DEFAULTS, check_arguments
from hpsearch.study.session import Session
from hpsearch.study.views import StudyView
from hpsearch.trial import Trial

__all__ = ["Study"]


class Study(StudyView):
    """A hyperparameter search whose trials run in parallel and are kept in a study folder.

    Lifecycle: :meth:`optimize` runs the trials still to do (resuming a study of the same name),
    then the confirm stage (the top ``confirm`` configurations trained ``repeats`` more times
    with fresh seeds and scored on the test part), then writes the reports.

    Args:
        name: The study folder's name under ``directory``; a timestamped name if None.
        strategy: ``"grid"``, ``"random"`` or ``"bayes"``.
        space: The search space: a :class:`SearchSpace` or a mapping of names to dimensions
            (default: lr and weight decay, as in the seed experiment).
        n_trials: Trials to run in all (a grid stops at its own size if that is smaller).
        n_jobs: Parallel workers; -1 means one per core (with dask: every thread of the
            cluster). None: 1 on this machine (the command line's default is -1), the whole
            cluster with dask.
        seed: The study seed: the same seed gives the same trials, whatever ``n_jobs``.
        config: The built-in network's :class:`TrainConfig` (default: the seed experiment's), or
            for an own objective the :class:`Settings` every study has (data, epochs).
        directory: The studies folder.
        resume: Continue the study of this name if it exists (its stored definition must match).
        strategy_options: Extra settings for the strategy (e.g. ``{"batch_size": 8}`` for bayes).
        backend: ``"loky"`` (processes), ``"threading"``, ``"dask"``, or ``"auto"`` (the
            default): threads for a small study of the built-in network, where starting worker
            processes would take longer than the training, processes otherwise (see
            :func:`hpsearch.execution.pool.local_backend`). Results are the same on each;
            an own objective is refused threads (its trials would share ``np.random``).
        scheduler: For ``backend="dask"``: an address ``tcp://host:port`` or a
            ``distributed.Client``.
        progress: Show a progress bar with runs done and the best accuracy so far.
        figures: Draw the study's figures with its other reports at the end of each session
            (about a second); False: the tables and the page only, and
            :meth:`write_reports` (the ``report`` command) draws the figures later.
        prune: ``"none"``, ``"halving"`` or ``"hyperband"``; the result never depends on ``n_jobs``.
        min_epochs: With pruning, the fewest epochs a trial trains before it can be stopped.
        reduction_factor: With pruning, each rung keeps the best 1/reduction_factor.
        confirm: Distinct configurations the confirm stage trains again (0: no confirm stage;
            default 5).
        repeats: Runs of each confirmed configuration (default 3).
        refit: Also train the chosen configuration on training plus validation images
            (``repeats`` times) for its final test score, as scikit-learn's ``refit``.
        test_curves: Score the test part after every epoch of each confirm-stage run (for the
            epoch columns of :meth:`compare`). These four confirm settings are stored with the
            study; a study opened again keeps its stored ones for each not given (None).
        objective: Your own function ``objective(trial)``, or its ``PATH.py:FUNCTION``; None:
            the built-in network.
        metric: The metric an own objective's study ranks by (default ``val_acc``).
        direction: ``"maximize"`` (the default) or ``"minimize"``: whether ``metric`` is best
            high or low.
        fixed: Values an own objective finds in ``trial.params`` beside the searched ones, by
            any name (``{"hidden": 30}``): stored with the study as settings, never searched
            (the command line's ``--set NAME=VALUE``; ``Settings(fixed=...)`` is the same).
        allow_changed_code: Go on training a study whose objective's source changed since
            its runs were trained (refused otherwise, in one line); the change is marked in the
            study (``study.json``, its page).
        read_only: Open an existing study to read it, even while another process runs it.

    Raises:
        ValueError: Any invalid argument, before anything is written.

    Example:
        >>> study = Study("demo", n_trials=8, space={"lr": LogUniform(1e-3, 0.1)})  # doctest: +SKIP
        >>> study.optimize(); study.best_params  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        strategy: str = "random",
        space: SearchSpace | Mapping[str, Any] | None = None,
        n_trials: int = 100,
        n_jobs: int | None = None,
        seed: int = 0,
        config: TrainConfig | Settings | None = None,
        directory: str | os.PathLike[str] = "studies",
        resume: bool = False,
        strategy_options: Mapping[str, Any] | None = None,
        backend: str = "auto",
        scheduler: Any = None,
        progress: bool = True,
        figures: bool = True,
        prune: str = "none",
        min_epochs: int = 5,
        reduction_factor: int = 3,
        confirm: int | None = None,
        repeats: int | None = None,
        refit: bool | None = None,
        test_curves: bool | None = None,
        objective: Callable[..., Any] | str | None = None,
        metric: str = "val_acc",
        direction: str = "maximize",
        fixed: Mapping[str, Any] | None = None,
        allow_changed_code: bool = False,
        read_only: bool = False,
    ) -> None:
        # Every argument check_arguments takes, by the name both give it.
        given_arguments = {k: v for k, v in locals().items() if k in ARGUMENTS}
        self.space, chosen, self.n_jobs, self.pruning, self.goal = check_arguments(
            **given_arguments
        )
        #: The network's settings (None for an own objective); what every trial shares.
        self.config: TrainConfig | None = chosen.config
        self.settings: Settings = chosen.settings
        #: The user's objective (loaded only when trials run: reading a study never imports
        #: the code it names), and what the study records of it; None: the built-in network.
        self.objective, self.objective_ref = objective, None if objective is None else chosen.ref
        self._fn: Any = None if self.config is None else runnable(None, self.config)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.name = validate_name(name if name is not None else f"{strategy}-{stamp}")
        self.n_trials, self.seed, self.backend, self.scheduler = n_trials, seed, backend, scheduler
        self.progress, self.resume, self.read_only = progress, resume, bool(read_only)
        self.figures = bool(figures)
        self.allow_changed_code = bool(allow_changed_code)
        asked = {"confirm": confirm, "repeats": repeats, "refit": refit, "test_curves": test_curves}
        given = {key: value for key, value in asked.items() if value is not None}  # else stored
        self._confirm_settings({**CONFIRM_DEFAULTS, **given})
        self._model_written: Path | None = None
        self.strategy = make_strategy(
            strategy, self.space, seed, n_trials, **(strategy_options or {})
        )
        self.strategy.goal = self.goal
        for note in [] if read_only else self.strategy.notes():
            warnings.warn(note, stacklevel=2)  # what the plan leaves out, before it trains
        self.lag = 0 if self.strategy.batch_size is None else 1  # ask batch k+1 while k trains
        self.storage = StudyStorage(directory, self.name)
        self.interrupts = Interrupts()
        self.journal = Journal(self.storage, self.interrupts.guard)
        self._asktell = AskTell(self.strategy, self.journal)  # its session's, see ask and tell
        #: The files the last :meth:`optimize` wrote, by report name.
        self.report_paths: dict[str, Path] = {}
        self._session = Session(self)
        if backend == "dask":
            from hpsearch.execution.cluster import describe

            describe(scheduler)  # an unreachable scheduler fails now, before any write
        if self.storage.exists():  # the stored definition must match; its confirm stage holds
            self._confirm_settings(self._session.read_existing(given))
        elif read_only:
            raise StudyError(f"no study at {self.storage.path} to read (read_only=True)")

    def _confirm_settings(self, settings: Mapping[str, Any]) -> None:
        self.n_confirm, self.repeats = settings["confirm"], settings["repeats"]
        self.refit, self.test_curves = bool(settings["refit"]), bool(settings["test_curves"])

    def definition(self) -> Definition:
        """What defines the study; stored in ``study.json`` and checked on resume (see
        :func:`hpsearch.study.definition.definition_of`)."""
        return definition_of(self)

    @classmethod
    def load(
        cls, name: str, directory: str | os.PathLike[str] = "studies", **overrides: Any
    ) -> Study:
        """Opens the study ``name`` of ``directory`` to report on, confirm or continue it.

        ``overrides`` are run options (``n_trials``, ``n_jobs``, ``backend``, ``scheduler``,
        ``progress``, ``figures``, ``confirm``, ``repeats``, ``refit``, ``test_curves``) and
        ``read_only``; the confirm stage's settings not given are the study's stored ones. Raises
        :class:`StudyError` if there is no study there or its definition is corrupt.

        Example:
            >>> Study.load("demo", read_only=True).ranking()  # even while it runs  # doctest: +SKIP
        """
        storage = StudyStorage(directory, name)
        kwargs = stored_arguments(storage.definition(), storage.definition_path)
        return cls(name, directory=directory, resume=True, **{**kwargs, **overrides})

    def write_reports(
        self, *, only_stale: bool = False, refresh_index: bool = False, figures: bool = True
    ) -> dict[str, Path]:
        """Rebuilds the study folder's CSVs, figures and page from the logs; returns the files
        written, by report name: every report, or with ``only_stale`` those that were older than
        the logs (the others are left as they are); and ``model`` when the confirm stage saved
        ``model.npz`` since the last call.

        ``only_stale``: leave every file newer than the logs; ``refresh_index``: write the page
        all the same (a new importance table); ``figures``: False draws no figure, and the page
        shows only those newer than the logs.

        Raises:
            StudyError: The study was opened with ``read_only``.
        """
        self._check_writable()
        return self._session.write_reports(only_stale, refresh_index, figures)

    def _check_writable(self) -> None:
        if self.read_only:
            raise StudyError(
                f"study {self.name!r} was opened to read it (read_only=True): it runs and "
                "writes nothing; open it without read_only for that"
            )

    def ask(self) -> Trial:
        """The next trial to train yourself (your notebook loop, another machine): its handle,
        with ``params``, ``seed``, ``epochs`` and ``data``, and the global ``np.random`` and
        ``random`` seeded from its seed. Its params are logged before they are returned.

        Example:
            >>> trial = study.ask()  # doctest: +SKIP
            >>> study.tell(trial, my_training(trial.params, trial.data))  # doctest: +SKIP

        Raises:
            StudyError: Every planned trial is told or handed out, or another process runs
                the study.
        """
        self._check_writable()
        return self._session.ask()

    def tell(self, trial: Trial, value: Any) -> TrialResult:
        """Records what a trial from :meth:`ask` gave: its validation accuracy, a mapping of
        final metrics with ``val_acc``, or the exception it raised (FAILED). Returns the record;
        :meth:`write_reports` rebuilds the folder's files.

        Raises:
            ObjectiveError: ``value`` is none of those.
            StudyError: The trial was not asked by this study object, or is told already.
        """
        self._check_writable()
        return self._session.tell(trial, value)

    def optimize(self, compare: str | None = None) -> pd.DataFrame:
        """Runs the trials still to do and the confirm stage, then writes the reports; returns the
        ranking.

        Args:
            compare: A searched setting to compare (see :meth:`compare`): its runs are made in
                the same session, after the confirm stage, so that one progress bar counts
                them all (a setting the search gave one value is left to :meth:`compare`).

        Raises:
            StudyInterrupted: After SIGINT or SIGTERM, once every finished run is saved and the
                reports are written; running the study again resumes it.
            StudyError: Another process is running this study.
        """
        self._check_writable()
        session = self._session
        with session.open() as pool:
            session.store_confirm()
            session.search(pool)
            session.confirm(pool)
            if compare is not None and len(session.values(compare)) > 1:
                session.repeat(pool, session.best_per_value(compare), curves=self.test_curves)
        return self.ranking()

    def confirm(self, k: int | None = None, repeats: int | None = None) -> list[RepeatResult]:
        """Runs (or completes) the confirm stage of a finished search; returns its runs.

        Args:
            k: Distinct configurations to confirm (default: the study's ``confirm``, or 5 for a
                study made without a confirm stage).
            repeats: Runs of each (default: the study's ``repeats``).

        The settings used are stored with the study, for whoever opens it next.

        Raises:
            ValueError: ``k`` or ``repeats`` is not a positive integer, or the study has fewer
                finished trials than ``k``.
        """
        self._check_writable()
        default = self.n_confirm or CONFIRM_DEFAULTS["confirm"]
        self.n_confirm = positive_int("confirm", default if k is None else k)
        self.repeats = positive_int("repeats", self.repeats if repeats is None else repeats)
        confirm_stage.check_enough(self.trials, self.n_confirm, self.name)
        with self._session.open() as pool:
            self._session.store_confirm()
            self._session.confirm(pool)
        return self.repeats_done

    def compare(
        self, by: str, repeats: int | None = None, thresholds: Sequence[float] | None = None
    ) -> pd.DataFrame:
        """Compares the values of the searched setting ``by``: trains what :meth:`compare_runs`
        lacks and returns the table ``python -m hpsearch compare`` shows, one row per value
        (its columns: :func:`hpsearch.reports.comparison.comparison`; as text:
        :func:`~hpsearch.reports.comparison.format_comparison`). ``thresholds``: test
        accuracies whose first epoch it reports (None: from the data).

        Raises:
            ValueError: As :meth:`compare_runs`.
        """
        runs = self.compare_runs(by, repeats)
        return self._session.comparison(runs, by, thresholds)

    def compare_runs(self, by: str, repeats: int | None = None) -> list[RepeatResult]:
        """Runs ``repeats`` confirm-stage runs of the best configuration of each value of the
        searched setting ``by`` (what is missing: nothing is opened when nothing is) and
        returns them, for :func:`hpsearch.reports.comparison.comparison`. Raises ValueError if
        ``by`` was not searched, took one value, or no trial has a score yet.
        """
        self._check_writable()
        return self._session.compare(by, repeats)

    def __repr__(self) -> str:
        return (
            f"Study({self.name!r}, {self.strategy.name}, "
            f"trials={len(self.journal.trials)}/{self.planned})"
        )
