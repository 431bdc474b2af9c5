"""The :class:`Study`: a thin front that checks its arguments, opens the study folder and runs the
stages.

The work itself lives elsewhere, one job a module: :mod:`hpsearch.study.search` (the search loop),
:mod:`hpsearch.study.confirm` (the confirm stage), :mod:`hpsearch.execution.pool` (where tasks run),
:mod:`hpsearch.storage.journal` and :mod:`hpsearch.storage.folder` (the study folder, the single
source of truth), :mod:`hpsearch.reports.ranking` and :mod:`hpsearch.reports.publish` (tables,
figures, files).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from hpsearch import __version__
from hpsearch.data.split import check_dataset
from hpsearch.exceptions import ObjectiveError, StudyError
from hpsearch.execution.interrupts import Interrupts
from hpsearch.execution.pool import Pool, local_backend
from hpsearch.execution.runner import run_objective
from hpsearch.execution.workers import Task
from hpsearch.reports.progress import live_page, progress_bar, warm_up_figures
from hpsearch.settings import Settings
from hpsearch.space.search_space import SearchSpace
from hpsearch.storage.folder import StudyStorage, validate_name
from hpsearch.storage.journal import Journal
from hpsearch.strategies import Strategy, make_strategy
from hpsearch.study import confirm as confirm_stage
from hpsearch.study.asktell import AskTell
from hpsearch.study.definition import check_definition, stored_arguments, stored_confirm
from hpsearch.study.objectives import BUILTIN, TrainConfig, runnable
from hpsearch.study.options import CONFIRM_DEFAULTS, check_arguments, positive_int
from hpsearch.study.pruning import Pruning
from hpsearch.study.search import Search
from hpsearch.trial import Goal, RepeatResult, Trial, TrialResult, metric_of

# Seconds the reports wait for the figure warm-up thread at most (it takes about one).
WARM_UP_WAIT = 30.0

__all__ = ["Study"]


def _accuracies(trial: TrialResult) -> dict[str, float]:
    """The accuracies a trial's record keeps in fields of their own, where it has them."""
    values = {name: metric_of(trial, name) for name in ("val_acc", "train_acc")}
    return {k: v for k, v in values.items() if v is not None}


class Study:
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
        config: The fixed training settings (default: the seed experiment's).
        directory: The studies folder.
        resume: Continue the study of this name if it exists (its stored definition must match).
        strategy_options: Extra settings for the strategy (e.g. ``{"batch_size": 8}`` for bayes).
        backend: ``"loky"`` (processes), ``"threading"``, ``"dask"``, or ``"auto"`` (the
            default): threads for a small study of the built-in network, where starting worker
            processes would take longer than the training, processes otherwise (see
            :func:`hpsearch.execution.pool.local_backend`). Results are the same on each.
        scheduler: For ``backend="dask"``: an address ``tcp://host:port`` or a
            ``distributed.Client``.
        progress: Show a progress bar with runs done and the best accuracy so far.
        prune: ``"none"``, ``"halving"`` or ``"hyperband"``; the result never depends on ``n_jobs``.
        min_epochs: With pruning, the fewest epochs a trial trains before it can be stopped.
        reduction_factor: With pruning, each rung keeps the best 1/reduction_factor.
        confirm: Distinct configurations the confirm stage trains again (0: no confirm stage;
            default 5).
        repeats: Runs of each confirmed configuration (default 3).
        refit: Also train the chosen configuration on training plus validation images
            (``repeats`` times) for its final test score, as scikit-learn's ``refit``.
        test_curves: Score the test part after every epoch of each confirm-stage run (for the
            epoch columns of :meth:`compare`; costs a pass over the test part per epoch).

            These four settings of the confirm stage are stored with the study, and a study
            opened again (``resume=True``, :meth:`load`) keeps its stored ones for each that is
            not given (None); given, they replace them once the study runs.
        read_only: Open an existing study to read it (trials, ranking, the chosen
            configuration) even while another process runs it; such a study object runs and
            writes nothing (:meth:`optimize`, :meth:`confirm`, :meth:`compare`, :meth:`ask`,
            :meth:`tell` and :meth:`write_reports` refuse).

    Raises:
        ValueError: Any invalid argument, before anything is written.

    Example:
        >>> from hpsearch import Study, SearchSpace, LogUniform, TrainConfig
        >>> study = Study("demo", n_trials=8, n_jobs=2, space={"lr": LogUniform(1e-3, 1e-1)},
        ...               config=TrainConfig(epochs=3, hidden=(50, 50)))  # doctest: +SKIP
        >>> study.optimize()  # doctest: +SKIP
        >>> study.best_params  # doctest: +SKIP
    """

    space: SearchSpace
    #: The built-in network's settings; None for an own objective.
    config: TrainConfig | None
    #: What every trial shares: the data, the split, the epochs, the time limit.
    settings: Settings
    n_jobs: int
    pruning: Pruning
    name: str
    n_trials: int
    seed: int
    backend: str
    scheduler: Any
    progress: bool
    resume: bool
    n_confirm: int
    repeats: int
    refit: bool
    test_curves: bool
    strategy: Strategy
    lag: int
    storage: StudyStorage
    interrupts: Interrupts
    journal: Journal
    #: The files the last :meth:`optimize` wrote, by report name.
    report_paths: dict[str, Path]

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
        read_only: bool = False,
    ) -> None:
        #: What the study ranks by (the built-in network: validation accuracy, maximised).
        self.goal = Goal(metric, direction)
        if objective is None and self.goal != Goal():
            raise ValueError(
                f"metric={metric!r}, direction={direction!r}: the built-in network is ranked "
                "by val_acc, maximised; another metric needs your own objective"
            )
        self.space, chosen, self.n_jobs, self.pruning = check_arguments(
            strategy=strategy,
            space=space,
            n_trials=n_trials,
            n_jobs=n_jobs,
            seed=seed,
            config=config,
            backend=backend,
            scheduler=scheduler,
            prune=prune,
            min_epochs=min_epochs,
            reduction_factor=reduction_factor,
            confirm=confirm,
            repeats=repeats,
            objective=objective,
        )
        self.config, self.settings = chosen.config, chosen.settings
        #: The user's objective (a function, or its ``PATH.py:FUNCTION`` reference, loaded
        #: only when trials run: reading a study never imports the code it names); None: the
        #: built-in network.
        self.objective = objective
        self.objective_ref = None if objective is None else chosen.ref
        # What a trial calls: the built-in network now; a user's function once a session loads
        # it (reading a study never imports the code it names).
        self._fn: Any = None if objective is not None else runnable(None, None, self.config)
        self.name = validate_name(
            name
            if name is not None
            else f"{strategy}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
        )
        self.n_trials, self.seed, self.backend, self.scheduler = n_trials, seed, backend, scheduler
        self.progress, self.resume, self.read_only = progress, resume, bool(read_only)
        # The confirm stage's settings given here; the others are the study's own (see below).
        asked = {"confirm": confirm, "repeats": repeats, "refit": refit, "test_curves": test_curves}
        given = {key: value for key, value in asked.items() if value is not None}
        self._confirm_settings({**CONFIRM_DEFAULTS, **given})
        self._model_written: Path | None = None
        self.strategy = make_strategy(
            strategy, self.space, seed, n_trials, **(strategy_options or {})
        )
        self.strategy.goal = self.goal
        self.lag = 0 if self.strategy.batch_size is None else 1  # ask batch k+1 while k trains
        self.storage = StudyStorage(directory, self.name)
        self.interrupts = Interrupts()
        self.journal = Journal(self.storage, self.interrupts.guard)
        self._asktell = AskTell(self.strategy, self.journal)
        self.report_paths = {}
        self._runs = 0  # the runs a session expects in all (see _expected)
        if backend == "dask":
            from hpsearch.execution.cluster import describe

            describe(scheduler)  # an unreachable scheduler fails now, before any write
        if self.storage.exists():
            if not resume and not self.read_only:
                raise StudyError(
                    f"study {self.name!r} already exists in {self.storage.root}; resume it "
                    "(resume=True, or the same command again) or choose another name"
                )
            if not self.read_only:
                self.storage.check_unlocked()
            stored = self.storage.read_definition()
            check_definition(stored, self.definition(), self.storage.definition_path, self.name)
            # The confirm stage is the study's own, as stored, unless given again.
            kept = stored_confirm(stored, self.storage.definition_path)
            self._confirm_settings({**CONFIRM_DEFAULTS, **kept, **given})
            self.journal.load()
        elif read_only:
            raise StudyError(f"no study at {self.storage.path} to read (read_only=True)")

    def _confirm_settings(self, settings: Mapping[str, Any]) -> None:
        """Sets the confirm stage's settings from ``confirm``, ``repeats``, ``refit`` and
        ``test_curves`` (:data:`~hpsearch.study.definition.CONFIRM_SETTINGS`)."""
        self.n_confirm, self.repeats = settings["confirm"], settings["repeats"]
        self.refit, self.test_curves = bool(settings["refit"]), bool(settings["test_curves"])

    def definition(self) -> dict[str, Any]:
        """What defines the study; stored in ``study.json`` and checked on resume."""
        return {
            "hpsearch_version": __version__,
            "name": self.name,
            "strategy": self.strategy.settings(),
            "space": self.space.to_json(),
            "seed": self.seed,
            "config": (self.config or self.settings).to_json(),
            "objective": self.objective_ref,
            "goal": self.goal.to_json(),
            "pruning": self.pruning.to_json(),
            "n_trials": self.n_trials,
            "lag": self.lag,
            **self._stored_confirm(),
        }

    def _stored_confirm(self) -> dict[str, Any]:
        """The confirm stage's settings as the definition stores them."""
        return {
            "confirm": self.n_confirm,
            "repeats": self.repeats,
            "refit": self.refit,
            "test_curves": self.test_curves,
        }

    @classmethod
    def load(
        cls, name: str, directory: str | os.PathLike[str] = "studies", **overrides: Any
    ) -> Study:
        """Opens the study ``name`` of ``directory`` to report on, confirm or continue it.

        ``overrides`` are run options (``n_trials``, ``n_jobs``, ``backend``, ``scheduler``,
        ``progress``, ``confirm``, ``repeats``, ``refit``, ``test_curves``) and ``read_only``;
        the confirm stage's settings not given are the study's stored ones. Raises
        :class:`StudyError` if there is no study there or its definition is corrupt.

        Example:
            >>> Study.load("demo", read_only=True).ranking()  # even while it runs  # doctest: +SKIP
        """
        storage = StudyStorage(directory, name)
        kwargs = stored_arguments(storage.read_definition(), storage.definition_path)
        return cls(name, directory=directory, resume=True, **{**kwargs, **overrides})

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
    def best_config(self) -> TrainConfig | None:
        """The built-in network's full training settings of :attr:`best_params` (None for an
        own objective, or before any trial has a score)."""
        params = self.best_params
        return None if params is None or self.config is None else self.config.with_params(params)

    def ranking(self) -> pd.DataFrame:
        """The ranked trials (see :func:`hpsearch.reports.ranking.ranking`)."""
        from hpsearch.reports.ranking import ranking

        return ranking(self.trials, self.space.names, self.goal)

    @property
    def planned(self) -> int:
        """Trials the study will have when done: ``n_trials``, or a grid's size if smaller."""
        capacity = self.strategy.capacity
        return self.n_trials if capacity is None else min(self.n_trials, capacity)

    def write_reports(
        self, *, only_stale: bool = False, refresh_index: bool = False
    ) -> dict[str, Path]:
        """Rebuilds the study folder's CSVs, figures and page from the logs; returns the files
        written, by report name: every report, or with ``only_stale`` those that were older than
        the logs (the others are left as they are); and ``model`` when the confirm stage saved
        ``model.npz`` since the last call.

        ``only_stale``: leave every file newer than the logs; ``refresh_index``: write the page
        all the same (a new importance table).

        Raises:
            StudyError: The study was opened with ``read_only``.
        """
        from hpsearch.reports.publish import write_reports

        self._check_writable()
        settings = self.storage.read_definition() if self.storage.exists() else None
        chosen = self.chosen_trial
        written: set[Path] = set()
        paths = write_reports(
            self.path,
            self.trials,
            self.space,
            settings=settings,
            repeats=self.repeats_done,
            chosen=None if chosen is None else chosen.number,
            only_stale=only_stale,
            refresh_index=refresh_index,
            written=written,
            goal=self.goal,
        )
        model, self._model_written = self._model_written, None
        return {
            **{key: path for key, path in paths.items() if path in written},
            **({"model": model} if model is not None else {}),
        }

    def _check_writable(self) -> None:
        if self.read_only:
            raise StudyError(
                f"study {self.name!r} was opened to read it (read_only=True): it runs and "
                "writes nothing; open it without read_only for that"
            )

    def importance(self) -> Any:
        """Each searched parameter's share of the variance of the study's metric, with a 95%
        interval (:func:`hpsearch.reports.importance.importance`); reads the logs only.

        Example:
            >>> Study.load("demo").importance().table  # doctest: +SKIP
                      param  share   low  high
            0            lr   0.99  0.97  1.00
            1  weight_decay   0.01  0.00  0.03
        """
        from hpsearch.reports.importance import importance

        return importance(self.trials, self.space, self.goal, self.seed)

    def trials_dataframe(self) -> Any:
        """The trials as a pandas DataFrame with the columns an Optuna user knows: ``number``,
        ``value`` (the study's metric), ``datetime_start``, ``datetime_complete``,
        ``duration``, ``params_<name>`` per searched parameter, ``user_attrs_<name>`` per
        other metric an objective returned, ``state``; plus ``epochs``. One row per finished
        trial, by number; the times are those the study logged (empty in logs written before
        they were).
        """
        import pandas as pd

        finished = self.storage.finish_times()
        rows = []
        for t in self.trials:
            end = finished.get(t.number)
            # Milliseconds: what the log keeps (a float's last digits are not a time).
            complete = pd.Timestamp(end, unit="s").round("ms") if end is not None else pd.NaT
            duration = pd.Timedelta(seconds=t.seconds).round("ms")
            rows.append(
                {
                    "number": t.number,
                    "value": self.goal.of(t) if t.ok else None,
                    "datetime_start": complete - duration if end is not None else pd.NaT,
                    "datetime_complete": complete,
                    "duration": duration,
                    **{f"params_{k}": t.params.get(k) for k in self.space.names},
                    **{
                        f"user_attrs_{k}": v
                        for k, v in sorted({**_accuracies(t), **t.metrics}.items())
                        if k != self.goal.metric
                    },
                    "state": t.state.value,
                    "epochs": t.epochs,
                }
            )
        columns = ["number", "value", "datetime_start", "datetime_complete", "duration"]
        columns += [f"params_{k}" for k in self.space.names]
        frame = pd.DataFrame(rows)
        extra = sorted(c for c in frame.columns if c.startswith("user_attrs_"))
        return frame.reindex(columns=[*columns, *extra, "state", "epochs"])

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
        s = self.settings
        check_dataset(s.dataset, s.samples, val_ratio=s.val_ratio)
        with self.storage.lock():
            self._open()
            number = self._asktell.next_number(self.planned)
            return self._asktell.ask(number, self.settings, self.seed)

    def tell(self, trial: Trial, value: Any) -> TrialResult:
        """Records what a trial from :meth:`ask` gave: its validation accuracy, a mapping of
        final metrics with ``val_acc``, or the exception it raised (FAILED). Returns the record;
        :meth:`write_reports` rebuilds the folder's files.

        Raises:
            ObjectiveError: ``value`` is none of those.
            StudyError: The trial was not asked by this study object, or is told already.
        """
        self._check_writable()
        with self.storage.lock():
            self._open()
            ref = self.objective_ref or "the value told"
            return self._asktell.tell(trial, value, self.goal.metric, ref, self.settings)

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
        with self._session() as pool:
            self._store_confirm()
            Search(
                self.strategy,
                self.journal,
                self.pruning,
                self.settings.epochs,
                self.planned,
                self.lag,
                self.goal,
            ).run(pool)
            self._confirm(pool)
            if compare is not None and len(self._values(compare)) > 1:
                self._repeat(pool, self._best_per_value(compare), curves=self.test_curves)
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
        if k is None:
            k = self.n_confirm or CONFIRM_DEFAULTS["confirm"]
        self.n_confirm = positive_int("confirm", k)
        self.repeats = positive_int("repeats", self.repeats if repeats is None else repeats)
        confirm_stage.check_enough(self.trials, self.n_confirm, self.name)
        with self._session() as pool:
            self._store_confirm()
            self._confirm(pool)
        return self.repeats_done

    def compare(self, by: str, repeats: int | None = None) -> list[RepeatResult]:
        """Runs ``repeats`` confirm-stage runs of the best configuration of each value of the
        searched setting ``by`` (what is missing: nothing is opened when nothing is) and
        returns them, for :func:`hpsearch.reports.confirmed.comparison`. Raises ValueError if
        ``by`` was not searched, took one value, or no trial has a score yet.
        """
        self._check_writable()
        best = self._best_per_value(by)
        values = self._values(by)
        if len(values) < 2:
            raise ValueError(
                f"compare by {by!r}: the search tried one value of it ({', '.join(values)}), "
                "so there is nothing to compare"
            )
        self.repeats = positive_int("repeats", self.repeats if repeats is None else repeats)
        curves = self.test_curves
        missing = len(self._repeat_tasks(best, curves=curves))
        if missing:
            with self._session(remaining=missing) as pool:
                self._repeat(pool, best, curves=curves)
        numbers = {t.number for t in best}
        return [r for r in self.repeats_done if r.number in numbers and not r.refit]

    def _best_per_value(self, by: str) -> list[TrialResult]:
        return confirm_stage.best_per_value(self.trials, by, self.space.names, self.name, self.goal)

    def _values(self, by: str) -> set[str]:
        """The values (as repr) the search's trials took of ``by``."""
        return {repr(t.params.get(by)) for t in self.trials if by in t.params}

    def _repeat(
        self,
        pool: Pool,
        trials: list[TrialResult],
        refit: bool = False,
        later: int = 0,
        curves: bool = False,
    ) -> None:
        """Runs what is missing of ``repeats`` runs of each of ``trials``; ``later``: the runs
        the session will make after these (the progress then counts exactly); ``curves``: see
        :meth:`_repeat_tasks`."""
        tasks = self._repeat_tasks(trials, refit, curves)
        self._runs = len(self.journal.trials) + len(self.journal.repeats) + len(tasks) + later
        confirm_stage.run(pool, self.journal, tasks)

    def _repeat_tasks(
        self, trials: list[TrialResult], refit: bool = False, curves: bool = False
    ) -> list[Task]:
        """The runs still to make; with ``curves``, also each finished run without a test
        curve (a confirm stage's, made before curves were asked for): run again with the same
        seed, it gives the same scores and its curve, and takes the old record's place."""
        done = {
            key
            for key, run in self.journal.repeats.items()
            if not (curves and run.ok and not run.test_curve and run.n_test)
        }
        return confirm_stage.plan(
            trials, self.repeats, done, refit=refit, test_curve=self.test_curves
        )

    def _confirm(self, pool: Pool) -> None:
        # The refit runs come after, of the configuration chosen then: as many as repeats
        # (minus those already done, if it is the chosen one now too).
        refits = self.repeats - sum(1 for r in self.journal.repeats if r[2]) if self.refit else 0
        candidates = confirm_stage.candidates(self.trials, self.n_confirm, self.goal)
        self._repeat(pool, candidates, later=max(refits, 0) if candidates else 0)
        if self.refit and self.chosen_trial is not None:
            self._repeat(pool, [self.chosen_trial], refit=True)
        save = getattr(self._fn, "save_chosen", None)  # the built-in network's model.npz
        chosen = self.chosen_trial
        if save is not None and chosen is not None:
            saved = save(self.path, self.journal.repeats, chosen.number, self.refit, self.seed)
            if saved is not None:  # written now, not kept as it was
                self._model_written = saved

    def _store_confirm(self) -> None:
        """Stores the confirm stage's settings this session runs with, for whoever opens the
        study next (under the study's lock)."""
        stored = self.storage.read_definition()
        mine = self._stored_confirm()
        if any(stored.get(k) != v for k, v in mine.items()):
            with self.interrupts.guard():
                self.storage.write_definition({**stored, **mine})

    def _runner(self) -> Any:
        """The pool's task function: the objective (the user's, loaded now, or the built-in
        network) through :func:`~hpsearch.execution.runner.run_objective`."""
        self._fn = runnable(self.objective, self.objective_ref, self.config)
        ref = self.objective_ref or BUILTIN
        return functools.partial(run_objective, self._fn, ref, self.goal.metric)

    @contextlib.contextmanager
    def _session(self, remaining: int | None = None) -> Iterator[Pool]:
        """Lock, open (or create) the study, catch signals, show progress, run a pool; then
        report."""
        # Before anything is written: the data must hold the samples (this may download it).
        s = self.settings
        check_dataset(s.dataset, s.samples, val_ratio=s.val_ratio)
        runner = self._runner()  # an objective that cannot load fails here, before any write
        if self.backend == "dask":  # a cluster that gets no worker fails here, before any write
            from hpsearch.execution.cluster import ready

            ready(self.scheduler)
        fresh = not self.path.exists()  # this session makes the folder
        try:
            with self._locked_session(runner, remaining) as pool:
                yield pool
        except ObjectiveError:
            # The objective's own answer stopped a new study before any run finished: a bad
            # objective writes nothing, as any bad input.
            if fresh and not self.journal.trials and not self.journal.repeats:
                shutil.rmtree(self.path, ignore_errors=True)
            raise

    @contextlib.contextmanager
    def _locked_session(self, runner: Any, remaining: int | None) -> Iterator[Pool]:
        with self.storage.lock():
            self._open()
            with self.interrupts.handling():
                # matplotlib's first figure (its import, the font cache, the first text) costs
                # more than every later one: paid in a thread beside the trials, not after them.
                # (pandas stays imported with this module, before any signal is the study's: an
                # import cut by a signal can leave an import lock held, and what the study does
                # after the signal, its reports, would then wait for it forever.)
                warm = threading.Thread(target=warm_up_figures, daemon=True)
                warm.start()
                try:
                    done = len(self.journal.trials) + len(self.journal.repeats)
                    if remaining is None:  # a search: its trials, and at most this many more
                        searched = max(self.planned - len(self.journal.trials), 0)
                        confirm = self.n_confirm * self.repeats * (2 if self.refit else 1)
                        remaining = searched + max(confirm - len(self.journal.repeats), 0)
                    self._runs = done + remaining
                    with (
                        progress_bar(  # none for a session with nothing to run
                            self.journal,
                            self._expected,
                            self.name,
                            self.progress and remaining > 0,
                            self.goal,
                        ),
                        live_page(self.journal, self._write_live, self._expected),
                        Pool(
                            runner,
                            self.settings,
                            self.seed,
                            self._backend(remaining),
                            self.n_jobs,
                            scheduler=self.scheduler,
                            folder=self.path / ".running",
                        ) as pool,
                    ):
                        yield pool
                finally:
                    with self.interrupts.guard():
                        # One thread at a time in matplotlib; never an unbounded wait, though: a
                        # warm-up that does not end in time only leaves the figures to start cold.
                        warm.join(WARM_UP_WAIT)
                        self.report_paths = self.write_reports()

    def _expected(self) -> int:
        """The runs this session's progress counts in all: those recorded before it and those
        it expects to make (exact once the confirm stage knows its runs, see _repeat)."""
        return self._runs

    def _backend(self, runs: int) -> str:
        """The pool's backend: ``auto`` resolved by the training work of ``runs`` runs, where
        the objective can tell it (``work``: the built-in network's; unknown for a user's)."""
        if self.backend != "auto":
            return self.backend
        work = getattr(self._fn, "work", None)
        return local_backend(work(runs) if work is not None else None)

    def _write_live(self, running: str) -> object:
        """The page of the study as it runs (see :func:`hpsearch.reports.progress.write_live`)."""
        from hpsearch.reports.progress import write_live

        settings = self.storage.read_definition()
        return write_live(
            self.path, self.trials, self.space, running=running, settings=settings, goal=self.goal
        )

    def _open(self) -> None:
        stored = self.storage.read_definition() if self.storage.exists() else None
        if stored is None:
            created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            self.storage.write_definition({**self.definition(), "created": created})
        else:
            check_definition(stored, self.definition(), self.storage.definition_path, self.name)
            self.lag = int(stored.get("lag", 0))  # studies made before proposals ran ahead: none
            self.journal.load(repair=True)
            # The trials may grow (the confirm stage's settings are stored by the sessions that
            # run it: optimize and confirm, see _store_confirm).
            if stored.get("n_trials") != self.n_trials:
                self.storage.write_definition({**stored, "n_trials": self.n_trials})

    def __repr__(self) -> str:
        return (
            f"Study({self.name!r}, {self.strategy.name}, "
            f"trials={len(self.journal.trials)}/{self.planned})"
        )
