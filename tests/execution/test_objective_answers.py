"""What an own objective answers, and how hpsearch takes it: accuracies as shares, refit runs,
bad answers that write nothing, failures that say where, and a file found from any folder."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from hpsearch import LogUniform, Study, TrainConfig
from hpsearch.cli.main import main
from hpsearch.records import TrialState

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_layer_net.py"


def _file(folder: Path, text: str, name: str = "mine.py") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def _argv(tmp_path: Path, ref: str, name: str, *extra: str) -> list[str]:
    out = str(tmp_path / "studies")
    return [
        "random",
        "--trials",
        "4",
        "--epochs",
        "2",
        "--param",
        "lr=log:1e-2:1",
        "--objective",
        ref,
        "--name",
        name,
        "--out",
        out,
        "--quiet",
        *extra,
    ]


@pytest.mark.parametrize(
    "body, message",
    [
        ("return 100.0  # a percentage", "val_acc=100: accuracies are shares in 0..1 (return 1"),
        ("return {'val_acc': 0.5, 'test_acc': 51.0}", "test_acc=51"),
        ("return 'good'", "returned str"),
        # not a percentage: the rule alone, no "return -0.001 for -0.1%"
        ("return -0.1", "val_acc=-0.1: accuracies are shares in 0..1, or rank by"),
    ],
)
def test_an_answer_no_report_can_take_is_one_line_exit_2_and_no_folder(
    tmp_path, capsys, body, message
):
    path = _file(tmp_path, f"def objective(trial):\n    {body}\n")
    assert main(_argv(tmp_path, f"{path}:objective", "bad", "--confirm", "1")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert "(trial " in err, err  # the line names the run that answered so
    assert not (tmp_path / "studies" / "bad").exists()


def test_the_example_network_works_in_refit_runs(tmp_path, capsys):
    argv = _argv(tmp_path, f"{EXAMPLE}:objective", "refit", "--refit", "--confirm", "2")
    assert main([*argv, "--repeats", "2"]) == 0
    printed = capsys.readouterr()
    assert "RuntimeWarning" not in printed.err
    runs = [
        json.loads(line)
        for line in (tmp_path / "studies" / "refit" / "repeats.jsonl").read_text().splitlines()
    ]
    refits = [r for r in runs if r["refit"]]
    assert len(refits) == 2 and all(r["state"] == "COMPLETE" for r in refits)
    assert all(r["test_acc"] is not None and r["val_acc"] is None for r in refits)
    headline = next(line for line in printed.out.splitlines() if line.startswith("chosen:"))
    assert "| refit test " in headline and "no test score" not in headline


def test_a_failure_says_where_in_the_users_code(tmp_path):
    path = _file(
        tmp_path,
        """
        def helper(params):
            return params["momentum"]


        def objective(trial):
            return helper(trial.params)
        """,
        name="broken_net.py",
    )
    study = Study(
        "failing",
        objective=f"{path}:objective",
        space={"lr": LogUniform(1e-2, 1.0)},
        config=TrainConfig(epochs=1, samples=200),
        n_trials=2,
        confirm=0,
        progress=False,
        directory=tmp_path / "studies",
    )
    study.optimize()
    for t in study.trials:
        assert t.state is TrialState.FAILED
        assert t.error == "KeyError: 'momentum' (broken_net.py, line 3, in helper)"


def test_a_study_of_a_file_is_confirmed_from_another_folder_and_resumed_by_absolute_path(
    tmp_path, monkeypatch, capsys
):
    work = tmp_path / "work"
    work.mkdir()
    _file(work, "def objective(trial):\n    return {'val_acc': trial.params['lr'] / 2}\n")
    monkeypatch.chdir(work)
    out = str(tmp_path / "studies")
    argv = ["random", "--trials", "4", "--param", "lr=log:1e-2:1", "--name", "rel", "--out", out]
    assert main([*argv, "--objective", "mine.py:objective", "--confirm", "0", "--quiet"]) == 0
    stored = json.loads((tmp_path / "studies" / "rel" / "study.json").read_text())["objective"]
    assert stored == f"{work / 'mine.py'}:objective"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["confirm", "rel", "--out", out, "--confirm", "1", "--quiet"]) == 0
    absolute = f"{work / 'mine.py'}:objective"
    again = [*argv, "--objective", absolute, "--trials", "5", "--quiet"]
    assert main(again) == 0, capsys.readouterr().err
    assert os.path.isfile(work / "mine.py")


def test_the_pruning_summary_of_an_objective_does_not_claim_its_rungs_continued(tmp_path, capsys):
    path = _file(tmp_path, "def objective(trial):\n    return trial.params['lr'] / 2\n")
    argv = _argv(tmp_path, f"{path}:objective", "pruned", "--confirm", "0")
    argv += ["--trials", "9", "--epochs", "9", "--prune", "halving", "--min-epochs", "1"]
    assert main(argv) == 0
    line = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("pruning ("))
    assert "trials stopped at 21 epochs in all, of 81 without pruning" in line
    assert "keeps no checkpoint" in line and "epochs trained of" not in line


def test_keyboard_interrupt_or_exit_raised_by_the_function_fails_its_trial_only(tmp_path, capsys):
    """Not a signal: the reader's own ``raise KeyboardInterrupt`` or ``sys.exit(3)``. The trial
    is FAILED with it and the study goes on, to its end, with status 0."""
    path = _file(
        tmp_path,
        """
        import sys

        def objective(trial):
            if trial.number == 1:
                raise KeyboardInterrupt("stop from my loop")
            if trial.number == 2:
                sys.exit(3)
            return 0.5
        """,
    )
    argv = _argv(tmp_path, f"{path}:objective", "own-exit", "--confirm", "0")
    assert main([*argv, "--jobs", "2"]) == 0
    records = [
        json.loads(line)
        for line in (tmp_path / "studies" / "own-exit" / "trials.jsonl").read_text().splitlines()
    ]
    by_number = {r["number"]: r for r in records}
    assert sorted(by_number) == [0, 1, 2, 3]
    assert by_number[1]["state"] == "FAILED" and "KeyboardInterrupt" in by_number[1]["error"]
    assert by_number[2]["state"] == "FAILED" and "SystemExit" in by_number[2]["error"]
    assert by_number[0]["state"] == by_number[3]["state"] == "COMPLETE"
    assert "resume with" not in capsys.readouterr().err


def test_a_failed_trial_is_said_on_the_terminal_and_by_list_when_others_scored(tmp_path, capsys):
    path = _file(
        tmp_path,
        """
        def objective(trial):
            if trial.number == 2:
                raise KeyError("momentum")
            return trial.params["lr"] / 2
        """,
    )
    argv = _argv(tmp_path, f"{path}:objective", "some-fail", "--confirm", "0")
    assert main(argv) == 0
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if "FAILED (trial 2" in s)
    assert "KeyError" in line and "momentum" in line and "1 of 4 trials" in line
    assert main(["list", "--out", str(tmp_path / "studies")]) == 0
    listed = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("some-fail"))
    assert "best" in listed and "1 FAILED" in listed
