"""On a Dask cluster: a trial past the time limit ends TIMEOUT with its worker replaced, and a
study that stops early frees the workers that ran its trials."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from hpsearch import LogUniform, Settings, Study  # noqa: E402
from hpsearch.execution.objective import load_objective, portable  # noqa: E402
from hpsearch.execution.pool import Pool  # noqa: E402
from hpsearch.execution.runner import run_objective  # noqa: E402
from hpsearch.execution.workers import Task  # noqa: E402

HANGS = """
import time

def objective(trial):
    if trial.number == 1:
        time.sleep(10_000)            # a loop that never ends
    return trial.params["lr"] / 2
"""

HANG_GUARD = 120  # seconds: only a hang (the trial sleeps for hours) comes near it


@pytest.fixture(scope="module")
def client():
    # Workers with nannies, as `dask worker` starts them by default: they can be restarted.
    # No dashboard, and the scheduler's HTTP server (health, metrics) on a free port: on its
    # default, 8787, it warns when another test's cluster has that port.
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "hangs.py"
    path.write_text(textwrap.dedent(HANGS))
    return path


def test_a_hanging_trial_on_dask_is_timeout_and_the_study_goes_on(client, tmp_path):
    study = Study(
        "dask-limit",
        objective=f"{_file(tmp_path)}:objective",
        space={"lr": LogUniform(1e-2, 1.0)},
        config=Settings(epochs=1, samples=100, time_limit=1),
        n_trials=3,
        confirm=0,
        backend="dask",
        scheduler=client,
        n_jobs=1,
        progress=False,
        figures=False,
        directory=tmp_path / "studies",
    )
    study.optimize()
    ranking = pd.read_csv(tmp_path / "studies" / "dask-limit" / "ranking.csv").set_index("trial")
    assert ranking.loc[1, "state"] == "TIMEOUT" and "time limit" in ranking.loc[1, "error"]
    assert (ranking.loc[[0, 2], "state"] == "COMPLETE").all()


def test_a_study_that_stops_early_frees_its_dask_workers(client, tmp_path):
    fn = portable(load_objective(f"{_file(tmp_path)}:objective"))
    runner = functools.partial(run_objective, fn, "hangs.py:objective", "val_acc")

    def ctrl_c_once_it_runs() -> None:
        deadline = time.monotonic() + HANG_GUARD
        while not any(client.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C in the middle of the study's wait

    # Python's own Ctrl-C, even where the suite was started with SIGINT ignored (a background
    # job of a non-interactive shell inherits it so), which would leave the study waiting.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    with contextlib.ExitStack() as stack, pytest.raises(KeyboardInterrupt):
        stack.callback(signal.signal, signal.SIGINT, previous)
        with Pool(runner, Settings(epochs=1, samples=100), 0, "dask", 1, scheduler=client) as pool:
            pool.submit(Task(1, {"lr": 0.1}))
            threading.Thread(target=ctrl_c_once_it_runs, daemon=True).start()
            for _ in pool.results():
                pass
    # The one worker is free: a new task runs now, not after the hung one's hours.
    assert client.submit(lambda: 42, pure=False).result(timeout=HANG_GUARD) == 42


@pytest.mark.parametrize("status", ["finished", "error"])
def test_a_result_lost_with_the_scheduler_is_the_lost_connection_not_a_stream_error(status):
    """A task that finished, or failed, while the scheduler died: fetching its result (or its
    error) through the dead scheduler raises distributed's CommClosedError ("Stream is closed",
    an OSError); the study says it lost the connection, in its one line."""
    from distributed.comm.core import CommClosedError

    from hpsearch.exceptions import ClusterLost
    from hpsearch.execution.cluster import LOST, ClusterPool

    class Gone:
        key = "hpsearch-gone"

        def __init__(self) -> None:
            self.status = status

        def result(self) -> None:
            raise CommClosedError("in <TCP (closed)>: Stream is closed")

        exception = result

    future = Gone()
    pool = ClusterPool.__new__(ClusterPool)  # no cluster: only what outcome reads
    pool._futures, pool._overdue, pool._distributed = [future], set(), distributed
    with pytest.raises(ClusterLost) as lost:
        pool.outcome(future, Task(0, {"lr": 0.1}))
    assert str(lost.value) == LOST
