"""The :class:`Study`: ask the strategy, run trials in parallel, log and tell, repeat.

The study folder (see :mod:`hpsearch.storage`) is the single source of truth: each finished
trial is appended to its log before anything else happens, so an interrupted study resumes
where it stopped and its reports can always be rebuilt from the log.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import signal
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import joblib
import pandas as pd

from hpsearch import __version__
from hpsearch.data import check_dataset
from hpsearch.space import SearchSpace, default_space
from hpsearch.storage import StudyError, StudyStorage, validate_name
from hpsearch.strategies import STRATEGIES, Strategy, make_strategy
from hpsearch.pruning import Pruning, rungs_for, survivors
from hpsearch.config import TrainConfig
from hpsearch.trial import Checkpoint, TrialResult, TrialState
from hpsearch.workers import DeathWatch, LocalBackendCrash, run_trial

__all__ = ["Study", "StudyInterrupted", "StudyError"]

BACKENDS = ("loky", "threading", "dask")
# The definition keys a resume must match; the number of trials may grow.
_DEFINING = ("strategy", "space", "seed", "config", "pruning")


@dataclass(frozen=True)
class _Task:
    """One unit of work: train these params up to ``until`` (None: to the end), from ``checkpoint``."""

    params: dict[str, Any]
    until: int | None = None
    checkpoint: Checkpoint | None = None


class StudyInterrupted(KeyboardInterrupt):
    """Raised by :meth:`Study.optimize` after SIGINT or SIGTERM, once finished trials are saved.

    Attributes:
        signum: The signal received.
        exit_code: The conventional shell status: 128 + signum (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


def _difference(key: str, stored: Any, asked: Any) -> str:
    """``key: stored X, asked Y``, naming only the entries that differ when both are dicts."""
    if isinstance(stored, dict) and isinstance(asked, dict):
        names = sorted(k for k in stored.keys() | asked.keys() if stored.get(k) != asked.get(k))
        return "; ".join(f"{key}.{k}: stored {stored.get(k)!r}, asked {asked.get(k)!r}" for k in names)
    return f"{key}: stored {stored!r}, asked {asked!r}"


def _check_positive_int(option: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{option} must be a positive integer, but got {value!r}")
    return value


class Study:
    """A hyperparameter search whose trials run in parallel and are kept in a study folder.

    Args:
        name: The study folder's name under ``directory``; a timestamped name if None.
        strategy: ``"grid"``, ``"random"`` or ``"bayes"``.
        space: The search space (default: lr and weight decay, as in the seed experiment).
        n_trials: Trials to run in all (a grid stops at its own size if that is smaller).
        n_jobs: Parallel workers; -1 means one per core (with dask: every thread of the
            cluster). None: 1 on this machine, the whole cluster with dask.
        seed: The study seed: the same seed gives the same trials, whatever ``n_jobs``.
        config: The fixed training settings (default: the seed experiment's).
        directory: The studies folder.
        resume: Continue the study of this name if it exists (its stored definition must match);
            if False, an existing study of this name is an error.
        strategy_options: Extra settings for the strategy (e.g. ``{"batch_size": 8}`` for bayes).
        backend: joblib backend: ``"loky"`` (processes), ``"threading"`` or ``"dask"``.
        scheduler: For ``backend="dask"``: a scheduler address ``tcp://host:port`` or a
            ``distributed.Client``; trials then run on that cluster's workers.
        progress: Show a progress bar with trials done and the best accuracy so far.
        prune: Stop poor trials early: ``"none"``, ``"halving"`` (synchronous successive
            halving over epochs) or ``"hyperband"``; the result never depends on ``n_jobs``.
        min_epochs: With pruning, the fewest epochs a trial trains before it can be stopped.
        reduction_factor: With pruning, each rung keeps the best 1/reduction_factor.

    Raises:
        ValueError: Any invalid argument, before anything is written.

    Example:
        >>> from hpsearch import Study, SearchSpace, LogUniform, TrainConfig
        >>> study = Study(
        ...     "demo", strategy="random", n_trials=4, n_jobs=2, seed=0,
        ...     space=SearchSpace({"lr": LogUniform(1e-3, 1e-1)}),
        ...     config=TrainConfig(epochs=3, hidden=(50, 50)), progress=False,
        ... )  # doctest: +SKIP
        >>> study.optimize()  # doctest: +SKIP
        >>> study.best_trial.params  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        strategy: str = "random",
        space: SearchSpace | None = None,
        n_trials: int = 100,
        n_jobs: int | None = None,
        seed: int = 0,
        config: TrainConfig | None = None,
        directory: str | os.PathLike[str] = "studies",
        resume: bool = False,
        strategy_options: Mapping[str, Any] | None = None,
        backend: str = "loky",
        scheduler: Any = None,
        progress: bool = True,
        prune: str = "none",
        min_epochs: int = 5,
        reduction_factor: int = 3,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {sorted(STRATEGIES)}")
        _check_positive_int("n_trials", n_trials)
        if n_jobs is None:
            n_jobs = -1 if backend == "dask" else 1
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
            raise ValueError(f"n_jobs must be a positive integer or -1 (all cores), but got {n_jobs!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, but got {seed!r}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; expected one of {list(BACKENDS)}")
        if scheduler is not None and backend != "dask":
            raise ValueError(f"--scheduler is only used with --backend dask, but the backend is {backend!r}")
        if backend == "dask" and scheduler is None:
            raise ValueError("--backend dask needs --scheduler tcp://HOST:PORT (or a distributed.Client)")
        self.name = validate_name(
            name or f"{strategy}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
        )
        self.space = space if space is not None else default_space()
        self.config = config if config is not None else TrainConfig()
        # Every searched name must be a training setting, checked before anything runs.
        unknown = sorted(set(self.space) - set(TrainConfig.field_names()))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown}; searchable names are {list(TrainConfig.field_names())}"
            )
        # Each dimension's ends (or choices) must make valid settings: refuse now, not per trial.
        for name, dim in self.space.items():
            for value in dim.grid(dim.grid_size or 2):
                try:
                    self.config.with_params({name: value})
                except ValueError as exc:
                    raise ValueError(f"--param {name}={dim.spec()}: {exc}") from None
        self.pruning = Pruning(prune, min_epochs, reduction_factor)
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        cores = os.cpu_count() or 1
        if backend != "dask" and n_jobs > cores:
            warnings.warn(f"n_jobs={n_jobs} exceeds the {cores} cores; running {cores} workers, "
                          "since more would only slow every trial down", stacklevel=2)
        self.seed = seed
        self.backend = backend
        self.scheduler = scheduler
        self.progress = progress
        self.resume = resume
        self.strategy: Strategy = make_strategy(strategy, self.space, seed, n_trials, **(strategy_options or {}))
        self.storage = StudyStorage(directory, self.name)
        self._trials: dict[int, TrialResult] = {}
        self._rungs: dict[int, dict[int, TrialResult]] = {}
        #: The files the last :meth:`optimize` wrote, by report name.
        self.report_paths: dict[str, Path] = {}
        self._bar: Any = None
        self._in_record = False
        self._stop_signal: int | None = None
        self._told: set[int] = set()
        self._asked: dict[int, dict[str, Any]] = {}
        self.cluster = None
        if backend == "dask":
            from hpsearch.cluster import describe

            # Reach the cluster now, so that an unreachable scheduler fails before any write.
            self.cluster = describe(scheduler)
        if self.storage.exists():
            if not resume:
                raise StudyError(
                    f"study {self.name!r} already exists in {self.storage.root}; "
                    "resume it (resume=True, or the same command again) or choose another name"
                )
            self._check_definition(self.storage.read_definition())
            self._trials = {t.number: t for t in self.storage.load_trials()}

    # ------------------------------------------------------------------ definition
    def definition(self) -> dict[str, Any]:
        """What defines the study; stored in ``study.json`` and checked on resume."""
        return {
            "hpsearch_version": __version__,
            "name": self.name,
            "strategy": self.strategy.settings(),
            "space": self.space.to_json(),
            "seed": self.seed,
            "config": self.config.to_json(),
            "pruning": self.pruning.to_json(),
            "n_trials": self.n_trials,
        }

    def _check_definition(self, stored: Mapping[str, Any]) -> None:
        mine = self.definition()
        stored = {"pruning": Pruning().to_json(), **stored}  # studies from before pruning existed
        missing = [key for key in _DEFINING if key not in stored]
        if missing:
            raise StudyError(f"corrupt study definition {self.storage.definition_path}: missing {missing}")
        try:  # settings added since the study was made take their defaults
            stored["config"] = TrainConfig.from_json(stored["config"]).to_json()
        except (TypeError, ValueError) as exc:
            raise StudyError(f"corrupt study definition {self.storage.definition_path}: {exc}") from None
        differ = [key for key in _DEFINING if stored[key] != mine[key]]
        if differ:
            details = "; ".join(_difference(key, stored[key], mine[key]) for key in differ)
            raise StudyError(
                f"study {self.name!r} was created with a different {', '.join(differ)} "
                f"({details}); run it as it was defined, or choose another --name"
            )

    @classmethod
    def load(cls, name: str, directory: str | os.PathLike[str] = "studies", **overrides: Any) -> Study:
        """Opens an existing study from its folder, to report on it or to continue it.

        Args:
            name: The study name.
            directory: The studies folder.
            **overrides: ``n_trials``, ``n_jobs``, ``backend``, ``scheduler`` or ``progress``.

        Raises:
            StudyError: No study there, or its definition is corrupt.
        """
        storage = StudyStorage(directory, name)
        d = storage.read_definition()
        try:
            strategy = dict(d["strategy"])
            kind = strategy.pop("name")
            strategy.pop("shape", None)
            space = SearchSpace.from_json(d["space"])
            config = TrainConfig.from_json(d["config"])
            pruning = d.get("pruning", {})
            kwargs: dict[str, Any] = dict(
                strategy=kind, space=space, seed=int(d["seed"]), config=config,
                n_trials=int(d.get("n_trials", 1)), strategy_options=strategy,
                prune=pruning.get("kind", "none"), min_epochs=pruning.get("min_epochs", 5),
                reduction_factor=pruning.get("eta", 3),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StudyError(f"corrupt study definition {storage.definition_path}: {exc}") from None
        kwargs.update(overrides)
        return cls(name, directory=directory, resume=True, **kwargs)

    # ------------------------------------------------------------------ results
    @property
    def path(self) -> Path:
        return self.storage.path

    @property
    def trials(self) -> list[TrialResult]:
        """Every finished trial, by trial number."""
        return [self._trials[n] for n in sorted(self._trials)]

    @property
    def best_trial(self) -> TrialResult | None:
        """The top-ranked trial (None if no trial has a score yet)."""
        scored = [t for t in self.trials if t.ok and t.val_acc is not None]
        return max(scored, key=lambda t: (t.val_acc, -t.number)) if scored else None

    def ranking(self) -> pd.DataFrame:
        """The ranked trials (see :func:`hpsearch.report.ranking`)."""
        from hpsearch.report import ranking

        return ranking(self.trials, self.space.names)

    @property
    def planned(self) -> int:
        """Trials the study will have when done: ``n_trials``, or a grid's size if smaller."""
        capacity = self.strategy.capacity
        return self.n_trials if capacity is None else min(self.n_trials, capacity)

    def write_reports(self) -> dict[str, Path]:
        """Rebuilds the study folder's CSV and figures from the trials; returns their paths."""
        from hpsearch.report import write_reports

        return write_reports(self.path, self.trials, self.space)

    # ------------------------------------------------------------------ running
    def optimize(self) -> pd.DataFrame:
        """Runs the trials still to do, then writes the reports; returns the ranking.

        Raises:
            StudyInterrupted: After SIGINT or SIGTERM, once every finished trial is saved and the
                reports are written; running the study again resumes it.
            StudyError: Another process is running this study.
        """
        # Before anything is written: the data must hold the samples (this may download it).
        check_dataset(self.config.dataset, self.config.samples)
        with self.storage.lock():
            stored = self.storage.read_definition() if self.storage.exists() else None
            if stored is None:
                self.storage.write_definition(self.definition())
            else:
                self._check_definition(stored)
                self._trials = {t.number: t for t in self.storage.load_trials(repair=True)}
                self._asked = self.storage.load_asked(repair=True)
                self._rungs = {}
                for t in self.storage.load_rungs(repair=True):
                    self._rungs.setdefault(t.number, {})[t.epochs] = t
                if stored.get("n_trials") != self.n_trials:
                    self.storage.write_definition({**stored, "n_trials": self.n_trials})
            self.strategy.tell(self.trials)
            self._told = set(self._trials)
            todo = [n for n in range(self.planned) if n not in self._trials]
            try:
                with self._signals(), self._progress_bar() as bar:
                    self._bar = bar
                    self._run(todo)
            except StudyInterrupted:
                self.report_paths = self.write_reports()
                raise
            finally:
                self._bar = None
            self.report_paths = self.write_reports()
        return self.ranking()

    def _run(self, todo: list[int]) -> None:
        if self.pruning.active:
            self._run_pruned()
            return
        # Trials proposed before an interruption run first, with the params they were given,
        # so that the batches after them fall as they would have without the interruption.
        unfinished = {n: self._asked[n] for n in todo if n in self._asked}
        if unfinished:
            self._run_batch(unfinished)
        todo = [n for n in todo if n not in self._asked]
        step = self.strategy.batch_size or len(todo) or 1
        for start in range(0, len(todo), step):
            self._run_batch(self._ask(todo[start : start + step]))

    def _run_batch(self, proposals: Mapping[int, dict[str, Any]]) -> None:
        tasks = {n: _Task(p) for n, p in proposals.items()}
        finished = [trial for trial, _ in self._execute(tasks, self._record_final)]
        self.strategy.tell(sorted(finished, key=lambda t: t.number))

    def _ask(self, numbers: list[int]) -> dict[int, dict[str, Any]]:
        """New proposals from the strategy, logged before they run."""
        proposals = dict(zip(numbers, self.strategy.ask(numbers)))
        with self._recording():
            self.storage.append_asked(proposals)
            self._asked.update(proposals)
        return proposals

    def _run_pruned(self) -> None:
        """Synchronous successive halving, bracket by bracket (see :mod:`hpsearch.pruning`)."""
        rungs = self._rungs
        # A model-based strategy learns between brackets: give it brackets of eta**(rungs) trials.
        n_rungs = len(rungs_for(self.config.epochs, self.pruning.min_epochs, self.pruning.eta))
        size = None if self.strategy.batch_size is None else self.pruning.eta**n_rungs
        brackets = self.pruning.brackets(self.planned, self.config.epochs, size)
        for bracket in brackets:
            numbers = list(bracket.numbers)
            if all(n in self._trials for n in numbers):
                continue
            params = {n: self._params_of(n) for n in numbers}
            unknown = [n for n in numbers if params[n] is None]
            if unknown:
                params.update(self._ask(unknown))
            alive = numbers
            for i, rung in enumerate(bracket.rungs):
                last = i == len(bracket.rungs) - 1
                tasks = {
                    n: _Task(params[n], None if last else rung, self.storage.load_checkpoint(n))
                    for n in alive
                    if n not in self._trials and rung not in rungs.get(n, {})
                }

                def on_result(trial: TrialResult, checkpoint: Checkpoint | None) -> None:
                    if trial.state is TrialState.PRUNED and checkpoint is not None:
                        self._record_rung(trial, checkpoint)
                    else:
                        self._record_final(trial)

                self._execute(tasks, on_result)
                if last:
                    break
                at_rung = [rungs[n][rung] for n in alive if rung in rungs.get(n, {})]
                keep = survivors(at_rung, len(alive), self.pruning.eta)
                for trial in at_rung:
                    if trial.number not in keep and trial.number not in self._trials:
                        self._record_final(trial)  # stopped here: its paused record is final
                alive = keep
            # Trials a resume already told the strategy are not told twice.
            self.strategy.tell([self._trials[n] for n in numbers if n in self._trials and n not in self._told])

    def _params_of(self, number: int) -> dict[str, Any] | None:
        if number in self._trials:
            return self._trials[number].params
        return self._asked.get(number)

    def _execute(self, tasks: dict[int, _Task], on_result: Any) -> list[tuple[TrialResult, Checkpoint | None]]:
        """Runs tasks until each has a result, handing each to ``on_result`` as it arrives.

        A worker process that dies costs the trials it held, which get a FAILED result; the
        others it took down with it are run again.
        """
        pending = dict(tasks)
        done: list[tuple[TrialResult, Checkpoint | None]] = []
        while pending:
            results = self._parallel(pending)
            try:
                for trial, checkpoint in results:
                    pending.pop(trial.number, None)
                    done.append((trial, checkpoint))
                    on_result(trial, checkpoint)
            except LocalBackendCrash as crash:
                for number in crash.lost:
                    trial = TrialResult(number, pending.pop(number).params, TrialState.FAILED,
                                        error=crash.message)
                    done.append((trial, None))
                    on_result(trial, None)
            finally:
                results.close()  # an interrupt stops the pool now, not when garbage is collected
        return done

    def _parallel(self, pending: Mapping[int, _Task]) -> Iterator[tuple[TrialResult, Checkpoint | None]]:
        if self.backend == "dask":
            yield from self._on_cluster(pending)
            return
        # One BLAS thread per worker: more workers than cores would only slow every trial.
        n_jobs = min(joblib.effective_n_jobs(self.n_jobs), os.cpu_count() or 1)
        watch = DeathWatch(self.path / ".running") if self.backend == "loky" and n_jobs > 1 else None
        tasks = [
            joblib.delayed(run_trial)(self.config, task.params, self.seed, number,
                                      str(watch.folder) if watch else None, task.until, task.checkpoint)
            for number, task in pending.items()
        ]
        with joblib.parallel_config(backend=self.backend, n_jobs=n_jobs), (watch or contextlib.nullcontext()):
            parallel = joblib.Parallel(return_as="generator_unordered", batch_size=1)
            try:
                yield from parallel(tasks)
            except Exception as exc:
                if watch is not None and watch.is_crash(exc):
                    raise LocalBackendCrash(watch.lost(pending), exc) from exc
                raise

    def _on_cluster(self, pending: Mapping[int, _Task]) -> Iterator[tuple[TrialResult, Checkpoint | None]]:
        from hpsearch.cluster import run_on_cluster

        numbers = list(pending)
        calls = [(run_trial, (self.config, pending[n].params, self.seed, n, None, pending[n].until,
                              pending[n].checkpoint)) for n in numbers]

        def lost(index: int, message: str) -> tuple[TrialResult, None]:
            number = numbers[index]
            return TrialResult(number, pending[number].params, TrialState.FAILED, error=message), None

        yield from run_on_cluster(self.scheduler, self.n_jobs, calls, lost)

    def _record_final(self, trial: TrialResult, checkpoint: Checkpoint | None = None) -> None:
        """Logs a finished trial (durably, first), then updates the progress bar."""
        with self._recording():
            self.storage.append(trial)
            self._trials[trial.number] = trial
            self.storage.drop_checkpoint(trial.number)
            if self._bar is not None:
                best = self.best_trial
                self._bar.set_postfix_str(f"best val_acc {best.val_acc:.4f}" if best else "", refresh=False)
                self._bar.update(1)

    def _record_rung(self, trial: TrialResult, checkpoint: Checkpoint) -> None:
        """Keeps a paused trial's checkpoint, then its result at the rung."""
        with self._recording():
            self.storage.save_checkpoint(checkpoint)
            self.storage.append_rung(trial)
            self._rungs.setdefault(trial.number, {})[trial.epochs] = trial

    @contextlib.contextmanager
    def _recording(self) -> Iterator[None]:
        """A signal during a write waits for its end, then stops the study."""
        self._in_record = True
        try:
            yield
        finally:
            self._in_record = False
        if self._stop_signal is not None:
            raise StudyInterrupted(self._stop_signal)


    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """Turns SIGINT and SIGTERM into :class:`StudyInterrupted`, never in mid-record."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            self._stop_signal = signum
            if not self._in_record:
                raise StudyInterrupted(signum)

        self._stop_signal = None
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
            self._stop_signal = None

    @contextlib.contextmanager
    def _progress_bar(self) -> Iterator[Any]:
        if not self.progress:
            yield None
            return
        from tqdm.auto import tqdm

        with tqdm(total=self.planned, initial=len(self._trials), desc=self.name, unit="trial",
                  dynamic_ncols=True) as bar:
            yield bar

    def __repr__(self) -> str:
        return (f"Study({self.name!r}, strategy={self.strategy.name!r}, trials={len(self._trials)}"
                f"/{self.planned}, path={str(self.path)!r})")
