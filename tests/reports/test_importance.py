"""Which setting matters: importance, studies side by side, the Optuna-style trials frame.

The objectives are synthetic: the score depends on ``lr`` (and on a categorical ``opt``) and
ignores ``noise``, so the answer is known beforehand.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from hpsearch import Categorical, LogUniform, Study, TrainConfig, Uniform
from hpsearch.cli.main import main
from hpsearch.records import Goal, TrialResult, TrialState
from hpsearch.reports.importance import MIN_TRIALS, importance
from hpsearch.space.search_space import SearchSpace

SYNTHETIC = """
import math
import numpy as np


def objective(trial):
    p = trial.params
    score = 0.9 - 0.1 * abs(math.log10(p["lr"]) + 2) - (0.05 if p.get("opt") == "sgd" else 0.0)
    score += 0.002 * np.random.randn()  # a little luck, as in any training
    out = {"val_acc": score, "train_acc": score + 0.01}
    if trial.data.x_test is not None:
        out["test_acc"] = score - 0.02 + 0.004 * np.random.randn()
    return out
"""

SPACE = {
    "lr": LogUniform(1e-4, 1.0),
    "noise": Uniform(0.0, 1.0),
    "opt": Categorical(["sgd", "adam"]),
}
CONFIG = TrainConfig(epochs=1, samples=200)


def _objective(folder: Path, text: str = SYNTHETIC, name: str = "synthetic.py") -> str:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return f"{path}:objective"


def _study(tmp_path: Path, name: str, **kwargs: object) -> Study:
    options: dict[str, object] = dict(
        space=SPACE,
        config=CONFIG,
        n_trials=40,
        seed=5,
        confirm=0,
        progress=False,
        objective=_objective(tmp_path),
    )
    options.update(kwargs)
    return Study(name, directory=tmp_path / "studies", **options)  # type: ignore[arg-type]


def test_the_setting_the_score_depends_on_comes_first_and_an_ignored_one_near_zero(tmp_path):
    study = _study(tmp_path, "imp")
    study.optimize()
    result = study.importance()
    table = result.table.set_index("param")
    assert result.note is None and result.trials == 40
    assert list(result.table["param"])[0] == "lr"
    assert table.loc["lr", "share"] > 0.5
    # The ignored parameter: near zero, its interval including zero.
    assert table.loc["noise", "share"] < 0.1 and table.loc["noise", "low"] == 0.0
    assert (table["low"] <= table["share"]).all() and (table["share"] <= table["high"]).all()
    assert abs(table["share"].sum() - 1.0) < 0.2  # shares of one whole (medians: about)
    # Deterministic in the study seed.
    again = study.importance().table
    pd.testing.assert_frame_equal(result.table, again)


def test_the_importance_command_prints_writes_and_puts_the_table_on_the_page(tmp_path, capsys):
    study = _study(tmp_path, "cmd")
    study.optimize()
    out = str(tmp_path / "studies")
    Path(study.objective_ref.split(":")[0]).unlink()  # reading a study never imports its code
    assert main(["importance", "cmd", "--out", out]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert "which setting matters for val_acc" in lines[0] and "40 COMPLETE trials" in lines[0]
    assert lines[2].split()[0] == "lr"
    folder = tmp_path / "studies" / "cmd"
    csv = pd.read_csv(folder / "importance.csv")
    assert list(csv["param"])[0] == "lr" and set(csv.columns) >= {"share", "low", "high"}
    assert (folder / "importance.png").stat().st_size > 0
    page = (folder / "index.html").read_text()
    assert "Which setting matters" in page and 'id="importance"' in page
    assert 'src="importance.png"' in page
    assert "wrote" in printed.err and "importance.csv" in printed.err
    # Rewritten reports keep the table while the trials are those it was measured on.
    assert main(["report", "cmd", "--out", out, "--write"]) == 0
    assert "Which setting matters" in (folder / "index.html").read_text()


def _records(states: list[TrialState]) -> list[TrialResult]:
    return [
        TrialResult(
            i,
            {"lr": 10 ** -(1 + i % 4), "noise": i / 10, "opt": "sgd"},
            state,
            val_acc=0.5 + i / 100 if state is TrialState.COMPLETE else None,
        )
        for i, state in enumerate(states)
    ]


def test_only_complete_trials_count_and_too_few_give_a_note_not_a_number():
    space = SearchSpace(SPACE)
    few = _records([TrialState.COMPLETE] * (MIN_TRIALS - 1) + [TrialState.PRUNED] * 5)
    result = importance(few, space, Goal())
    assert result.table.empty and result.trials == MIN_TRIALS - 1
    assert f"at least {MIN_TRIALS} COMPLETE trials" in (result.note or "")
    failed = _records([TrialState.FAILED, TrialState.DIVERGED, TrialState.TIMEOUT] * 5)
    assert importance(failed, space, Goal()).trials == 0


@pytest.mark.parametrize(
    "setup, message",
    [
        ("none", "no study"),
        ("empty", "at least 8 COMPLETE trials"),
        ("failed", "at least 8 COMPLETE trials"),
    ],
)
def test_importance_of_an_unknown_empty_or_failed_study_is_one_line_exit_2_nothing_written(
    tmp_path, capsys, setup, message
):
    if setup != "none":
        raising = "def objective(trial):\n    raise RuntimeError('broken')\n"
        objective = _objective(tmp_path, raising, "broken.py")
        study = _study(tmp_path, "s", n_trials=10, objective=objective)
        if setup == "empty":
            study.ask()  # the study exists, and has no finished trial
        else:
            study.optimize()
    folder = tmp_path / "studies" / "s"
    before = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    assert main(["importance", "s", "--out", str(tmp_path / "studies")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("hpsearch: error:") and message in err
    after = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    assert after == before


def test_the_default_space_on_the_built_in_network_ranks_lr_first(tmp_path):
    study = Study(
        "builtin",
        n_trials=24,
        seed=0,
        config=TrainConfig(epochs=4, samples=300, hidden=(30, 30)),
        confirm=0,
        progress=False,
        directory=tmp_path / "studies",
        n_jobs=2,
    )
    study.optimize()
    assert list(study.importance().table["param"]) == ["lr", "weight_decay"]


def test_studies_side_by_side_with_a_verdict_and_a_figure(tmp_path, capsys):
    for name, strategy in (("rand", "random"), ("bay", "bayes")):
        _study(tmp_path, name, strategy=strategy, n_trials=12, confirm=1, repeats=3).optimize()
    out = str(tmp_path / "studies")
    to = tmp_path / "side"
    assert main(["compare-studies", "rand", "bay", "--out", out, "--to", str(to)]) == 0
    printed = capsys.readouterr().out
    assert "rand" in printed and "bay" in printed and "bayes" in printed
    assert "(3 runs)" in printed
    sentence = printed.strip().splitlines()[-1]
    assert ("cannot be told apart" in sentence) or ("is better" in sentence)
    assert "noise" in sentence and "95%" in sentence
    table = pd.read_csv(to / "compare-studies_rand_bay.csv")
    assert list(table["study"]) == ["rand", "bay"] and list(table["trials"]) == [12, 12]
    assert (table["test_runs"] == 3).all() and table["test_mean"].notna().all()
    assert table["wall_seconds"].gt(0).all()
    assert (to / "compare-studies_rand_bay.png").stat().st_size > 0


def test_studies_of_different_goals_or_unknown_names_are_refused_writing_nothing(tmp_path, capsys):
    loss = "def objective(trial):\n    return {'val_loss': trial.params['lr']}\n"
    _study(tmp_path, "acc", n_trials=3).optimize()
    _study(
        tmp_path,
        "loss",
        n_trials=3,
        objective=_objective(tmp_path, loss, "loss.py"),
        metric="val_loss",
        direction="minimize",
    ).optimize()
    broken = "def objective(trial):\n    raise RuntimeError('broken')\n"
    _study(
        tmp_path, "failed", n_trials=3, objective=_objective(tmp_path, broken, "b.py")
    ).optimize()
    out = str(tmp_path / "studies")
    to = tmp_path / "side"
    refused = (
        (["acc", "loss"], "different goals"),
        (["acc", "nope"], "nope"),
        (["acc", "failed"], "no scored trial"),
    )
    for names, message in refused:
        assert main(["compare-studies", *names, "--out", out, "--to", str(to)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err
    assert not to.exists()


def test_trials_dataframe_has_the_columns_an_optuna_user_expects(tmp_path):
    mixed = """
    def objective(trial):
        if trial.number == 2:
            raise RuntimeError("broken")
        return {"val_acc": 0.5 + trial.number / 100, "val_loss": 1.0 - trial.number / 10}
    """
    study = _study(tmp_path, "frame", n_trials=4, objective=_objective(tmp_path, mixed, "m.py"))
    study.optimize()
    frame = study.trials_dataframe()
    expected = ["number", "value", "datetime_start", "datetime_complete", "duration"]
    expected += ["params_lr", "params_noise", "params_opt", "user_attrs_val_loss", "state"]
    assert list(frame.columns)[: len(expected)] == expected
    assert list(frame["number"]) == [0, 1, 2, 3]
    assert frame.loc[0, "value"] == 0.5 and math.isnan(frame.loc[2, "value"])
    assert list(frame["state"]) == ["COMPLETE", "COMPLETE", "FAILED", "COMPLETE"]
    assert frame.loc[3, "user_attrs_val_loss"] == pytest.approx(0.7)
    assert (frame["datetime_complete"] >= frame["datetime_start"]).all()
    assert (frame["duration"] >= pd.Timedelta(0)).all()
    assert frame["params_opt"].isin(["sgd", "adam"]).all()


def test_importance_of_a_running_study_reads_its_trials_and_writes_nothing(
    tmp_path, capsys, held_lock
):
    _study(tmp_path, "busy", n_trials=12).optimize()
    studies = tmp_path / "studies"
    with held_lock(studies, "busy"):
        code = main(["importance", "busy", "--out", str(studies)])
    printed = capsys.readouterr()
    assert code == 0 and "lr" in printed.out
    assert "being run by another process" in printed.err and "no file was written" in printed.err
    assert not (studies / "busy" / "importance.csv").exists()


def test_a_conditional_parameter_is_measured_on_the_trials_that_have_it():
    import numpy as np

    space = SearchSpace(
        {
            "lr": LogUniform(1e-4, 1.0),
            "optimizer": Categorical(["rmsprop", "adagrad"]),
            "decay_rate": Uniform(0.9, 0.999, when={"optimizer": "rmsprop"}),
            "beta": Uniform(0.0, 1.0, when={"optimizer": "rmsprop"}),
        }
    )
    rng = np.random.default_rng(3)
    trials = []
    for i in range(200):
        p = space.sample(rng)
        score = 0.9 - 0.05 * abs(math.log10(p["lr"]) + 2)
        if "decay_rate" in p:  # the decay rate acts where it is searched; beta never does
            score -= 2.0 * abs(p["decay_rate"] - 0.95)
        score += 0.002 * rng.standard_normal()
        trials.append(TrialResult(i, p, TrialState.COMPLETE, val_acc=score))
    table = importance(trials, space, Goal(), seed=1).table.set_index("param")
    assert table.loc["decay_rate", "low"] > 0.1
    assert table.loc["beta", "share"] < 0.05 and table.loc["beta", "low"] == 0.0
    assert table.loc["decay_rate", "share"] > table.loc["beta", "high"]
