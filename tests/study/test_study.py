"""Study: parallel runs that reproduce, the study folder, resume, failures as outcomes."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest

import hpsearch
from hpsearch import LogUniform, SearchSpace, Settings, Study, StudyError, TrainConfig, TrialState
from hpsearch.builtin.objective import train_trial
from hpsearch.space.search_space import default_space


def _study(tmp_path, name="s", **kwargs) -> Study:
    # An own objective is given what every study has; the built-in network its settings too.
    if "objective" in kwargs:
        kwargs.setdefault("config", Settings(epochs=3, samples=200))
    kwargs.setdefault("config", TrainConfig(epochs=3, hidden=(20, 20), samples=200))
    kwargs.setdefault("n_trials", 6)
    kwargs.setdefault("seed", 11)
    # The figures are the reports tests' (tests/reports); a study here draws none of them.
    kwargs.setdefault("figures", False)
    return Study(name, directory=tmp_path, progress=False, **kwargs)


def _records(study: Study) -> list[dict]:
    out = []
    for t in study.trials:
        data = t.to_json()
        data.pop("seconds")
        out.append(data)
    return out


def _ranking(study: Study) -> pd.DataFrame:
    return study.ranking().drop(columns=["seconds"])


# ----------------------------------------------------------------------------- reproducibility
def test_one_or_two_workers_give_the_same_ranking(tmp_path):
    one = _study(tmp_path, "one", n_jobs=1)
    one.optimize()
    two = _study(tmp_path, "two", n_jobs=2)
    two.optimize()
    assert len(one.trials) == 6
    pd.testing.assert_frame_equal(_ranking(one), _ranking(two))
    assert _records(one) == _records(two)


def test_worker_processes_and_threads_give_the_same_records(tmp_path):
    processes = _study(tmp_path, "processes", n_jobs=2, backend="loky")
    processes.optimize()
    threads = _study(tmp_path, "threads", n_jobs=2, backend="threading")
    threads.optimize()
    assert len(processes.trials) == 6
    assert _records(processes) == _records(threads)


def test_auto_backend_threads_a_small_study_and_processes_a_large_one(tmp_path):
    # Small: a check run (2 trials, 1 epoch); large: the seed experiment (100 x 50 epochs).
    small = _study(tmp_path, "small", config=TrainConfig(epochs=1), n_trials=2)
    large = _study(tmp_path, "large", config=TrainConfig(epochs=50), n_trials=100)
    assert small._session.backend(2) == "threading"
    assert large._session.backend(100) == "loky"
    # The same small study with more runs (a confirm stage of many repeats) needs processes.
    assert small._session.backend(2000) == "loky"
    # Asked for by name, a backend is what runs.
    assert _study(tmp_path, "asked", config=TrainConfig(epochs=1), backend="loky")._session.backend(
        2
    ) == ("loky")
    # A user's objective: its cost is unknown, and it may use the global np.random.
    own = _study(tmp_path, "own", n_trials=2, objective=lambda trial: 0.5)
    assert own._session.backend(2) == "loky"


def test_best_trial_is_the_top_of_the_ranking(tmp_path):
    study = _study(tmp_path, n_jobs=1)
    df = study.optimize()
    best = study.best_trial
    assert best is not None and best.state is TrialState.COMPLETE
    assert best.val_acc == max(t.val_acc for t in study.trials if t.ok)
    assert int(df.iloc[0]["trial"]) == best.number
    assert list(df["trial"]) == list(study.ranking()["trial"])
    assert sorted(df["trial"]) == list(range(6))


def test_a_trial_result_depends_on_params_and_number_only(tmp_path):
    config = TrainConfig(epochs=3, hidden=(20, 20), samples=200)
    study = _study(tmp_path, n_jobs=2, config=config)
    study.optimize()
    for t in study.trials:
        again = train_trial(config, t.params, study.seed, t.number)
        assert (again.val_acc, again.val_curve, again.loss_curve) == (
            t.val_acc,
            t.val_curve,
            t.loss_curve,
        )


# ----------------------------------------------------------------------------- the study folder
def test_study_folder_holds_definition_log_and_reports(tmp_path):
    study = _study(tmp_path, n_jobs=1, seed=7, figures=True)
    study.optimize()
    folder = tmp_path / "s"
    definition = json.loads((folder / "study.json").read_text())
    text = json.dumps(definition)
    assert hpsearch.__version__ in text
    assert definition["seed"] == 7
    assert "random" in text
    assert "weight_decay" in text and "lr" in text  # the space
    assert '"epochs": 3' in text  # the training settings
    lines = (folder / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 6
    assert sorted(json.loads(line)["number"] for line in lines) == list(range(6))
    csv = pd.read_csv(folder / "ranking.csv")
    assert len(csv) == 6
    assert (folder / "best_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_existing_name_without_resume_is_refused(tmp_path, snapshot):
    _study(tmp_path, n_jobs=1).optimize()
    before = snapshot(tmp_path)
    with pytest.raises(StudyError, match="s"):
        _study(tmp_path, n_jobs=1)
    assert snapshot(tmp_path) == before


def test_load_opens_the_stored_study(tmp_path):
    study = _study(tmp_path, n_jobs=1)
    study.optimize()
    loaded = Study.load("s", tmp_path, progress=False)
    assert loaded.space == study.space
    assert loaded.config == study.config
    assert loaded.seed == study.seed
    assert _records(loaded) == _records(study)
    pd.testing.assert_frame_equal(_ranking(loaded), _ranking(study))
    assert loaded.best_trial == study.best_trial


def test_load_of_a_missing_study_is_a_study_error(tmp_path):
    with pytest.raises(StudyError):
        Study.load("nothing", tmp_path)
    assert not (tmp_path / "nothing").exists()


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden"])
def test_a_bad_name_is_refused_before_anything_is_written(tmp_path, name):
    with pytest.raises(ValueError):
        _study(tmp_path, name)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- resume
def test_resume_runs_the_remaining_trials_and_equals_an_uninterrupted_run(tmp_path):
    first = _study(tmp_path, "r", n_trials=6, n_jobs=2)
    first.optimize()
    assert len(first.trials) == 6
    resumed = _study(tmp_path, "r", n_trials=10, n_jobs=2, resume=True)
    assert len(resumed.trials) == 6
    resumed.optimize()
    straight = _study(tmp_path, "straight", n_trials=10, n_jobs=2)
    straight.optimize()
    assert [t.number for t in resumed.trials] == list(range(10))
    assert _records(resumed) == _records(straight)
    pd.testing.assert_frame_equal(_ranking(resumed), _ranking(straight))
    lines = (tmp_path / "r" / "trials.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["number"] for line in lines) == list(range(10))
    assert len(pd.read_csv(tmp_path / "r" / "ranking.csv")) == 10


@pytest.mark.parametrize("strategy", ["random", "grid"])
def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path, strategy):
    """A crash leaves some trials in the log; the same study run again fills in the rest."""
    straight = _study(tmp_path, "straight", strategy=strategy, n_trials=9, n_jobs=2)
    straight.optimize()
    shutil.copytree(tmp_path / "straight", tmp_path / "crashed")
    log = tmp_path / "crashed" / "trials.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line)["number"] in (0, 2, 3, 7)]
    log.write_text("".join(kept))
    resumed = _study(tmp_path, "crashed", strategy=strategy, n_trials=9, n_jobs=2, resume=True)
    assert [t.number for t in resumed.trials] == [0, 2, 3, 7]
    resumed.optimize()
    assert _records(resumed) == _records(straight)
    numbers = [json.loads(line)["number"] for line in log.read_text().splitlines()]
    assert sorted(numbers) == list(range(9))


def test_bayes_resume_completes_every_trial_once(tmp_path):
    kwargs = dict(
        strategy="bayes",
        n_trials=8,
        n_jobs=1,
        strategy_options={"batch_size": 2, "n_initial_points": 3},
    )
    first = _study(tmp_path, "b", **kwargs)
    first.optimize()
    log = tmp_path / "b" / "trials.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:5]))
    resumed = _study(tmp_path, "b", resume=True, **kwargs)
    resumed.optimize()
    numbers = [json.loads(line)["number"] for line in log.read_text().splitlines()]
    assert sorted(numbers) == list(range(8))
    assert _records(resumed)[:5] == _records(first)[:5]


@pytest.mark.parametrize(
    "change",
    [
        {"config": TrainConfig(epochs=4, hidden=(20, 20), samples=200)},
        {"seed": 12},
        {"strategy": "bayes"},
        {"space": default_space().with_dimensions({"lr": LogUniform(1e-5, 1e-1)})},
    ],
    ids=["config", "seed", "strategy", "space"],
)
def test_a_resume_with_a_different_definition_is_refused_and_changes_nothing(
    tmp_path, snapshot, change
):
    _study(tmp_path, n_jobs=1).optimize()
    before = snapshot(tmp_path)
    with pytest.raises(StudyError):
        study = _study(tmp_path, n_jobs=1, resume=True, **change)
        study.optimize()
    assert snapshot(tmp_path) == before


def test_a_finished_study_resumed_runs_nothing_more(tmp_path):
    study = _study(tmp_path, n_jobs=1)
    study.optimize()
    log = (tmp_path / "s" / "trials.jsonl").read_bytes()
    again = _study(tmp_path, n_jobs=1, resume=True)
    again.optimize()
    assert (tmp_path / "s" / "trials.jsonl").read_bytes() == log
    assert _records(again) == _records(study)


# ------------------------------------------------------------------------- failures are outcomes
@pytest.mark.parametrize(
    "strategy,seed", [("random", 1), ("bayes", 3)]
)  # seeds whose trials diverge
def test_diverged_trials_are_ranked_last_and_leave_the_best_unaffected(tmp_path, strategy, seed):
    # The seed experiment's deep net (6 x 100) diverges for lr of a few units.
    config = TrainConfig(epochs=3, hidden=(100,) * 6, samples=200)
    space = SearchSpace({"lr": LogUniform(1e-3, 10.0)})
    options = {"batch_size": 4, "n_initial_points": 6} if strategy == "bayes" else None
    study = _study(
        tmp_path,
        strategy=strategy,
        space=space,
        config=config,
        n_trials=12,
        n_jobs=2,
        seed=seed,
        strategy_options=options,
    )
    df = study.optimize()
    states = [t.state for t in study.trials]
    assert len(states) == 12
    assert TrialState.DIVERGED in states, (
        "precondition: lr up to 10 should make some trials diverge"
    )
    assert TrialState.COMPLETE in states
    assert set(states) <= {TrialState.COMPLETE, TrialState.DIVERGED}
    for t in study.trials:
        assert math.isfinite(t.params["lr"]) and 1e-3 <= t.params["lr"] <= 10.0
        if t.state is TrialState.DIVERGED:
            assert "epoch" in t.error
    # In the ranking (and the CSV) with state and params, after every complete trial.
    csv = pd.read_csv(tmp_path / "s" / "ranking.csv")
    for frame in (df, csv):
        assert len(frame) == 12
        order = list(frame["state"])
        n_complete = order.count("COMPLETE")
        assert order[:n_complete] == ["COMPLETE"] * n_complete
        assert set(order[n_complete:]) == {"DIVERGED"}
        assert frame["lr"].notna().all()
        scored = frame[frame["state"] == "COMPLETE"]
        # No rank for a trial without a score: listed last, marked by its state.
        assert frame["rank"].iloc[n_complete:].isna().all() and scored["rank"].notna().all()
    # The best trial is a complete one, the best of them, exactly as when trained alone.
    best = study.best_trial
    assert best.state is TrialState.COMPLETE
    assert best.val_acc == max(t.val_acc for t in study.trials if t.state is TrialState.COMPLETE)
    assert int(df.iloc[0]["trial"]) == best.number
    alone = train_trial(config, best.params, study.seed, best.number)
    assert alone.val_acc == best.val_acc and alone.val_curve == best.val_curve


def test_an_exception_in_a_trial_is_failed_with_its_message_and_the_study_goes_on(
    tmp_path, monkeypatch
):
    import hpsearch.builtin.objective as objective

    real_net_for = objective.net_for

    def net_for(config, *args):
        if config.lr > 1e-2:
            raise RuntimeError(f"boom at lr={config.lr}")
        return real_net_for(config, *args)

    # The threading backend runs trials in this process, where the patch applies.
    monkeypatch.setattr(objective, "net_for", net_for)
    space = SearchSpace({"lr": LogUniform(1e-3, 1e-1)})
    study = _study(
        tmp_path, strategy="grid", space=space, n_trials=3, n_jobs=2, backend="threading"
    )
    df = study.optimize()
    assert len(study.trials) == 3
    for t in study.trials:
        if t.params["lr"] > 1e-2:
            assert t.state is TrialState.FAILED
            assert "boom" in t.error and "RuntimeError" in t.error
        else:
            assert t.state is TrialState.COMPLETE
    assert list(df["state"]) == ["COMPLETE", "COMPLETE", "FAILED"]
    csv = pd.read_csv(tmp_path / "s" / "ranking.csv")
    assert list(csv["state"]) == ["COMPLETE", "COMPLETE", "FAILED"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_trials": 0},
        {"n_trials": -3},
        {"n_jobs": 0},
        {"strategy": "sobol"},
        {"config": TrainConfig(epochs=3, hidden=(20, 20), samples=999_999)},
        {"config": TrainConfig(dataset="nope", epochs=3, hidden=(20, 20), samples=200)},
        {"space": SearchSpace({"no_such_setting": LogUniform(1e-3, 1e-1)})},
    ],
)
def test_bad_arguments_raise_value_error_before_anything_is_written(tmp_path, kwargs):
    # Refused in the constructor, or at the latest when optimize() starts: never after writing.
    with pytest.raises(ValueError):
        _study(tmp_path, **kwargs).optimize()
    assert list(tmp_path.iterdir()) == []


def test_the_batch_check_reads_the_sizes_the_trials_use(tmp_path):
    """A searched batch size is checked at its values, never at the unused fixed default."""
    import warnings

    from hpsearch import Categorical

    config = TrainConfig(samples=100, epochs=3, hidden=(20,))  # 80 training images
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default batch_size=100 is no trial's
        _study(tmp_path, "fits", config=config, space={"batch_size": Categorical([10, 20, 40])})
    # said as the searched value it is (the command line shows no --batch-size for it)
    with pytest.warns(UserWarning, match="searched batch_size 200 exceeds the 80 training images"):
        _study(tmp_path, "too-big", config=config, space={"batch_size": Categorical([10, 200])})
