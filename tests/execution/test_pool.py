"""The local process pool when a worker dies between two of the caller's reads."""

from __future__ import annotations

import os
import signal
import time

from hpsearch.execution.pool import Pool
from hpsearch.execution.workers import Task
from hpsearch.records import TrialResult, TrialState
from hpsearch.settings import Settings


def _work(settings, seed, task):
    once = task.params.get("die_once")
    if once is not None and not os.path.exists(once):
        open(once, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    if task.params.get("die_after") is not None:
        time.sleep(task.params["die_after"])
        os.kill(os.getpid(), signal.SIGKILL)
    return TrialResult(task.number, dict(task.params), TrialState.COMPLETE, val_acc=0.5), None


def _broken(pool: Pool) -> bool:
    return bool(pool._executor._flags.broken)


def test_a_worker_that_dies_while_the_caller_is_away_costs_only_its_task(tmp_path) -> None:
    """The executor breaks while no read is waiting on it; the next task submitted must not
    raise the executor's error but be run, and only the dead worker's task be FAILED."""
    with Pool(_work, Settings(), 0, "loky", 2, folder=tmp_path / "watch") as pool:
        pool.submit(Task(0, {}))
        pool.submit(Task(1, {"die_after": 0.5}))
        results = pool.results()
        first, record, _ = next(results)
        assert first.number == 0 and record.state is TrialState.COMPLETE
        deadline = time.monotonic() + 30
        while not _broken(pool) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _broken(pool), "the worker holding task 1 did not die"
        pool.submit(Task(2, {}))
        rest = {task.number: rec.state for task, rec, _ in results}
    assert rest == {1: TrialState.FAILED, 2: TrialState.COMPLETE}


def test_a_pool_whose_idle_worker_died_runs_the_next_tasks(tmp_path) -> None:
    with Pool(_work, Settings(), 0, "loky", 2, folder=tmp_path / "watch") as pool:
        pool.submit(Task(0, {}))
        assert [rec.state for _, rec, _ in pool.results()] == [TrialState.COMPLETE]
        for pid in list(pool._executor._processes):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not _broken(pool) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _broken(pool)
        pool.submit(Task(1, {}))
        pool.submit(Task(2, {}))
        states = {task.number: rec.state for task, rec, _ in pool.results()}
    assert states == {1: TrialState.COMPLETE, 2: TrialState.COMPLETE}


def test_a_task_whose_worker_died_once_runs_again_and_twice_is_failed(tmp_path) -> None:
    # One pool each: a crash kills every worker, so two dying tasks side by side would also
    # cost each other their runs.
    with Pool(_work, Settings(), 0, "loky", 2, folder=tmp_path / "watch") as pool:
        pool.submit(Task(0, {"die_once": str(tmp_path / "died")}))
        once = {task.number: rec for task, rec, _ in pool.results()}
    assert (tmp_path / "died").exists(), "the first run of task 0 did not die"
    assert once[0].state is TrialState.COMPLETE, once[0].error
    with Pool(_work, Settings(), 0, "loky", 2, folder=tmp_path / "watch") as pool:
        pool.submit(Task(1, {"die_after": 0.0}))
        always = {task.number: rec for task, rec, _ in pool.results()}
    assert always[1].state is TrialState.FAILED and "died twice" in (always[1].error or "")


def test_a_second_study_from_another_directory_runs_on_the_same_workers(tmp_path, monkeypatch):
    """The workers outlive a study (a notebook's pool is reused); a second study started after a
    change of directory finds its death-watch markers where they are, not under the workers'
    own directory."""
    from hpsearch import Study, TrainConfig

    for sub in ("first", "second"):
        (tmp_path / sub).mkdir()
        monkeypatch.chdir(tmp_path / sub)
        study = Study(
            "s",
            config=TrainConfig(epochs=2, hidden=(20,), samples=200),
            n_trials=4,
            n_jobs=2,
            backend="loky",
            confirm=0,
            progress=False,
            figures=False,
        )
        study.optimize()
        assert len(study.trials) == 4


def test_stopping_the_local_workers_waits_for_the_task_queues_feeder() -> None:
    """shutdown (the command's last step) returns only once the feeder thread of the queue that
    took tasks to the workers has ended: that thread frees the queue's semaphores as it ends,
    and a process leaving in the middle of that left its resource tracker to warn of a "leaked
    semaphore" at exit. The feeder is made slow to end here, so a shutdown that does not wait
    for it returns while it still runs."""
    import threading

    from hpsearch.execution import pool as pool_module

    pool_module.shutdown()  # a fresh executor: its queue's feeder is patched before it starts
    with Pool(_work, Settings(), 0, "loky", 2) as pool:
        calls = pool._executor._call_queue
        close = calls._writer.close

        def slow_close() -> None:  # what the feeder calls on the queue's end mark, last
            time.sleep(0.5)
            close()

        calls._writer.close = slow_close
        pool.submit(Task(0, {"lr": 0.1}))
        assert [record.state for _, record, _ in pool.results()] == [TrialState.COMPLETE]
        feeder = calls._thread
        assert isinstance(feeder, threading.Thread) and feeder.is_alive()
    pool_module.shutdown()
    assert not feeder.is_alive()
