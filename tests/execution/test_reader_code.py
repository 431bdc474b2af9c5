"""A reader's own code runs in the workers as it runs under ``python file.py``.

The framework below is written as the book's readers write theirs: functions found by name
(``globals()``, ``eval``), module-level resources and data, unseeded ``np.random``.
"""

from __future__ import annotations

import functools
import json
import os
import pickle
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pandas as pd
import pytest

from hpsearch import LogUniform, Study
from hpsearch.exceptions import ObjectiveError
from hpsearch.execution.objective import load_objective, portable
from hpsearch.settings import Settings

SETTINGS = Settings(epochs=2, samples=200)
SPACE = {"lr": LogUniform(1e-2, 1.0)}

FRAMEWORK = """
import os
import threading
import warnings

import numpy as np

LOCK = threading.Lock()                 # a resource no pickle can take
SINK = open(os.devnull, "w")            # an open file
TABLE = np.zeros((2000, 1000))          # module-level data (16 MB)
IMPORTS = None  # a test that counts the imports sets a path here
if IMPORTS:
    with open(IMPORTS, "a") as fh:
        fh.write(f"{os.getpid()}\\n")


def affine_propagation(W, x):
    return x @ W


def affine_back(W, x, dy):
    return x.T @ dy


def create_model(n_in):
    return {"layers": ["affine"], "W": 0.01 * np.random.randn(n_in, 10)}


def learn(model, x, t, lr):
    for name in model["layers"]:
        y = globals()[name + "_propagation"](model["W"], x)
    y = np.exp(y - y.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    y[np.arange(len(t)), t] -= 1
    for name in model["layers"]:
        model["W"] -= lr * eval(name + "_back")(model["W"], x, y / len(t))


def objective(trial, hidden=None):
    d = trial.data
    with LOCK:
        print("training", file=SINK)
    model = create_model(d.x_train.shape[1])
    for epoch in range(trial.epochs):
        batch = np.random.choice(len(d.x_train), 50)
        learn(model, d.x_train[batch], d.t_train[batch], trial.params["lr"])
        acc = float((affine_propagation(model["W"], d.x_val).argmax(axis=1) == d.t_val).mean())
        trial.report(epoch, val_acc=acc)
    if trial.params["lr"] > 2:
        warnings.warn("lr is large")
    if hidden == -1:
        raise ValueError("no such layer")
    return acc + (0 if hidden is None else 0 * hidden)


class Net:
    def __init__(self, hidden):
        self.hidden = hidden

    def __call__(self, trial):
        return objective(trial, self.hidden)

    def fit(self, trial):
        return objective(trial, self.hidden)
"""


def _write(folder: Path, name: str = "framework.py", imports: Path | None = None) -> Path:
    # Paths go into the file's text, never through the environment: a reused worker process
    # keeps the environment it started with.
    path = folder / name
    text = (
        FRAMEWORK.replace("IMPORTS = None", f"IMPORTS = {str(imports)!r}") if imports else FRAMEWORK
    )
    path.write_text(textwrap.dedent(text))
    return path


def _study(tmp_path: Path, name: str, objective: object, **kwargs: object) -> Study:
    options: dict[str, object] = dict(
        space=SPACE, config=SETTINGS, n_trials=4, seed=5, confirm=0, progress=False, figures=False
    )
    options.update(kwargs)
    return Study(name, objective=objective, directory=tmp_path / "studies", **options)  # type: ignore[arg-type]


def _states(tmp_path: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(tmp_path / "studies" / name / "ranking.csv")


def test_a_framework_that_finds_its_functions_by_name_trains_in_the_workers(tmp_path):
    imports = tmp_path / "imports.txt"
    ref = f"{_write(tmp_path, imports=imports)}:objective"
    for jobs in (1, 2):
        _study(tmp_path, f"jobs{jobs}", ref, n_jobs=jobs, n_trials=6).optimize()
        ranking = _states(tmp_path, f"jobs{jobs}")
        assert (ranking["state"] == "COMPLETE").all(), ranking["error"].tolist()
    one, two = (_states(tmp_path, f"jobs{j}").drop(columns="seconds") for j in (1, 2))
    pd.testing.assert_frame_equal(one, two)
    # Each worker process imported the file once, however many trials it ran.
    pids = imports.read_text().split()
    assert len(pids) == len(set(pids)), f"a worker imported the file twice: {pids}"
    assert len(pids) < 12


def test_a_failure_and_a_warning_name_the_file_and_line(tmp_path):
    path = _write(tmp_path)
    fn = functools.partial(load_objective(f"{path}:objective"), hidden=-1)
    _study(tmp_path, "fails", fn, n_jobs=2, n_trials=2).optimize()
    errors = _states(tmp_path, "fails")["error"].tolist()
    line = FRAMEWORK.splitlines().index('        raise ValueError("no such layer")') + 1
    assert all(f"framework.py, line {line}" in e for e in errors), errors


def test_partials_closures_lambdas_instances_and_methods_are_objectives(tmp_path):
    path = _write(tmp_path)
    objective = load_objective(f"{path}:objective")
    net = load_objective(f"{path}:Net")
    offset = 0.0

    def closure(trial):
        return objective(trial) + offset

    for name, fn in {
        "partial": functools.partial(objective, hidden=30),
        "closure": closure,
        "lambda": lambda trial: objective(trial, 3),
        "instance": net(30),
        "method": net(30).fit,
    }.items():
        _study(tmp_path, name, fn, n_jobs=2).optimize()
        ranking = _states(tmp_path, name)
        assert (ranking["state"] == "COMPLETE").all(), (name, ranking["error"].tolist())
    scores = {n: _states(tmp_path, n)["val_acc"].tolist() for n in ("partial", "instance")}
    assert scores["partial"] == scores["instance"]


@pytest.mark.parametrize("kind", ["closure", "lambda"])
def test_a_closure_or_lambda_over_a_file_objective_runs_on_fresh_workers(tmp_path, kind):
    """A closure or a lambda travels by value, the file's function it calls by reference: each
    worker imports that file, even a fresh one that no earlier study sent it to."""
    from hpsearch.execution.pool import shutdown

    objective = load_objective(f"{_write(tmp_path, 'fresh_net.py')}:objective")

    def closure(trial):
        return objective(trial)

    fn = closure if kind == "closure" else lambda trial: objective(trial)
    shutdown()  # new worker processes: none has imported the file for an earlier study
    _study(tmp_path, kind, fn, n_jobs=2).optimize()
    ranking = _states(tmp_path, kind)
    assert (ranking["state"] == "COMPLETE").all(), ranking["error"].tolist()


def test_the_file_travels_as_its_text_to_a_worker_that_cannot_read_it(tmp_path):
    path = _write(tmp_path)
    pickled = pickle.dumps(portable(load_objective(f"{path}:objective")))
    os.rename(path, tmp_path / "gone.py")
    line = FRAMEWORK.splitlines().index('        warnings.warn("lr is large")') + 1
    probe = textwrap.dedent(
        f"""
        import pickle, sys, warnings
        from hpsearch.execution.runner import start_trial
        from hpsearch.execution.workers import Task
        from hpsearch.settings import Settings
        fn = pickle.loads({pickled!r})
        trial = start_trial(Settings(epochs=1, samples=100), 0, Task(0, {{"lr": 3.0}}))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            fn(trial)
        print(seen[0].filename, seen[0].lineno)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(path), str(line)]


def test_a_main_script_calling_into_its_own_module_runs_on_workers(tmp_path):
    _write(tmp_path)
    script = tmp_path / "tune.py"
    script.write_text(
        textwrap.dedent(
            """
            import framework
            from hpsearch import LogUniform, Settings, Study

            def objective(trial):
                return framework.objective(trial, hidden=10)

            if __name__ == "__main__":
                study = Study("main", objective=objective, space={"lr": LogUniform(1e-2, 1.0)},
                              config=Settings(epochs=2, samples=200), n_trials=4, confirm=0,
                              n_jobs=2, progress=False, figures=False, directory="studies")
                study.optimize()
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert out.returncode == 0, out.stderr
    ranking = _states(tmp_path, "main")
    assert (ranking["state"] == "COMPLETE").all(), ranking["error"].tolist()


def test_a_closure_holding_a_lock_is_one_line_and_nothing_written(tmp_path):
    lock = threading.Lock()

    def objective(trial):
        with lock:
            return 0.5

    study = _study(tmp_path, "locked", objective, n_jobs=2)
    with pytest.raises(ObjectiveError, match="cannot be sent to the worker processes.*lock"):
        study.optimize()
    assert not (tmp_path / "studies" / "locked").exists()


PARAMS_SEEN = """
import json

LOG = "LOG_PATH"


def objective(trial):
    with open(LOG, "a") as fh:
        fh.write(json.dumps(trial.params) + "\\n")
    return 0.1 * trial.params["n"] + trial.params["lr"] / 100
"""


def _seen(path: Path) -> list[dict[str, object]]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines()]


def test_set_gives_the_function_fixed_values_by_any_name_shown_as_settings(tmp_path):
    from hpsearch.cli.main import main

    log = tmp_path / "params.jsonl"
    file = tmp_path / "fixed.py"
    file.write_text(PARAMS_SEEN.replace("LOG_PATH", str(log)))
    out = tmp_path / "studies"
    argv = ["random", "--objective", f"{file}:objective", "--param", "lr=log:1e-2:1"]
    argv += ["--set", "n=4", "--set", "act=relu", "--set", "epochs=2", "--samples", "200"]
    argv += ["--trials", "3", "--confirm", "0", "--jobs", "1", "--name", "s", "--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    seen = _seen(log)
    assert len(seen) == 3 and all(p["n"] == 4 and p["act"] == "relu" for p in seen)
    assert len({p["lr"] for p in seen}) == 3
    ranking = pd.read_csv(out / "s" / "ranking.csv")
    assert "n" not in ranking.columns and "act" not in ranking.columns and "lr" in ranking
    page = (out / "s" / "index.html").read_text()
    assert "fixed: n" in page and "fixed: act" in page
    # The same values from Python, as a Study argument.
    log.unlink()
    study = _study(
        tmp_path, "py", f"{file}:objective", fixed={"n": 4, "act": "relu"}, n_trials=3, n_jobs=1
    )
    study.optimize()
    assert all(p["n"] == 4 for p in _seen(log))
    assert study.settings.fixed == {"n": 4, "act": "relu"}


def test_a_fixed_value_that_is_searched_too_or_given_to_the_network_is_refused(tmp_path):
    file = tmp_path / "fixed.py"
    file.write_text(PARAMS_SEEN)
    with pytest.raises(ValueError, match="lr: both fixed and searched"):
        _study(tmp_path, "both", f"{file}:objective", fixed={"lr": 0.1})
    with pytest.raises(ValueError, match="own objective"):
        Study("net", fixed={"n": 4}, directory=tmp_path / "studies")
    assert not (tmp_path / "studies").exists()


def test_threads_are_refused_for_an_own_objective_in_one_line(tmp_path, capsys):
    from hpsearch.cli.main import main

    ref = f"{_write(tmp_path)}:objective"
    with pytest.raises(ValueError, match="threading.*np.random"):
        _study(tmp_path, "threads", ref, backend="threading", n_jobs=2)
    out = tmp_path / "cli"
    argv = ["random", "--objective", ref, "--param", "lr=log:1e-2:1", "--backend", "threading"]
    assert main([*argv, "--out", str(out), "--name", "t"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "np.random" in err[0]
    assert not (tmp_path / "studies").exists() and not out.exists()


def test_a_changed_objective_file_is_said_before_training_and_marked_when_allowed(tmp_path, capsys):
    from hpsearch.cli.main import main

    file = tmp_path / "mynet.py"
    file.write_text("def objective(trial):\n    return trial.params['lr'] / 2\n")
    out = tmp_path / "studies"
    argv = ["random", "--objective", f"{file}:objective", "--param", "lr=log:1e-2:1"]
    argv += ["--epochs", "1", "--samples", "100", "--confirm", "0", "--jobs", "1"]
    argv += ["--name", "s", "--out", str(out), "--quiet"]
    assert main([*argv, "--trials", "3"]) == 0
    log = out / "s" / "trials.jsonl"
    before = log.read_text()
    file.write_text("def objective(trial):\n    return trial.params['lr'] / 4\n")
    capsys.readouterr()
    # A resume with the edited file: one line, nothing trained.
    assert main([*argv, "--trials", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "changed" in err[0] and "--allow-changed-code" in err[0], err
    assert log.read_text() == before
    # The same for confirm and compare, which train too.
    assert main(["confirm", "s", "--out", str(out), "--confirm", "1", "--repeats", "1"]) == 2
    assert "changed" in capsys.readouterr().err and log.read_text() == before
    # Told to go on: it trains, and the change is marked in the definition and on the page.
    assert main([*argv, "--trials", "5", "--allow-changed-code"]) == 0
    definition = json.loads((out / "s" / "study.json").read_text())
    (change,) = definition["code_changes"]
    assert change["trials"] == 3 and change["from"] != change["to"] == definition["code"]
    assert "code changed" in (out / "s" / "index.html").read_text()
    # The new code is the study's now: a resume with it goes on in silence.
    assert main([*argv, "--trials", "6"]) == 0
