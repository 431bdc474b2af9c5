"""The chosen model: saved in the book's names with its settings, loaded back in one call."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch import Study, TrainConfig
from hpsearch.builtin.model import MODEL, load_model, model_settings, save_model
from hpsearch.builtin.objective import train_repeat
from hpsearch.data.split import load_test

CONFIG = TrainConfig(epochs=3, hidden=(30, 20), samples=200)


def _accuracy(net, x, t) -> float:
    return float(np.count_nonzero(net.predict(x).argmax(axis=1) == t)) / len(t)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_a_saved_model_loads_back_with_the_same_predictions(tmp_path, batchnorm):
    config = TrainConfig(epochs=2, hidden=(30, 20), samples=200, batchnorm=batchnorm)
    run, net = train_repeat(config, {"lr": 0.05}, 0, 1, 0)
    path = save_model(tmp_path / "m.npz", net, config.with_params({"lr": 0.05}), trial=1)
    names = set(np.load(path).files)
    assert {"W1", "b1", "W2", "b2", "W3", "b3", "__settings__"} <= names
    assert ({"gamma1", "beta1", "gamma2", "beta2"} <= names) == batchnorm
    loaded = load_model(path)
    x, t = load_test("mnist", 200)
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
    assert _accuracy(loaded, x, t) == run.test_acc
    assert model_settings(path)["config"]["lr"] == 0.05 and model_settings(path)["trial"] == 1


def test_not_a_model_is_one_clear_error(tmp_path):
    np.savez(tmp_path / "other.npz", W1=np.zeros(3))
    with pytest.raises(ValueError, match="not a saved hpsearch model"):
        load_model(tmp_path / "other.npz")


@pytest.mark.parametrize("refit", [False, True])
def test_a_study_saves_its_chosen_model(tmp_path, refit):
    study = Study(
        "s",
        directory=tmp_path,
        n_trials=4,
        seed=2,
        config=CONFIG,
        confirm=2,
        repeats=2,
        refit=refit,
        progress=False,
    )
    study.optimize()
    chosen = study.chosen_trial
    path = tmp_path / "s" / MODEL
    assert study.report_paths["model"] == path
    settings = model_settings(path)
    assert (settings["trial"], settings["repeat"], settings["refit"]) == (chosen.number, 0, refit)
    run = next(
        r for r in study.repeats_done if (r.number, r.repeat, r.refit) == (chosen.number, 0, refit)
    )
    x, t = load_test("mnist", CONFIG.samples)
    assert _accuracy(load_model(path), x, t) == run.test_acc
    assert TrainConfig.from_json(settings["config"]) == study.best_config
