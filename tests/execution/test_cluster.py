"""Studies on a real Dask cluster: a scheduler and two workers started here as subprocesses.

Each cluster lives in a fixture that shuts it down itself (terminate, then kill), also when the
test fails. Workers run without a nanny, so killing a worker's process really loses the worker
(a nanny would restart it), and they use one thread each, as two small machines would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from hpsearch import SearchSpace, Study, TrainConfig  # noqa: E402
from hpsearch.execution.cluster import ClusterInfo, connect, describe  # noqa: E402
from hpsearch.execution.pool import Pool  # noqa: E402
from hpsearch.execution.workers import Task  # noqa: E402
from hpsearch.records import TrialState  # noqa: E402
from hpsearch.settings import Settings  # noqa: E402
from hpsearch.space.dimensions import LogUniform  # noqa: E402

UNREACHABLE = "tcp://127.0.0.1:1"
# Bounds on what should take seconds: only a hang reaches them, however slow the machine.
HANG = 120.0
COMPARED = ["rank", "trial", "lr", "weight_decay", "val_acc", "train_acc", "best_val_acc", "state"]
QUICK = TrainConfig(epochs=2, hidden=(20, 20))
T = TypeVar("T")


class LocalCluster:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, as a user would start
    them."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            **(env or {}),
        }
        self.scheduler_file = folder / "scheduler.json"
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.address = ""

    def _spawn(self, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"{args[0]}-{len(self.workers)}.log", "wb")
        with log:
            return subprocess.Popen(
                [sys.executable, "-m", f"distributed.cli.dask_{args[0]}", *args[1:]],
                cwd=self.folder,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def start(self, n_workers: int = 2, timeout: float = HANG) -> None:
        # --port 0 and a scheduler file: a free port, known without a race.
        self.scheduler = self._spawn(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(self.scheduler_file),
        )
        deadline = time.monotonic() + timeout
        while not self.address:  # the file, once written whole, names the scheduler
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dask scheduler did not start:\n{self.logs()}")
            time.sleep(0.05)
            with contextlib.suppress(OSError, ValueError):
                self.address = json.loads(self.scheduler_file.read_text())["address"]
        for _ in range(n_workers):
            self.add_worker()
        if n_workers:  # (0: a scheduler alone)
            with connect(self.address) as client:
                client.wait_for_workers(n_workers, timeout=max(1.0, deadline - time.monotonic()))

    def add_worker(self) -> subprocess.Popen:
        worker = self._spawn(
            "worker",
            self.address,
            "--host",
            "127.0.0.1",
            "--nthreads",
            "1",
            "--nworkers",
            "1",
            "--no-nanny",
            "--no-dashboard",
            "--local-directory",
            str(self.folder),
        )
        self.workers.append(worker)
        return worker

    def worker_pids(self) -> dict[str, int]:
        with connect(self.address) as client:
            return client.run(os.getpid)

    def wait_until_executing(self, client: distributed.Client) -> str:
        """The address of the first worker seen running a task in its thread (waiting for one)."""

        def executing(dask_worker: distributed.Worker) -> int:  # (nested: travels by value)
            return dask_worker.state.executing_count

        end = time.monotonic() + HANG
        while time.monotonic() < end:
            # (a worker killed meanwhile is left out of the answer, not an error)
            busy = [a for a, n in client.run(executing, on_error="ignore").items() if n]
            if busy:
                return busy[0]
            time.sleep(0.05)
        raise AssertionError(f"no worker ran a task within {HANG:g} s")

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}"
            for p in self.folder.glob("*.log")
        )

    def stop(self) -> None:
        procs = [*self.workers, *([self.scheduler] if self.scheduler else [])]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _returns_before_a_hang(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, run in a thread; fails if it has not returned after :data:`HANG` s."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 (raised again in the test's thread)
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), f"{getattr(fn, '__qualname__', fn)} hangs"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@contextlib.contextmanager
def running_cluster(folder: Path, env: dict[str, str] | None = None) -> Iterator[LocalCluster]:
    folder.mkdir(parents=True, exist_ok=True)
    cluster = LocalCluster(folder, env)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with running_cluster(tmp_path_factory.mktemp("dask")) as c:
        yield c


def _pair(tmp_path: Path, address: str, name: str, **kwargs) -> tuple:
    """The same study run locally (loky, 2 jobs) and on the cluster; their rankings."""
    local = Study(
        f"{name}-local", n_jobs=2, directory=tmp_path, progress=False, figures=False, **kwargs
    ).optimize()
    remote = Study(
        f"{name}-dask",
        backend="dask",
        scheduler=address,
        n_jobs=-1,
        directory=tmp_path,
        progress=False,
        figures=False,
        **kwargs,
    ).optimize()
    return local, remote


# ---------------------------------------------------------------------- results as a local run
def _split_cache(cluster: LocalCluster) -> dict[str, tuple[int, int]]:
    """Per worker: (builds, uses from cache) of the train/validation split."""

    def info() -> tuple[int, int]:
        from hpsearch.data import split as data

        stats = data._make_split.cache_info()
        return stats.misses, stats.hits

    with connect(cluster.address) as client:
        return client.run(info)


def test_random_study_on_cluster_equals_local_run(cluster: LocalCluster, tmp_path: Path) -> None:
    before = _split_cache(cluster)
    local, remote = _pair(
        tmp_path,
        cluster.address,
        "random",
        strategy="random",
        n_trials=6,
        seed=7,
        config=QUICK,
        confirm=0,
    )  # the search's trials alone: 6 uses of the split
    after = _split_cache(cluster)
    # The trials ran on the workers, and each worker built the data once, not once per trial.
    builds = {w: after[w][0] - before[w][0] for w in after}
    uses = sum(after[w][0] + after[w][1] - before[w][0] - before[w][1] for w in after)
    assert uses == 6
    assert all(n <= 1 for n in builds.values())
    assert len(remote) == 6
    assert (remote["state"] == "COMPLETE").all()
    assert remote[COMPARED].equals(local[COMPARED])


def test_an_own_objective_runs_on_workers_that_cannot_import_its_file(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """The workers run in another folder: the function travels by value, and its unseeded
    ``np.random`` draws are the same there as in local workers."""
    from test_objective import BOOK_STYLE

    file = tmp_path / "own" / "mynet_on_dask.py"
    file.parent.mkdir()
    file.write_text(BOOK_STYLE)
    space = {"lr": LogUniform(1e-2, 1.0)}
    local, remote = _pair(
        tmp_path,
        cluster.address,
        "own",
        objective=f"{file}:objective",
        space=space,
        n_trials=6,
        seed=5,
        config=TrainConfig(epochs=3, samples=200),
        confirm=2,
        repeats=2,
    )
    assert (remote["state"] == "COMPLETE").all() and remote["val_acc"].nunique() > 1
    assert remote[["rank", "trial", "lr", "val_acc", "train_acc", "state"]].equals(
        local[["rank", "trial", "lr", "val_acc", "train_acc", "state"]]
    )
    confirmed = [
        pd.read_csv(tmp_path / f"own-{where}" / "confirmed.csv").filter(regex="^(?!seconds)")
        for where in ("local", "dask")
    ]
    pd.testing.assert_frame_equal(*confirmed)


def test_bayes_study_on_cluster_equals_local_run(cluster: LocalCluster, tmp_path: Path) -> None:
    local, remote = _pair(
        tmp_path,
        cluster.address,
        "bayes",
        strategy="bayes",
        n_trials=8,
        seed=11,
        config=QUICK,
        strategy_options={"batch_size": 4, "n_initial_points": 4},
    )
    assert len(remote) == 8
    assert remote[COMPARED].equals(local[COMPARED])


def test_a_conditional_bayes_study_on_cluster_equals_local_run(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    from hpsearch.space.dimensions import Categorical, Uniform

    space = {
        "optimizer": Categorical(["sgd", "momentum"]),
        "momentum": Uniform(0.5, 0.95, when={"optimizer": "momentum"}),
        "lr": LogUniform(1e-3, 1e-1),
    }
    local, remote = _pair(
        tmp_path,
        cluster.address,
        "conditional",
        strategy="bayes",
        space=space,
        n_trials=8,
        seed=3,
        config=QUICK,
        strategy_options={"batch_size": 4, "n_initial_points": 4},
    )
    compared = [c for c in COMPARED if c != "weight_decay"] + ["optimizer", "momentum"]
    assert remote[compared].equals(local[compared])
    # blank exactly where momentum does not act
    assert (remote["momentum"].isna() == (remote["optimizer"] == "sgd")).all()
    assert remote["optimizer"].nunique() == 2


def test_existing_client_is_used_and_left_open(cluster: LocalCluster, tmp_path: Path) -> None:
    with distributed.Client(cluster.address, set_as_default=False) as client:
        ranking = Study(
            "client",
            backend="dask",
            scheduler=client,
            n_trials=3,
            config=QUICK,
            directory=tmp_path,
            progress=False,
            figures=False,
        ).optimize()
        assert len(ranking) == 3
        assert client.status == "running"  # the study did not close the user's client
        assert client.submit(abs, -3).result() == 3  # and it still works
        assert client.status == "running"


def test_describe_counts_workers_and_threads(cluster: LocalCluster) -> None:
    info = describe(cluster.address)
    assert info == ClusterInfo(cluster.address, 2, 2)
    assert "2 worker(s), 2 thread(s)" in str(info)


def _others_seen(
    address: str, n_jobs: int, n: int, folder: Path, watch: float, leave: bool
) -> list[tuple[int, list[int]]]:
    """Runs ``n`` tasks that each mark themselves running in ``folder`` and watch it for
    another task's mark, for ``watch`` seconds or until one shows; per task, its worker's pid
    and the tasks it saw running beside it. ``leave``: the marks stay when a task ends."""
    folder.mkdir()

    def watching(settings: Settings, seed: int, task: Task) -> tuple[tuple[int, list[int]], None]:
        here = Path(task.params["folder"])  # (nested, so that it travels to the workers by value)
        mine = here / f"{task.number}.running"
        mine.touch()
        seen: list[int] = []
        end = time.monotonic() + task.params["watch"]
        while not seen and time.monotonic() < end:
            seen = sorted(int(p.stem) for p in here.glob("*.running") if p != mine)
            time.sleep(0.01)
        if not task.params["leave"]:
            mine.unlink()
        return (os.getpid(), seen), None

    params = {"folder": str(folder), "watch": watch, "leave": leave}
    with Pool(watching, Settings(), 0, "dask", n_jobs, scheduler=address) as pool:
        for i in range(n):
            pool.submit(Task(i, params))
        return [record for _, record, _ in pool.results()]


def test_n_jobs_caps_the_trials_running_at_once(cluster: LocalCluster, tmp_path: Path) -> None:
    # n_jobs 1: no task, in the 0.3 s it runs, sees another running (two free workers would
    # start two at once).
    seen = _others_seen(cluster.address, 1, 4, tmp_path / "one", watch=0.3, leave=False)
    # On the cluster's workers, not in this process, and one at a time.
    assert {pid for pid, _ in seen} <= set(cluster.worker_pids().values())
    assert [others for _, others in seen] == [[]] * 4
    # -1: every thread of the cluster (2 workers of 1 thread): two run side by side, so each
    # task sees the other's mark before it ends (a cap of one would keep the second waiting
    # until the first gives up watching).
    seen = _others_seen(cluster.address, -1, 2, tmp_path / "all", watch=HANG, leave=True)
    assert sorted(others for _, others in seen) == [[0], [1]]


# ---------------------------------------------------------------------- a worker dies
LONG = TrainConfig(epochs=80, samples=500)  # about 0.4 s a trial, on an idle core


def _kill_a_busy_worker(cluster: LocalCluster, killed: list[int]) -> None:
    """Kills (SIGKILL) the first worker seen running a trial, as it runs it."""
    pids = cluster.worker_pids()
    with connect(cluster.address) as client:
        busy = cluster.wait_until_executing(client)
        os.kill(pids[busy], signal.SIGKILL)
        killed.append(pids[busy])


def _study_with_a_worker_killed(cluster: LocalCluster, tmp_path: Path, name: str, n_trials: int):
    killed: list[int] = []
    killer = threading.Thread(target=_kill_a_busy_worker, args=(cluster, killed), daemon=True)
    killer.start()
    study = Study(
        name,
        backend="dask",
        scheduler=cluster.address,
        n_jobs=-1,
        n_trials=n_trials,
        seed=5,
        config=LONG,
        space=SearchSpace({"lr": LogUniform(1e-3, 1e-1)}),
        directory=tmp_path,
        progress=False,
        figures=False,
    )
    _returns_before_a_hang(study.optimize)
    killer.join(HANG)
    assert killed and killed[0] in {p.pid for p in cluster.workers}
    assert any(p.poll() == -signal.SIGKILL for p in cluster.workers)
    return study


def test_killed_worker_costs_a_retry_and_the_study_completes(tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster") as cluster:
        study = _study_with_a_worker_killed(cluster, tmp_path, "killed", n_trials=3)
    assert [t.number for t in study.trials] == [0, 1, 2]
    # The lost trial ran again on the other worker, with the very same result.
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    local = Study(
        "killed-local",
        n_trials=3,
        seed=5,
        config=LONG,
        n_jobs=2,
        space=SearchSpace({"lr": LogUniform(1e-3, 1e-1)}),
        directory=tmp_path,
        progress=False,
        figures=False,
    )
    local.optimize()
    assert [(t.params, t.val_acc, t.train_acc) for t in study.trials] == [
        (t.params, t.val_acc, t.train_acc) for t in local.trials
    ]
    # And every trial is in the study's log, as a resume would read it.
    reloaded = Study.load("killed", tmp_path, progress=False, figures=False)
    assert len(reloaded.trials) == 3


def test_trial_dask_gives_up_on_is_recorded_failed_not_a_hang(tmp_path: Path) -> None:
    # allowed-failures 0: the scheduler gives up on a task at the first death of its worker
    # (KilledWorker); joblib's own dask backend would then wait forever.
    env = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    with running_cluster(tmp_path / "cluster", env) as cluster:
        study = _study_with_a_worker_killed(cluster, tmp_path, "gave-up", n_trials=3)  # no hang
    assert [t.number for t in study.trials] == [0, 1, 2]
    failed = [t for t in study.trials if t.state is TrialState.FAILED]
    assert 1 <= len(failed) <= 2  # the running trial, and one queued on the same worker at most
    assert all("KilledWorker" in t.error and t.params for t in failed)
    assert any(t.state is TrialState.COMPLETE for t in study.trials)


# ---------------------------------------------------------------------- unreachable scheduler
@pytest.fixture
def library_waits_an_hour() -> Iterator[None]:
    """distributed's own connect timeout (30 s by default) made an hour: an attempt that ends
    before :data:`HANG` ended on the timeout hpsearch gives."""
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "3600s"}):
        yield


def test_connect_to_nothing_fails_on_its_timeout_with_one_line(library_waits_an_hour) -> None:
    with pytest.raises(ValueError) as info:
        _returns_before_a_hang(connect, UNREACHABLE, 2)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot reach the dask scheduler at {UNREACHABLE} within 2 s")


def test_connect_to_a_port_where_no_scheduler_answers_fails_on_its_timeout(
    library_waits_an_hour,
) -> None:
    # Something else listens there (the dashboard's port, a web server): it accepts the
    # connection and never answers distributed's handshake.
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(ValueError) as info:
            _returns_before_a_hang(connect, address, 2)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot reach the dask scheduler at {address} within 2 s")


@pytest.mark.parametrize("scheduler", [None, "", 8786])
def test_scheduler_must_be_an_address_or_client(scheduler: object) -> None:
    with pytest.raises(ValueError, match="needs a scheduler address"):
        connect(scheduler)


def test_dask_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    # From the checkout, as hpsearch itself is installed (see test_story_cluster.py).
    with pytest.raises(ValueError, match=r'not installed: pip install -e ".*\[dask\]"'):
        connect(UNREACHABLE)


def test_study_with_unreachable_scheduler_fails_on_construction(
    tmp_path: Path, library_waits_an_hour
) -> None:
    # Needs Study.__init__ to connect (see hpsearch.execution.cluster.describe).
    with pytest.raises(ValueError, match="cannot reach the dask scheduler"):
        _returns_before_a_hang(
            lambda: Study(
                "nowhere",
                backend="dask",
                scheduler=UNREACHABLE,
                directory=tmp_path,
                progress=False,
                figures=False,
            )
        )
    assert list(tmp_path.iterdir()) == []


def test_cli_with_unreachable_scheduler_exits_2_with_one_line(tmp_path: Path) -> None:
    # Needs the CLI's --backend and --scheduler options. distributed's own connect timeout is
    # an hour there: the command ends in time only on hpsearch's.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hpsearch",
            "random",
            "--trials",
            "2",
            "--backend",
            "dask",
            "--scheduler",
            UNREACHABLE,
            "--out",
            str(tmp_path / "studies"),
        ],
        capture_output=True,
        text=True,
        timeout=HANG,
        cwd=tmp_path,
        env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3600s"},
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"hpsearch: error: cannot reach the dask scheduler at {UNREACHABLE}")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- workers and scheduler lost
def test_a_cluster_without_workers_is_said_and_the_study_waits_for_new_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    from hpsearch.execution import cluster as cluster_module

    monkeypatch.setattr(cluster_module, "NO_WORKERS_NOTICE", 1.0)  # 30 s in a study

    def held(settings: Settings, seed: int, task: Task) -> tuple[int, None]:
        # Its first run holds until its worker is killed; the run again on a new worker ends.
        first = Path(task.params["folder"]) / "started"
        if not first.exists():
            first.touch()
            time.sleep(HANG)
        return task.number, None

    with running_cluster(tmp_path / "cluster") as c, warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")

        def lose_then_add_workers() -> None:
            with connect(c.address) as client:
                c.wait_until_executing(client)  # the trial is on a worker
            for worker in c.workers:
                worker.kill()
            end = time.monotonic() + HANG
            while not said and time.monotonic() < end:
                time.sleep(0.05)
            c.add_worker()

        with Pool(held, Settings(), 0, "dask", 1, scheduler=c.address) as pool:
            pool.submit(Task(7, {"folder": str(tmp_path)}))
            helper = threading.Thread(target=lose_then_add_workers, daemon=True)
            helper.start()
            results = [record for _, record, _ in pool.results()]
            helper.join()
    assert results == [7]  # it waited, and the new worker ran the trial
    notices = [str(w.message) for w in said if "no dask workers" in str(w.message)]
    assert len(notices) == 1, [str(w.message) for w in said]
    assert "no dask workers for 1 s" in notices[0] and "Ctrl-C" in notices[0]


def test_the_scheduler_killed_mid_study_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with running_cluster(tmp_path / "cluster") as c:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hpsearch",
                "random",
                "--trials",
                "20",
                "--epochs",
                "10",
                "--hidden",
                "100,100",
                "--backend",
                "dask",
                "--scheduler",
                c.address,
                "--confirm",
                "0",
                "--name",
                "lost",
                "--quiet",
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        log = tmp_path / "studies" / "lost" / "trials.jsonl"
        try:
            end = time.monotonic() + HANG
            while (not log.exists() or log.read_bytes().count(b"\n") < 2) and proc.poll() is None:
                assert time.monotonic() < end, "no trial finished"
                time.sleep(0.05)
            c.scheduler.kill()
            _, err = proc.communicate(timeout=HANG)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    assert proc.returncode == 2, err
    assert err.strip().splitlines() == [
        "hpsearch: error: lost the connection to the dask scheduler; the finished "
        "trials are saved: run the same study again to resume it"
    ], err
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) >= 2 and all(r["state"] == "COMPLETE" for r in records)
