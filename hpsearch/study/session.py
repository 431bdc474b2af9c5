"""A study's session: everything around the runs of one ``optimize``, ``confirm`` or ``compare``.

Before anything is written it checks the data and loads the objective; then it holds the study's
lock, opens (or creates) the folder, turns SIGINT and SIGTERM into a clean stop, warms matplotlib
up in a thread, shows the progress bar and the live page, and runs a :class:`Pool`; at the end,
whatever happened, it writes the reports. Inside it, the stages: the search
(:mod:`hpsearch.study.search`), the confirm stage and a comparison's runs
(:mod:`hpsearch.study.confirm`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hpsearch.data.split import check_dataset
from hpsearch.exceptions import ObjectiveError, StudyError
from hpsearch.execution.blas import loading_libraries
from hpsearch.execution.objective import source_digest
from hpsearch.execution.pool import Pool, local_backend
from hpsearch.execution.runner import run_objective
from hpsearch.execution.workers import Task
from hpsearch.records import RepeatResult, TrialResult
from hpsearch.reports.progress import live_page, progress_bar, warm_up_figures, write_live
from hpsearch.settings import positive_int
from hpsearch.storage.definition import Definition
from hpsearch.study import confirm as confirm_stage
from hpsearch.study.definition import check_definition, confirm_settings, stored_confirm
from hpsearch.study.objectives import BUILTIN, TOLD, runnable
from hpsearch.study.options import CONFIRM_DEFAULTS
from hpsearch.study.search import Search
from hpsearch.trial import Trial

if TYPE_CHECKING:
    from hpsearch.study.study import Study

__all__ = ["Session"]

# Seconds the reports wait for the figure warm-up thread at most (it takes about one).
WARM_UP_WAIT = 30.0
# Seconds an ask or a tell waits for the study's lock (another process asking or telling).
ASK_WAIT = 30.0
# Seconds opening an existing study waits for its lock before refusing: a process that asks
# or tells holds it a moment, one that runs the study holds it until it is done.
OPEN_WAIT = 3.0


def _warm_up_figures() -> None:
    """:func:`~hpsearch.reports.progress.warm_up_figures`, holding
    :data:`~hpsearch.execution.blas.loading_libraries`: its imports load extension modules
    while trial threads may inspect the loaded libraries."""
    with loading_libraries:
        warm_up_figures()


class Session:
    """The runs of one study object, and what surrounds them (see the module's text)."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.runs = 0  # the runs a session expects in all (see expected)

    @contextlib.contextmanager
    def open(self, remaining: int | None = None) -> Iterator[Pool]:
        """Lock, open (or create) the study, catch signals, show progress, run a pool; then
        report. ``remaining``: the runs this session makes (None: a search's, and its confirm
        stage's)."""
        st = self.study
        self._check_data()
        runner = self._runner()  # an objective that cannot load fails here, before any write
        if st.backend == "dask":  # a cluster that gets no worker fails here, before any write
            from hpsearch.execution.cluster import ready

            ready(st.scheduler)
        fresh = not st.path.exists()  # this session makes the folder
        try:
            with self._locked(runner, remaining) as pool:
                yield pool
        except ObjectiveError:
            # The objective's own answer stopped a new study before any run finished: a bad
            # objective writes nothing, as any bad input.
            if fresh and not st.journal.trials and not st.journal.repeats:
                shutil.rmtree(st.path, ignore_errors=True)
            raise

    def _check_data(self) -> None:
        """Before anything is written: the data must hold the samples (this may download it)."""
        s = self.study.settings
        check_dataset(s.dataset, s.samples, val_ratio=s.val_ratio)

    def _runner(self) -> Any:
        """The pool's task function: the objective (the user's, loaded now, or the built-in
        network) through :func:`~hpsearch.execution.runner.run_objective`."""
        st = self.study
        st._fn = runnable(st.objective, st.config)
        return functools.partial(run_objective, st._fn, st.objective_ref or BUILTIN, st.goal.metric)

    @contextlib.contextmanager
    def _locked(self, runner: Any, remaining: int | None) -> Iterator[Pool]:
        st = self.study
        with st.storage.lock():
            self.open_folder()
            with st.interrupts.handling():
                # matplotlib's first figure (its import, the font cache, the first text) costs
                # more than every later one: paid in a thread beside the trials, not after them.
                # (pandas stays imported with the study, before any signal is the study's: an
                # import cut by a signal can leave an import lock held, and what the study does
                # after the signal, its reports, would then wait for it forever.)
                warm = threading.Thread(target=_warm_up_figures, daemon=True)
                if st.figures:
                    warm.start()
                try:
                    done = len(st.journal.trials) + len(st.journal.repeats)
                    if remaining is None:  # a search: its trials, and at most this many more
                        searched = max(st.planned - len(st.journal.trials), 0)
                        confirm = st.n_confirm * st.repeats * (2 if st.refit else 1)
                        remaining = searched + max(confirm - len(st.journal.repeats), 0)
                    self.runs = done + remaining
                    show = st.progress and remaining > 0  # no bar for a session with no runs
                    with (
                        progress_bar(st.journal, self.expected, st.name, show, st.goal),
                        live_page(st.journal, self.write_live, self.expected),
                        Pool(
                            runner,
                            st.settings,
                            st.seed,
                            self.backend(remaining),
                            st.n_jobs,
                            scheduler=st.scheduler,
                            folder=st.path / ".running",
                        ) as pool,
                    ):
                        yield pool
                finally:
                    with st.interrupts.guard():
                        # One thread at a time in matplotlib; never an unbounded wait, though: a
                        # warm-up that does not end in time only leaves the figures to start cold.
                        if warm.is_alive():
                            warm.join(WARM_UP_WAIT)
                        st.report_paths = st.write_reports(figures=st.figures)

    def expected(self) -> int:
        """The runs this session's progress counts in all: those recorded before it and those
        it expects to make (exact once the confirm stage knows its runs, see repeat)."""
        return self.runs

    def backend(self, runs: int) -> str:
        """The pool's backend: ``auto`` resolved by the training work of ``runs`` runs, where
        the objective can tell it (``work``: the built-in network's; unknown for a user's)."""
        st = self.study
        if st.backend != "auto":
            return st.backend
        work = getattr(st._fn, "work", None)
        return local_backend(work(runs) if work is not None else None)

    def write_live(self, running: str) -> object:
        """The page of the study as it runs (see :func:`hpsearch.reports.progress.write_live`)."""
        st = self.study
        settings = st.storage.definition()
        return write_live(
            st.path, st.trials, st.space, running=running, settings=settings, goal=st.goal
        )

    def open_folder(self) -> None:
        """Creates the study's folder, or checks the stored definition and loads the logs."""
        st = self.study
        code = source_digest(st._fn) if st.objective is not None else None
        if not st.storage.exists():
            created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            made = st.definition().replace(created=created, code=code)
            st.storage.write_definition(made.to_json())
            return
        stored = st.storage.definition()
        check_definition(stored, st.definition(), st.storage.definition_path, st.name)
        st.lag = stored.lag
        st.journal.load(repair=True)
        if code is not None and code != stored.code:
            stored = self._code_changed(stored, code)
            st.storage.write_definition(stored.to_json())
        # The trials may grow (the confirm stage's settings are stored by the sessions that
        # run it: optimize and confirm, see store_confirm).
        if stored.n_trials != st.n_trials:
            st.storage.write_definition(stored.replace(n_trials=st.n_trials).to_json())

    def _code_changed(self, stored: Definition, code: str) -> Definition:
        """The definition to keep now that the objective's code is ``code``: refused (unless
        asked to go on), or the change marked with the runs recorded before it.

        Raises:
            StudyError: The code changed, and going on was not asked for.
        """
        st = self.study
        if stored.code is None:  # a study made before its code was kept: kept from now on
            return stored.replace(code=code)
        if not st.allow_changed_code:
            raise StudyError(
                f"the objective's code ({st.objective_ref}) changed since this study's runs "
                f"were trained (code {stored.code[:8]}, now {code[:8]}): its new runs would be "
                "ranked with the old ones; start a new study (another name), or go on "
                "(--allow-changed-code; in Python allow_changed_code=True), which marks the "
                "change in the study"
            )
        done = {"trials": len(st.journal.trials), "repeats": len(st.journal.repeats)}
        change = {"from": stored.code, "to": code, **done}
        return stored.replace(code=code, code_changes=[*stored.code_changes, change])

    def read_existing(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Checks the study's folder for a study object made on it: asked to resume (or to
        read), not locked by another process (unless to read), the same definition; loads its
        logs. Returns the confirm stage's settings: the stored ones, unless ``given`` again.

        Raises:
            StudyError: Any of these does not hold.
        """
        st = self.study
        if not st.resume and not st.read_only:
            raise StudyError(
                f"study {st.name!r} already exists in {st.storage.root}; resume it "
                "(resume=True, or the same command again) or choose another name"
            )
        if not st.read_only:  # another process asking or telling holds it a moment only
            st.storage.check_unlocked(wait=OPEN_WAIT)
        stored = st.storage.definition()
        check_definition(stored, st.definition(), st.storage.definition_path, st.name)
        kept = stored_confirm(stored)
        st.journal.load()
        return {**CONFIRM_DEFAULTS, **kept, **given}

    def write_reports(
        self, only_stale: bool, refresh_index: bool, figures: bool = True
    ) -> dict[str, Path]:
        """See :meth:`hpsearch.Study.write_reports`."""
        from hpsearch.reports.publish import write_reports

        st = self.study
        settings = st.storage.definition() if st.storage.exists() else None
        chosen = st.chosen_trial
        written: set[Path] = set()
        paths = write_reports(
            st.path,
            st.trials,
            st.space,
            settings=settings,
            repeats=st.repeats_done,
            chosen=None if chosen is None else chosen.number,
            only_stale=only_stale,
            refresh_index=refresh_index,
            written=written,
            goal=st.goal,
            figures=figures,
        )
        model, st._model_written = st._model_written, None
        return {
            **{key: path for key, path in paths.items() if path in written},
            **({"model": model} if model is not None else {}),
        }

    def ask(self) -> Trial:
        """See :meth:`hpsearch.Study.ask`."""
        st = self.study
        self._check_data()
        with st.storage.lock(wait=ASK_WAIT):  # another asker holds it a moment at most
            self.open_folder()
            number = st._asktell.next_number(st.planned, st.path)
            return st._asktell.ask(number, st.settings, st.seed, st.path)

    def tell(self, trial: Trial, value: Any) -> TrialResult:
        """See :meth:`hpsearch.Study.tell`."""
        st = self.study
        with st.storage.lock(wait=ASK_WAIT):
            self.open_folder()
            ref = st.objective_ref or TOLD
            return st._asktell.tell(trial, value, st.goal.metric, ref, st.settings, st.path)

    # ------------------------------------------------------------------------- the stages
    def search(self, pool: Pool) -> None:
        """The search: the trials still to do."""
        st = self.study
        Search(
            st.strategy, st.journal, st.pruning, st.settings.epochs, st.planned, st.lag, st.goal
        ).run(pool)

    def confirm(self, pool: Pool) -> None:
        """The confirm stage: its runs still to make, the refit runs of the configuration
        chosen then, and the objective's model of it (``save_chosen``, where it has one)."""
        st = self.study
        # The refit runs come after, of the configuration chosen then: as many as repeats
        # (minus those already done, if it is the chosen one now too).
        refits = st.repeats - sum(1 for r in st.journal.repeats if r[2]) if st.refit else 0
        candidates = confirm_stage.candidates(st.trials, st.n_confirm, st.goal)
        self.repeat(pool, candidates, later=max(refits, 0) if candidates else 0)
        if st.refit and st.chosen_trial is not None:
            self.repeat(pool, [st.chosen_trial], refit=True)
        save = getattr(st._fn, "save_chosen", None)  # the built-in network's model.npz
        chosen = st.chosen_trial
        if save is not None and chosen is not None:
            saved = save(st.path, st.journal.repeats, chosen.number, st.refit, st.seed)
            if saved is not None:  # written now, not kept as it was
                st._model_written = saved

    def repeat(
        self,
        pool: Pool,
        trials: list[TrialResult],
        refit: bool = False,
        later: int = 0,
        curves: bool = False,
    ) -> None:
        """Runs what is missing of ``repeats`` runs of each of ``trials``; ``later``: the runs
        the session will make after these (the progress then counts exactly); ``curves``: see
        :meth:`repeat_tasks`."""
        journal = self.study.journal
        tasks = self.repeat_tasks(trials, refit, curves)
        self.runs = len(journal.trials) + len(journal.repeats) + len(tasks) + later
        confirm_stage.run(pool, journal, tasks)

    def repeat_tasks(
        self, trials: list[TrialResult], refit: bool = False, curves: bool = False
    ) -> list[Task]:
        """The runs still to make; with ``curves``, also each finished run without a test
        curve (a confirm stage's, made before curves were asked for), where the objective gives
        one (see :meth:`gives_test_curves`): run again with the same seed, it gives the same
        scores and its curve, and takes the old record's place."""
        st = self.study
        again = curves and self.gives_test_curves()
        done = {
            key
            for key, run in st.journal.repeats.items()
            if not (again and run.ok and not run.test_curve and run.n_test)
        }
        return confirm_stage.plan(trials, st.repeats, done, refit=refit, test_curve=st.test_curves)

    def gives_test_curves(self) -> bool:
        """Whether a run made again with test curves asked gets one: the built-in network's
        does; a function of the reader's only if it reports ``test_acc`` at each epoch, which a
        run of it with a test curve shows (one whose runs have none would train for nothing)."""
        st = self.study
        if st.objective_ref is None:
            return True
        return any(r.test_curve for r in st.journal.repeats.values())

    def best_per_value(self, by: str) -> list[TrialResult]:
        """The best search trial of each value of ``by`` (see
        :func:`hpsearch.study.confirm.best_per_value`)."""
        st = self.study
        return confirm_stage.best_per_value(st.trials, by, st.space.names, st.name, st.goal)

    def values(self, by: str) -> set[str]:
        """The values (as repr) the search's trials took of ``by``."""
        return {repr(t.params.get(by)) for t in self.study.trials if by in t.params}

    def compare(self, by: str, repeats: int | None) -> list[RepeatResult]:
        """See :meth:`hpsearch.Study.compare`."""
        st = self.study
        best = self.best_per_value(by)
        values = self.values(by)
        if len(values) < 2:
            raise ValueError(
                f"compare by {by!r}: the search tried one value of it ({', '.join(values)}), "
                "so there is nothing to compare"
            )
        st.repeats = positive_int("repeats", st.repeats if repeats is None else repeats)
        missing = len(self.repeat_tasks(best, curves=st.test_curves))
        if missing:
            with self.open(remaining=missing) as pool:
                self.repeat(pool, best, curves=st.test_curves)
        numbers = {t.number for t in best}
        return [r for r in st.repeats_done if r.number in numbers and not r.refit]

    def comparison(
        self, runs: list[RepeatResult], by: str, thresholds: Sequence[float] | None = None
    ) -> pd.DataFrame:
        """The comparison table of ``runs`` by ``by`` (see
        :func:`hpsearch.reports.comparison.comparison`), for this study's space, trials and
        objective."""
        from hpsearch.reports.comparison import comparison

        st = self.study
        own = st.objective_ref is not None
        return comparison(runs, by, thresholds, st.space, st.trials, own=own)

    def store_confirm(self) -> None:
        """Stores the confirm stage's settings this session runs with, for whoever opens the
        study next (under the study's lock)."""
        st = self.study
        stored = st.storage.definition()
        mine = confirm_settings(st)
        if any(getattr(stored, k) != v for k, v in mine.items()):
            with st.interrupts.guard():
                st.storage.write_definition(stored.replace(**mine).to_json())
