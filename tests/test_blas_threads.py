"""A trial's numbers do not depend on the caller's BLAS threads.

The layers here are wide enough (100 units) for OpenBLAS to split a product over two threads,
which sums in another order: without the pin inside the trial, these tests fail on a machine
with two cores or more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from hpsearch import Study, TrainConfig
from hpsearch.builtin.objective import train_trial
from hpsearch.builtin.training import Trainer
from hpsearch.execution.blas import one_blas_thread

CONFIG = TrainConfig(epochs=3, hidden=(100, 100), samples=400)
PARAMS = {"lr": 0.01, "weight_decay": 1e-6}


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def _record(result) -> dict:
    data = result.to_json()
    data.pop("seconds")
    return data


@pytest.fixture
def two_blas_threads():
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: BLAS cannot run two threads here")
    with threadpool_limits(limits=2, user_api="blas"):
        if set(_blas_threads()) != {2}:
            pytest.skip(f"the BLAS library would not take two threads: {_blas_threads()}")
        yield


def test_training_runs_on_one_blas_thread_whatever_the_caller_set(two_blas_threads, monkeypatch):
    seen: list[list[int]] = []
    train = Trainer.train

    def spy(self, *args, **kwargs):
        seen.append(_blas_threads())
        return train(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "train", spy)
    train_trial(CONFIG, PARAMS, 0, 3)
    assert seen and all(set(threads) == {1} for threads in seen)
    assert set(_blas_threads()) == {2}  # the caller's setting is given back


@pytest.mark.parametrize("threads", [1, 2])
def test_train_trial_in_this_process_equals_the_study_record(tmp_path, threads):
    study = Study(
        "s", directory=tmp_path, n_trials=2, n_jobs=2, seed=5, config=CONFIG, progress=False
    )
    study.optimize()
    if threads > (os.cpu_count() or 1):
        pytest.skip("one core")
    with threadpool_limits(limits=threads, user_api="blas"):
        for trial in study.trials:
            again = train_trial(CONFIG, trial.params, study.seed, trial.number)
            assert _record(again) == _record(trial)


def test_a_process_whose_environment_asks_for_two_blas_threads_trains_the_same(tmp_path):
    code = (
        "import json, sys; from hpsearch.builtin.config import TrainConfig;"
        " from hpsearch.builtin.objective import train_trial;"
        "r = train_trial(TrainConfig(epochs=3, hidden=(100, 100), samples=400),"
        " {'lr': 0.01, 'weight_decay': 1e-6}, 0, 3).to_json(); r.pop('seconds');"
        "print(json.dumps(r))"
    )
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "2",
        "OMP_NUM_THREADS": "2",
        "MKL_NUM_THREADS": "2",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    with threadpool_limits(limits=1, user_api="blas"):
        expected = _record(train_trial(CONFIG, PARAMS, 0, 3))
    assert json.loads(out.stdout) == json.loads(json.dumps(expected))


def test_concurrent_pins_keep_one_thread_until_the_last_leaves(two_blas_threads):
    inside, release = threading.Event(), threading.Event()
    seen: list[list[int]] = []

    def hold():
        with one_blas_thread():
            inside.set()
            release.wait(5)

    other = threading.Thread(target=hold)
    other.start()
    inside.wait(5)
    with one_blas_thread():
        pass  # this block leaves first; the other still trains
    seen.append(_blas_threads())
    release.set()
    other.join()
    assert [set(threads) for threads in seen] == [{1}]
    assert set(_blas_threads()) == {2}


def test_no_trial_inspects_the_libraries_while_another_thread_imports(monkeypatch):
    # A trial thread inspecting the loaded libraries (a dl_iterate_phdr callback) while the
    # figure warm-up loads an extension module waited forever: while the warm-up holds the
    # lock, a trial uses the controller made before, even though modules were imported since.
    from hpsearch.execution import blas
    from hpsearch.study import session

    with one_blas_thread():  # a controller exists
        pass
    seen = []
    import matplotlib.figure

    figure = matplotlib.figure.Figure

    def watched(*args, **kwargs):
        seen.append(blas.loading_libraries.locked())
        return figure(*args, **kwargs)

    monkeypatch.setattr(matplotlib.figure, "Figure", watched)
    from hpsearch.reports import progress

    monkeypatch.setattr(progress, "_warmed", [])  # as in a process that has drawn no figure
    session._warm_up_figures()
    assert seen == [True] and not blas.loading_libraries.locked()

    def inspect():
        raise AssertionError("the libraries were inspected while another thread imported")

    monkeypatch.setattr(blas.threadpoolctl, "ThreadpoolController", inspect)
    monkeypatch.setitem(sys.modules, "hpsearch_test_new_module", sys)  # an import since
    with blas.loading_libraries:
        done = []
        worker = threading.Thread(target=lambda: done.append(_in_one_blas_thread()))
        worker.start()
        worker.join(60)
        assert done == [True]


def _in_one_blas_thread() -> bool:
    with one_blas_thread():
        return True
