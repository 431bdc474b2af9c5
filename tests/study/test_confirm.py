"""The confirm stage: fresh seeds, test scores that choose nothing, identical anywhere,
resumable."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from hpsearch import Study, TrainConfig
from hpsearch.builtin.objective import train_repeat, train_trial
from hpsearch.records import RepeatResult, TrialResult, TrialState
from hpsearch.study.confirm import candidates, choose, plan

CONFIG = TrainConfig(epochs=3, hidden=(20, 20), samples=200)


def _trial(number: int, val: float | None, **params) -> TrialResult:
    state = TrialState.COMPLETE if val is not None else TrialState.FAILED
    return TrialResult(number, params or {"lr": 0.01 * (number + 1)}, state, val_acc=val)


def _run(
    number: int, repeat: int, val: float, test: float = 0.5, refit: bool = False
) -> RepeatResult:
    return RepeatResult(
        number, repeat, {"lr": 0.1}, TrialState.COMPLETE, val_acc=val, test_acc=test, refit=refit
    )


def _records(runs) -> list[dict]:
    out = []
    for r in runs:
        data = r.to_json()
        data.pop("seconds")
        out.append(data)
    return out


# ----------------------------------------------------------------------------- choosing
def test_candidates_are_the_top_distinct_configurations_best_first():
    trials = [
        _trial(0, 0.5),
        _trial(1, 0.7, lr=0.3),
        _trial(2, 0.7, lr=0.3),
        _trial(3, 0.9),
        _trial(4, None),
        _trial(5, 0.6),
    ]
    assert [t.number for t in candidates(trials, 3)] == [
        3,
        1,
        5,
    ]  # trial 2 repeats trial 1's params
    assert [t.number for t in candidates(trials, 10)] == [
        3,
        1,
        5,
        0,
    ]  # never a trial without a score
    assert candidates(trials, 0) == []


def test_the_chosen_configuration_has_the_best_mean_validation_never_the_best_test():
    runs = [
        _run(3, 0, 0.80, test=0.99),
        _run(3, 1, 0.60, test=0.99),  # mean val 0.70, best test
        _run(1, 0, 0.72, test=0.10),
        _run(1, 1, 0.70, test=0.10),
    ]  # mean val 0.71
    assert choose(runs, [3, 1]) == 1
    assert choose(runs + [_run(3, 0, 1.0, refit=True)], [3, 1]) == 1  # a refit run never chooses
    assert choose([_run(3, 0, 0.7), _run(1, 0, 0.7)], [3, 1]) == 3  # a tie: the better ranked
    assert choose([], [3, 1]) is None


def test_after_a_compare_every_output_names_the_configuration_the_confirm_stage_chose(
    tmp_path, capsys
):
    """A compare's runs are confirm-stage runs too, but they never choose: the page, the report
    command's headline, model.npz and best_params all name the same configuration."""
    from hpsearch.builtin.model import model_settings
    from hpsearch.cli.main import main
    from hpsearch.space.dimensions import Categorical, LogUniform

    space = {"lr": LogUniform(1e-3, 1e-1), "activation": Categorical(["relu", "sigmoid", "tanh"])}
    study = Study(
        "chosen",
        strategy="random",
        space=space,
        config=CONFIG,
        n_trials=8,
        seed=5,
        directory=tmp_path,
        confirm=1,
        repeats=2,
        progress=False,
    )
    study.optimize()
    study.compare("activation")
    chosen = study.chosen_trial
    assert chosen is not None and chosen.number == candidates(study.trials, 1)[0].number
    # The case this guards: over every run, a compared configuration has the better mean.
    assert choose(study.repeats_done) != chosen.number

    assert study.best_params == dict(chosen.params)
    assert model_settings(tmp_path / "chosen" / "model.npz")["trial"] == chosen.number
    page = (tmp_path / "chosen" / "index.html").read_text()
    assert f"(trial {chosen.number})" in page.split('id="headline"')[1].split("</")[0]
    assert main(["report", "chosen", "--out", str(tmp_path)]) == 0
    # The headline is a message beside the table: on stderr, so that stdout holds the table alone.
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("chosen:")]
    assert len(lines) == 1 and f"(trial {chosen.number})" in lines[0]


def test_plan_skips_what_is_done():
    trials = [_trial(0, 0.5), _trial(1, 0.7)]
    tasks = plan(trials, 2, {(0, 0, False), (1, 1, False)})
    assert [(t.number, t.repeat, t.refit) for t in tasks] == [(0, 1, False), (1, 0, False)]


# ----------------------------------------------------------------------------- one run
def test_a_repeat_trains_with_fresh_seeds_and_scores_the_test_part():
    params = {"lr": 0.05, "weight_decay": 1e-5}
    search = train_trial(CONFIG, params, 3, 7)
    first = train_repeat(CONFIG, params, 3, 7, 0)[0]
    again = train_repeat(CONFIG, params, 3, 7, 0)[0]
    other = train_repeat(CONFIG, params, 3, 7, 1)[0]
    assert _records([first]) == _records([again])  # a function of seed, trial and repeat
    assert first.loss_curve != search.loss_curve  # not the search's own run
    assert first.loss_curve != other.loss_curve
    assert first.state is TrialState.COMPLETE and first.n_val == search.n_val == 40
    assert first.n_test == 2000 and 0 <= first.test_acc <= 1
    assert first.test_curve == () and first.best_test_acc is None


def test_test_curves_and_refit_on_request():
    params = {"lr": 0.05, "weight_decay": 1e-5}
    curves = train_repeat(CONFIG, params, 3, 7, 0, test_curve=True)[0]
    assert len(curves.test_curve) == 3 and curves.test_acc == curves.test_curve[-1]
    assert curves.best_test_acc == max(curves.test_curve)
    assert (
        _records([curves])[0]["val_curve"]
        == _records([train_repeat(CONFIG, params, 3, 7, 0)[0]])[0]["val_curve"]
    )
    refit = train_repeat(CONFIG, params, 3, 7, 0, refit=True)[0]
    assert refit.refit and refit.val_acc is None and refit.n_val == 0 and refit.epochs == 3
    assert refit.test_acc is not None


def test_a_dataset_without_a_test_part_still_confirms():
    run = train_repeat(
        TrainConfig(epochs=2, hidden=(20,), samples=300, dataset="digits"), {"lr": 0.05}, 0, 1, 0
    )[0]
    assert run.state is TrialState.COMPLETE and run.test_acc is None and run.n_test is None
    assert run.val_acc is not None


# ----------------------------------------------------------------------------- the stage in a study
def _study(tmp_path, name, **kwargs) -> Study:
    kwargs.setdefault("n_jobs", 1)
    kwargs.setdefault("confirm", 3)
    kwargs.setdefault("figures", False)  # the reports tests' (tests/reports)
    return Study(
        name,
        directory=tmp_path,
        n_trials=8,
        seed=3,
        config=CONFIG,
        repeats=2,
        progress=False,
        **kwargs,
    )


def test_confirmed_runs_are_the_same_with_one_or_two_workers_and_threads(tmp_path):
    one = _study(tmp_path, "one")
    one.optimize()
    assert len(one.repeats_done) == 6
    assert {r.number for r in one.repeats_done} == {t.number for t in candidates(one.trials, 3)}
    for other in (
        _study(tmp_path, "two", n_jobs=2),
        _study(tmp_path, "threads", n_jobs=2, backend="threading"),
    ):
        other.optimize()
        assert _records(other.repeats_done) == _records(one.repeats_done)
        assert other.best_params == one.best_params


def test_confirm_later_equals_confirm_at_once_and_logs_append_only(tmp_path):
    at_once = _study(tmp_path, "at-once")
    at_once.optimize()
    later = _study(tmp_path, "later", confirm=0)
    later.optimize()
    assert later.repeats_done == [] and not (later.path / "repeats.jsonl").exists()
    loaded = Study.load("later", tmp_path, progress=False)
    loaded.confirm(3, 2)
    assert _records(loaded.repeats_done) == _records(at_once.repeats_done)
    assert loaded.chosen_trial.number == at_once.chosen_trial.number
    lines = (loaded.path / "repeats.jsonl").read_text().splitlines()
    assert len(lines) == 6
    loaded.confirm(3, 3)  # one more repeat each: only the new runs are trained
    assert len((loaded.path / "repeats.jsonl").read_text().splitlines()) == 9


def test_confirm_refuses_more_configurations_than_the_study_has(tmp_path, snapshot):
    _study(tmp_path, "few", confirm=0).optimize()
    before = snapshot(tmp_path)
    study = Study.load("few", tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"confirm=9 needs 9 distinct finished trials"):
        study.confirm(9, 2)
    with pytest.raises(ValueError, match="repeats must be a positive integer"):
        study.confirm(2, 0)
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- interrupt and resume
COMMAND = [
    "random",
    "--trials",
    "6",
    "--jobs",
    "2",
    "--seed",
    "2",
    "--epochs",
    "30",
    "--samples",
    "400",
    "--hidden",
    "100,100",
    "--confirm",
    "3",
    "--repeats",
    "3",
    "--name",
    "c",
    "--quiet",
    "--no-figures",
]


def _cli(cwd: Path, extra: list[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hpsearch", *COMMAND, *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _repeat_lines(cwd: Path) -> int:
    path = cwd / "studies" / "c" / "repeats.jsonl"
    return path.read_text().count("\n") if path.exists() else 0


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("unbroken")
    proc = _cli(cwd)
    assert proc.returncode == 0, proc.stderr
    return cwd


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals: Linux")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_an_interrupted_confirm_stage_resumes_to_the_unbroken_result(tmp_path, unbroken, sig):
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpsearch", *COMMAND],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while _repeat_lines(tmp_path) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL), err
    if sig == signal.SIGINT:
        assert "Traceback" not in err and "resume with" in err
    assert 2 <= _repeat_lines(tmp_path) < 9, "interrupted inside the confirm stage"
    again = _cli(tmp_path)
    assert again.returncode == 0, again.stderr
    folder, expected = tmp_path / "studies" / "c", unbroken / "studies" / "c"
    runs = [json.loads(line) for line in (folder / "repeats.jsonl").read_text().splitlines()]
    want = [json.loads(line) for line in (expected / "repeats.jsonl").read_text().splitlines()]
    key = lambda r: (r["number"], r["repeat"], r["refit"])  # noqa: E731
    strip = lambda rs: sorted(({k: v for k, v in r.items() if k != "seconds"} for r in rs), key=key)  # noqa: E731
    assert strip(runs) == strip(want)
    assert len({key(r) for r in runs}) == len(runs) == 9
    # confirmed.csv equals the unbroken one, but for wall times.
    confirmed = pd.read_csv(folder / "confirmed.csv")
    seconds = [c for c in confirmed.columns if "seconds" in c]
    pd.testing.assert_frame_equal(
        confirmed.drop(columns=seconds),
        pd.read_csv(expected / "confirmed.csv").drop(columns=seconds),
    )
