"""The confirm stage and ``compare`` of a reader's own objective: what the records and the
words say when the function reports less than the built-in network does, or fails."""

from __future__ import annotations

import io
import json
import math
import warnings
from pathlib import Path

import pandas as pd
import pytest

from hpsearch import Settings, Study
from hpsearch.cli.main import main
from hpsearch.records import TrialState
from hpsearch.space.dimensions import Categorical, LogUniform

# A reader's softmax regression, trained with book-style np.random, in a file of their own.
OWN = """\
import numpy as np


def _train(trial, report_zero=False, loss=None, test_curve=False):
    d = trial.data
    W = 0.01 * np.random.randn(d.x_train.shape[1], 10)

    def acc(x, t):
        return float(np.mean(np.argmax(x @ W, axis=1) == t))

    if report_zero:  # the scores before any training
        trial.report(0, train_acc=acc(d.x_train, d.t_train), val_acc=acc(d.x_val, d.t_val))
    for epoch in range(1, trial.epochs + 1):
        for i in range(0, len(d.x_train), 50):
            x, t = d.x_train[i : i + 50], d.t_train[i : i + 50]
            y = np.exp(x @ W - (x @ W).max(axis=1, keepdims=True))
            y /= y.sum(axis=1, keepdims=True)
            y[np.arange(len(t)), t] -= 1
            W -= trial.params["lr"] * x.T @ y / len(t)
        scores = {"train_acc": acc(d.x_train, d.t_train)}
        if len(d.t_val):
            scores["val_acc"] = acc(d.x_val, d.t_val)
        if loss is not None:
            scores["loss"] = loss
        if test_curve and d.x_test is not None:
            scores["test_acc"] = acc(d.x_test, d.t_test)
        trial.report(epoch, **scores)
    out = {"train_acc": acc(d.x_train, d.t_train)}
    if len(d.t_val):
        out["val_acc"] = acc(d.x_val, d.t_val)
    if d.x_test is not None:
        out["test_acc"] = acc(d.x_test, d.t_test)
    return out


def objective(trial):
    return _train(trial)


def refit_breaks(trial):
    if trial.refit:
        raise ValueError("no validation images to stop on")
    return _train(trial)


def nan_loss(trial):
    return _train(trial, loss=float("nan"))


def zero_first(trial):
    return _train(trial, report_zero=True)


def curve_for_b(trial):
    return _train(trial, test_curve=trial.params["opt"] == "b")
"""


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "mynet.py"
    path.write_text(OWN)
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _cli(argv: list[str], capsys) -> tuple[int, str, str, list[str]]:
    """main(argv): its status, stdout, stderr and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err, [str(w.message) for w in caught]


def _search(tmp_path: Path, capsys, function: str, *extra: str) -> Path:
    """A small study of the file's ``function`` on the shipped MNIST images (a test part)."""
    out = tmp_path / "studies"
    status, _, err, _ = _cli(
        [
            "random",
            "--objective",
            f"{_file(tmp_path)}:{function}",
            "--param",
            "lr=log:0.01:1",
            "--param",
            "opt=choice:a,b",
            "--trials",
            "4",
            "--dataset",
            "mnist",
            "--samples",
            "200",
            "--epochs",
            "2",
            "--jobs",
            "1",
            "--quiet",
            "--name",
            "own",
            "--out",
            str(out),
            *extra,
        ],
        capsys,
    )
    assert status == 0, err
    return out


def test_compare_trains_nothing_for_curves_an_own_objective_does_not_report(tmp_path, capsys):
    out = _search(tmp_path, capsys, "objective", "--confirm", "1", "--repeats", "2")
    log = out / "own" / "repeats.jsonl"
    assert len(_lines(log)) == 2
    compare = ["compare", "own", "--by", "opt", "--out", str(out), "--jobs", "1", "--quiet"]
    status, printed, err, caught = _cli(compare, capsys)
    assert status == 0, err
    # The other value's best configuration is trained (2 runs); the confirm run is not made
    # again for a curve the function does not give.
    first = _lines(log)
    assert len(first) == 4
    keys = [(r["number"], r["repeat"], r["refit"]) for r in first]
    assert len(set(keys)) == len(keys)
    said = printed + err
    assert "test_acc" in said and "trial.report" in said and "x_test" in said
    assert "--test-curves" not in said  # the study had none to give: not the remedy
    # Made again: nothing to train, nothing written twice.
    status, _, err, caught = _cli(compare, capsys)
    assert status == 0, err
    assert len(_lines(log)) == 4
    status, _, err, caught = _cli(["report", "own", "--out", str(out)], capsys)
    assert not [w for w in caught if "written twice" in w] and "written twice" not in err


def test_compare_with_test_curves_asked_trains_no_run_again(tmp_path, capsys):
    out = _search(
        tmp_path, capsys, "objective", "--confirm", "4", "--repeats", "2", "--test-curves"
    )
    log = out / "own" / "repeats.jsonl"
    before = (log.read_text(), len(_lines(log)))
    compare = ["compare", "own", "--by", "opt", "--out", str(out), "--jobs", "1", "--quiet"]
    status, printed, err, _ = _cli(compare, capsys)
    assert status == 0, err
    assert log.read_text() == before[0]  # every value's best was confirmed: nothing to train
    lines = [line for line in (printed + err).splitlines() if "test_acc" in line]
    assert lines, printed + err


def test_a_run_made_again_that_brings_no_curve_is_not_written_twice(tmp_path, capsys):
    # Runs of b have a test curve, so compare makes a's again for theirs: they bring none.
    out = _search(tmp_path, capsys, "curve_for_b", "--confirm", "4", "--repeats", "2")
    log = out / "own" / "repeats.jsonl"
    before = _lines(log)
    assert any(r["test_curve"] for r in before) and not all(r["test_curve"] for r in before)
    compare = ["compare", "own", "--by", "opt", "--out", str(out), "--jobs", "1", "--quiet"]
    status, _, err, _ = _cli(compare, capsys)
    assert status == 0, err
    assert _lines(log) == before
    status, _, err, caught = _cli(["report", "own", "--out", str(out)], capsys)
    assert not [w for w in caught if "written twice" in w] and "written twice" not in err


def test_study_compare_returns_the_table_the_command_shows(tmp_path, capsys):
    out = _search(tmp_path, capsys, "objective", "--confirm", "1", "--repeats", "2")
    study = Study.load("own", out, progress=False, figures=False)
    table = study.compare("opt")
    assert isinstance(table, pd.DataFrame)
    status, printed, err, _ = _cli(
        ["compare", "own", "--by", "opt", "--out", str(out), "--format", "csv", "--quiet"], capsys
    )
    assert status == 0, err
    shown = pd.read_csv(io.StringIO(printed))
    assert list(table.columns) == list(shown.columns)
    assert table["opt"].tolist() == shown["opt"].tolist() == ["a", "b"]
    assert table["repeats"].tolist() == shown["repeats"].tolist() == [2, 2]
    assert table["test_mean"].tolist() == pytest.approx(shown["test_mean"].tolist())


def test_failed_refit_runs_show_their_error_on_the_terminal_and_the_page(tmp_path, capsys):
    out = tmp_path / "studies"
    status, printed, err, _ = _cli(
        [
            "random",
            "--objective",
            f"{_file(tmp_path)}:refit_breaks",
            "--param",
            "lr=log:0.01:1",
            "--trials",
            "2",
            "--dataset",
            "digits",
            "--samples",
            "300",
            "--epochs",
            "1",
            "--jobs",
            "1",
            "--quiet",
            "--confirm",
            "1",
            "--repeats",
            "2",
            "--refit",
            "--name",
            "refit",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert status == 0, err
    line = next(x for x in printed.splitlines() if x.startswith("chosen:"))
    refit = line.split(" | refit")[1]
    assert "2 runs FAILED" in refit
    assert "ValueError: no validation images to stop on" in refit
    assert "mynet.py, line" in refit
    page = (out / "refit" / "index.html").read_text()
    assert "ValueError: no validation images to stop on" in page


def test_a_loss_reported_nan_makes_the_trial_diverged(tmp_path):
    study = Study(
        "nan",
        objective=f"{_file(tmp_path)}:nan_loss",
        space={"lr": LogUniform(0.01, 1)},
        n_trials=2,
        config=Settings(dataset="digits", samples=300, epochs=2),
        directory=tmp_path / "studies",
        n_jobs=1,
        confirm=0,
        progress=False,
        figures=False,
    )
    study.optimize()
    assert [t.state for t in study.trials] == [TrialState.DIVERGED] * 2
    assert all("loss" in (t.error or "") and "nan" in (t.error or "") for t in study.trials)
    assert study.best_trial is None


def test_a_report_at_epoch_zero_is_not_an_epoch_trained(tmp_path):
    study = Study(
        "zero",
        objective=f"{_file(tmp_path)}:zero_first",
        space={"lr": LogUniform(0.01, 1), "opt": Categorical(["a"])},
        n_trials=1,
        config=Settings(dataset="digits", samples=300, epochs=3),
        directory=tmp_path / "studies",
        n_jobs=1,
        confirm=1,
        repeats=1,
        progress=False,
        figures=False,
    )
    study.optimize()
    (trial,) = study.trials
    assert trial.state is TrialState.COMPLETE
    assert trial.epochs == 3
    assert len(trial.val_curve) == len(trial.train_curve) == 3
    assert trial.val_curve[-1] == trial.val_acc
    (run,) = study.repeats_done
    assert run.epochs == 3 and len(run.val_curve) == 3
    curves = pd.read_csv(tmp_path / "studies" / "zero" / "curves.csv")
    assert sorted(curves["epoch"].tolist()) == [1, 2, 3]
    assert not math.isnan(curves["val_acc"].iloc[0])
