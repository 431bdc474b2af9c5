"""The runner: every trial goes through one trial handle, the built-in network's as a user's.

Here: the built-in network as an objective like any other, the handle's own generator, the
state an objective keeps between rungs, refit runs, early ends it names, and the reports of a
metric other than accuracy (confirmed.csv, curves.csv).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpsearch import LogUniform, Study, TrainConfig, TrialDiverged, TrialTimedOut
from hpsearch.builtin.objective import BUILTIN, NetworkObjective, train_trial
from hpsearch.execution.runner import run_objective, start_trial
from hpsearch.execution.workers import Task
from hpsearch.records import TrialState
from hpsearch.seeding import TRAIN, rng_for
from hpsearch.settings import Settings
from hpsearch.storage.folder import StudyStorage
from hpsearch.trial import ObjectiveState

CONFIG = TrainConfig(epochs=3, samples=200, hidden=(20,))
SPACE = {"lr": LogUniform(1e-2, 1.0)}


def _study(tmp_path: Path, name: str, **kwargs: object) -> Study:
    # An own objective gets what every study has; the built-in network its settings too.
    config = Settings.of(CONFIG) if "objective" in kwargs else CONFIG
    options: dict[str, object] = dict(
        space=SPACE, config=config, n_trials=5, seed=3, confirm=0, progress=False, figures=False
    )
    options.update(kwargs)
    return Study(name, directory=tmp_path / "studies", **options)  # type: ignore[arg-type]


def _file(folder: Path, text: str, name: str = "mine.py") -> str:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return f"{path}:objective"


def test_the_built_in_network_given_as_an_objective_is_the_default_study(tmp_path):
    default = _study(tmp_path, "default", n_jobs=2).optimize()
    # Its network settings are the objective's own; the study is given what every study has.
    network = NetworkObjective(CONFIG)
    own = _study(tmp_path, "own", n_jobs=2, objective=network)
    own = own.optimize()
    columns = ["trial", "lr", "state", "val_acc", "best_val_acc", "train_acc", "epochs"]
    pd.testing.assert_frame_equal(default[columns], own[columns])
    assert default["val_acc"].notna().all()


def test_an_own_objective_given_settings_of_the_network_is_refused_in_one_line(tmp_path):
    with pytest.raises(ValueError, match="config sets hidden: settings of the built-in network"):
        _study(tmp_path, "own", objective=NetworkObjective(CONFIG), config=CONFIG)
    assert not (tmp_path / "studies").exists()


def test_train_trial_is_one_call_of_the_runner_with_the_built_in_objective():
    task = Task(4, {"lr": 0.1})
    via_runner, saved = run_objective(
        NetworkObjective(CONFIG), BUILTIN, "val_acc", Settings.of(CONFIG), 0, task
    )
    direct = train_trial(CONFIG, {"lr": 0.1}, 0, 4)
    assert saved is None and via_runner.state is TrialState.COMPLETE
    assert via_runner.val_curve == direct.val_curve and via_runner.loss_curve == direct.loss_curve
    assert len(direct.val_curve) == CONFIG.epochs


def test_the_handle_offers_the_trials_own_generator_from_the_study_seed():
    first = start_trial(Settings.of(CONFIG), 7, Task(2, {}))
    again = start_trial(Settings.of(CONFIG), 7, Task(2, {}))
    other = start_trial(Settings.of(CONFIG), 7, Task(3, {}))
    draws = first.rng.integers(1 << 30, size=4)
    assert first.rng is first.rng  # one stream per call, not a new one per access
    assert list(draws) == list(again.rng.integers(1 << 30, size=4))
    assert list(draws) == list(rng_for(7, 2, TRAIN).integers(1 << 30, size=4))
    assert list(draws) != list(other.rng.integers(1 << 30, size=4))


RESUMABLE = """
import json
import numpy as np

LOG = {log!r}


def objective(trial):
    state = trial.checkpoint or {{"w": np.zeros(2), "done": 0}}
    w, done = np.array(state["w"]), state["done"]
    with open(LOG, "a") as fh:
        fh.write(json.dumps([trial.number, done, trial.epochs]) + "\\n")
    for epoch in range(done, trial.epochs):
        w += trial.params["lr"] * (1 + np.random.rand(2))  # unseeded, as a reader's code draws
        trial.report(epoch, val_acc=float(np.tanh(w.sum())))
    trial.set_checkpoint({{"w": w, "done": trial.epochs}})
    return float(np.tanh(w.sum()))
"""


def test_an_objective_keeps_its_state_between_rungs_and_trains_only_the_new_epochs(tmp_path):
    rankings = []
    for jobs in (1, 2):
        log = tmp_path / f"calls{jobs}.jsonl"
        ref = _file(tmp_path, RESUMABLE.format(log=str(log)), name=f"resumable{jobs}.py")
        options = dict(config=TrainConfig(epochs=9, samples=200), n_trials=9, n_jobs=jobs)
        study = _study(
            tmp_path, f"rungs{jobs}", objective=ref, prune="halving", min_epochs=1, **options
        )
        df = study.optimize()
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        # Rungs at 1, 3 and 9 epochs: a promoted trial starts where its last rung stopped.
        continued = sorted((done, epochs) for _, done, epochs in calls if done > 0)
        assert continued == [(1, 3)] * 3 + [(3, 9)]
        trained = sum(epochs - done for _, done, epochs in calls)
        assert trained == 9 * 1 + 3 * 2 + 1 * 6  # not 9 + 3 * 3 + 9, as retraining would
        # The curves go on across rungs: as long as the epochs trained, whatever the rung.
        assert all(len(t.val_curve) == t.epochs for t in study.trials)
        assert df.iloc[0]["epochs"] == 9 and df.iloc[0]["state"] == "COMPLETE"
        rankings.append(df.drop(columns=["seconds"]))
    pd.testing.assert_frame_equal(*rankings)


def test_a_kept_state_is_stored_without_pickle_and_read_back_whole(tmp_path):
    folder = StudyStorage(tmp_path, "s")
    kept = ObjectiveState(5, {"w": np.arange(3.0), "step": 7, "name": "adam"}, ({"epoch": 0.0},))
    folder.save_checkpoint(kept)
    back = folder.load_checkpoint(5)
    assert isinstance(back, ObjectiveState) and back.number == 5
    assert back.state["step"] == 7 and back.state["name"] == "adam"
    np.testing.assert_array_equal(back.state["w"], np.arange(3.0))
    assert back.reports == ({"epoch": 0.0},)


def test_a_state_that_cannot_be_stored_fails_its_trial_saying_why(tmp_path):
    ref = _file(
        tmp_path,
        """
        def objective(trial):
            trial.set_checkpoint({"net": object()})
            return 0.5
        """,
    )
    study = _study(tmp_path, "unstorable", objective=ref, n_trials=2)
    study.optimize()
    for t in study.trials:
        assert t.state is TrialState.FAILED
        assert "set_checkpoint" in t.error and "JSON" in t.error


def test_a_refit_run_of_an_own_objective_trains_on_training_and_validation_images(tmp_path):
    log = tmp_path / "refit.jsonl"
    ref = _file(
        tmp_path,
        f"""
        import json

        def objective(trial):
            d = trial.data
            with open({str(log)!r}, "a") as fh:
                fh.write(json.dumps([trial.refit, len(d.x_train), len(d.x_val)]) + "\\n")
            out = {{"train_acc": 0.9, "test_acc": 0.8 if d.x_test is not None else 0.0}}
            if len(d.x_val):
                out["val_acc"] = 0.5 + trial.params["lr"] / 10
            return out
        """,
    )
    study = _study(tmp_path, "refit", objective=ref, n_trials=3, confirm=1, repeats=2, refit=True)
    study.optimize()
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    search = {tuple(c) for c in calls if not c[0]}
    refits = [c for c in calls if c[0]]
    assert len(refits) == 2
    ((_, n_train, n_val),) = search
    assert all(c[1:] == [n_train + n_val, 0] for c in refits)
    runs = [r for r in study.repeats_done if r.refit]
    assert [r.state for r in runs] == [TrialState.COMPLETE] * 2
    assert all(r.test_acc == 0.8 and r.val_acc is None and r.n_val == 0 for r in runs)


def test_an_objective_ends_a_trial_diverged_or_timed_out_keeping_its_epochs(tmp_path):
    ref = _file(
        tmp_path,
        """
        from hpsearch import TrialDiverged, TrialTimedOut

        def objective(trial):
            for epoch in range(2):
                trial.report(epoch, val_acc=0.25 * (epoch + 1))
            if trial.number == 0:
                raise TrialDiverged("loss became nan at epoch 3")
            if trial.number == 1:
                raise TrialTimedOut("out of time after epoch 2", train_acc=0.75)
            return 0.5
        """,
    )
    study = _study(tmp_path, "ended", objective=ref, n_trials=3)
    study.optimize()
    diverged, late, done = sorted(study.trials, key=lambda t: t.number)
    assert diverged.state is TrialState.DIVERGED and diverged.error == "loss became nan at epoch 3"
    assert diverged.epochs == 2 and diverged.val_acc == 0.5 and diverged.val_curve == (0.25, 0.5)
    assert late.state is TrialState.TIMEOUT and late.error == "out of time after epoch 2"
    assert late.train_acc == 0.75 and late.epochs == 2
    assert done.state is TrialState.COMPLETE
    assert issubclass(TrialDiverged, Exception) and issubclass(TrialTimedOut, Exception)


LOSS = """
import numpy as np


def objective(trial):
    lr = trial.params["lr"]
    for epoch in range(trial.epochs):
        trial.report(epoch, val_loss=abs(np.log10(lr) + 1) + 1.0 / (epoch + 1))
    loss = abs(np.log10(lr) + 1) + 1.0 / trial.epochs + 0.01 * np.random.rand()
    out = {"val_loss": loss}
    if trial.data.x_test is not None:
        out["test_loss"] = loss + 0.05
    return out
"""


def test_a_minimised_metric_has_its_columns_in_confirmed_and_curves_csv(tmp_path):
    ref = _file(tmp_path, LOSS)
    study = _study(
        tmp_path,
        "loss",
        objective=ref,
        metric="val_loss",
        direction="minimize",
        n_trials=6,
        confirm=3,
        repeats=2,
    )
    study.optimize()
    folder = tmp_path / "studies" / "loss"
    confirmed = pd.read_csv(folder / "confirmed.csv")
    for column in ("val_loss_mean", "val_loss_sd", "test_loss_mean", "val_loss_r0", "val_loss_r1"):
        assert confirmed[column].notna().all(), column
    assert list(confirmed["val_loss_mean"]) == sorted(confirmed["val_loss_mean"])
    means = {
        n: np.mean([r.metrics["val_loss"] for r in study.repeats_done if r.number == n])
        for n in confirmed["trial"]
    }
    assert confirmed["val_loss_mean"].tolist() == pytest.approx(
        [means[n] for n in confirmed["trial"]]
    )
    curves = pd.read_csv(folder / "curves.csv")
    assert "val_loss" in curves.columns
    first = curves[curves["trial"] == 0]
    lr = study.journal.trials[0].params["lr"]
    expected = [abs(np.log10(lr) + 1) + 1.0 / e for e in (1, 2, 3)]
    assert first["val_loss"].tolist() == pytest.approx(expected)
    page = (folder / "index.html").read_text()
    assert "val_loss" in page


def _readme_style(trial):
    """The checkpoint example of docs/own-network.md, with book-style global np.random batches."""
    d = trial.data
    state = trial.checkpoint or {"W": 0.01 * np.random.randn(d.x_train.shape[1], 10), "epoch": 0}
    W = np.array(state["W"])
    for epoch in range(state["epoch"], trial.epochs):
        for _ in range(3):
            batch = np.random.choice(len(d.x_train), 20)
            x, t = d.x_train[batch], d.t_train[batch]
            y = np.exp(x @ W - (x @ W).max(axis=1, keepdims=True))
            y /= y.sum(axis=1, keepdims=True)
            y[np.arange(len(t)), t] -= 1
            W -= trial.params["lr"] * x.T @ y / len(t)
        trial.report(epoch + 1, val_acc=float(((d.x_val @ W).argmax(axis=1) == d.t_val).mean()))
    trial.set_checkpoint({"W": W, "epoch": trial.epochs})
    return float(((d.x_val @ W).argmax(axis=1) == d.t_val).mean())


def test_a_trial_continued_from_its_checkpoint_draws_what_an_unbroken_run_draws(tmp_path):
    settings = Settings(epochs=6, samples=300)
    params = {"lr": 0.5}
    unbroken, _ = run_objective(
        _readme_style, "f.py:objective", "val_acc", settings, 1, Task(0, params)
    )
    first, kept = run_objective(
        _readme_style, "f.py:objective", "val_acc", settings, 1, Task(0, params, until=2)
    )
    assert first.state is TrialState.PRUNED and kept is not None
    # Stored in the study folder and read back, as a study between rungs does.
    folder = StudyStorage(tmp_path, "continued")
    folder.save_checkpoint(kept)
    for until in (4, 6):
        kept = folder.load_checkpoint(0)
        record, kept = run_objective(
            _readme_style,
            "f.py:objective",
            "val_acc",
            settings,
            1,
            Task(0, params, until=until, checkpoint=kept),
        )
        if kept is not None:
            folder.save_checkpoint(kept)
    assert record.state is TrialState.COMPLETE
    assert record.val_curve == unbroken.val_curve
    assert record.val_acc == unbroken.val_acc
