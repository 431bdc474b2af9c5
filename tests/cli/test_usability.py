"""What a new user trips over in the first hour (issue #14), each checked through the front
doors."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pandas as pd
import pytest

from hpsearch import LogUniform, Study, TrainConfig
from hpsearch.cli.main import main

TINY = ["--epochs", "2", "--hidden", "20,20", "--samples", "200", "--quiet", "--jobs", "1"]


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _refused(argv: list[str], tmp_path: Path, snapshot, *fragments: str) -> str:
    before = snapshot(tmp_path)
    code, out, err = _run(argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hpsearch: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert snapshot(tmp_path) == before, "nothing may be written"
    return lines[0]


def test_options_after_a_study_file_override_the_file(tmp_path: Path) -> None:
    file = tmp_path / "s.toml"
    file.write_text(
        'strategy = "random"\ntrials = 2\nconfirm = 0\n'
        "[set]\nepochs = 5\nhidden = [20]\nsamples = 200\n"
    )
    code, out, err = _run(
        ["run", str(file), "--epochs", "2", "--name", "f", "--out", str(tmp_path), "--quiet"]
    )
    assert code == 0, err
    assert json.loads((tmp_path / "f" / "study.json").read_text())["config"]["epochs"] == 2
    assert (pd.read_csv(tmp_path / "f" / "ranking.csv")["epochs"] == 2).all()


@pytest.mark.parametrize(
    "argv,fragments",
    [
        (["--hidden", "100,,100"], ["hidden", "100,,100"]),
        (["--samples", "5"], ["--samples 5", "validation"]),
        (
            ["--prune", "halving", "--epochs", "3"],
            ["--prune 'halving' would stop nothing", "--epochs 3"],
        ),
        (
            ["--param", "lr=log:1e-4:1e-2", "--param", "lr=log:1e-3:1e-1"],
            ["--param lr is given twice"],
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, snapshot, argv, fragments
) -> None:
    _refused(
        ["random", "--trials", "2", "--out", str(tmp_path / "studies"), *TINY, *argv],
        tmp_path,
        snapshot,
        *fragments,
    )


def test_a_space_given_as_a_plain_dict_works_and_a_bad_one_is_refused_before_any_write(
    tmp_path, snapshot
):
    config = TrainConfig(epochs=2, hidden=(20,), samples=200)
    study = Study(
        "d",
        directory=tmp_path,
        n_trials=2,
        config=config,
        confirm=0,
        progress=False,
        space={"lr": LogUniform(1e-3, 1e-1)},
    )
    assert not (tmp_path / "d").exists()
    study.optimize()
    assert all(1e-3 <= t.params["lr"] <= 1e-1 for t in study.trials)
    before = snapshot(tmp_path)
    with pytest.raises(
        ValueError, match="space must be a SearchSpace or a mapping of names to dimensions"
    ):
        Study("e", directory=tmp_path, config=config, space={"lr": (1e-3, 1e-1)})
    assert snapshot(tmp_path) == before


def test_a_grid_over_a_choice_alone_says_what_it_does_with_the_ranges(tmp_path: Path) -> None:
    code, out, err = _run(
        [
            "grid",
            "--trials",
            "2",
            "--param",
            "activation=choice:relu,tanh",
            "--confirm",
            "0",
            "--name",
            "g",
            "--out",
            str(tmp_path),
            *TINY,
        ]
    )
    assert code == 0, err
    notes = [line for line in err.splitlines() if "one point" in line]
    assert (
        len(notes) == 2
        and any("lr" in n for n in notes)
        and any("weight_decay" in n for n in notes)
    )
    trials = [
        json.loads(line) for line in (tmp_path / "g" / "trials.jsonl").read_text().splitlines()
    ]
    # The centre of each range in its (log) scale, never a bound.
    assert {round(t["params"]["lr"], 12) for t in trials} == {1e-4}
    assert {round(t["params"]["weight_decay"], 14) for t in trials} == {1e-6}


def test_report_keeps_machine_formats_clean_and_rewrites_only_stale_files(tmp_path: Path) -> None:
    assert (
        _run(
            [
                "random",
                "--trials",
                "4",
                "--confirm",
                "0",
                "--name",
                "r",
                "--out",
                str(tmp_path),
                *TINY,
            ]
        )[0]
        == 0
    )
    png = tmp_path / "r" / "best_curves.png"
    stamp = png.stat().st_mtime_ns
    time.sleep(0.01)
    for fmt in ("csv", "json", "markdown"):
        code, out, err = _run(["report", "r", "--out", str(tmp_path), "--format", fmt])
        assert code == 0, err
        assert "wrote" not in out
        if fmt == "csv":
            assert len(pd.read_csv(io.StringIO(out))) == 4
        if fmt == "json":
            assert len(json.loads(out)) == 4
    assert png.stat().st_mtime_ns == stamp, "a fresh figure was rewritten"
    code, _, err = _run(["report", "r", "--out", str(tmp_path), "--write"])
    assert code == 0 and png.stat().st_mtime_ns != stamp


def test_a_second_process_is_refused_before_it_says_resuming(tmp_path: Path) -> None:
    assert (
        _run(
            [
                "random",
                "--trials",
                "2",
                "--confirm",
                "0",
                "--name",
                "l",
                "--out",
                str(tmp_path),
                *TINY,
            ]
        )[0]
        == 0
    )
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, time; "
            f"fd = os.open({str(tmp_path / 'l' / '.lock')!r}, os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        code, out, err = _run(
            [
                "random",
                "--trials",
                "4",
                "--confirm",
                "0",
                "--name",
                "l",
                "--out",
                str(tmp_path),
                *TINY,
            ]
        )
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and "resuming" not in out
    assert "being run by another process" in err


def test_a_resume_with_another_strategy_says_so_in_one_line(tmp_path: Path, snapshot) -> None:
    assert (
        _run(
            [
                "bayes",
                "--trials",
                "2",
                "--confirm",
                "0",
                "--name",
                "b",
                "--out",
                str(tmp_path),
                *TINY,
            ]
        )[0]
        == 0
    )
    line = _refused(
        ["random", "--trials", "2", "--confirm", "0", "--name", "b", "--out", str(tmp_path), *TINY],
        tmp_path,
        snapshot,
        "stored strategy bayes, asked random",
    )
    assert "kappa" not in line and "liar" not in line


def test_best_params_as_optuna_users_expect(tmp_path: Path) -> None:
    config = TrainConfig(epochs=2, hidden=(20,), samples=200)
    study = Study(
        "p", directory=tmp_path, n_trials=4, config=config, confirm=2, repeats=2, progress=False
    )
    assert study.best_params is None
    study.optimize()
    assert study.best_params == study.chosen_trial.params
    assert study.best_config == config.with_params(study.best_params)


def test_list_shows_each_study_in_one_line(tmp_path: Path) -> None:
    for name, trials in (("one", "2"), ("two", "3")):
        assert (
            _run(
                [
                    "random",
                    "--trials",
                    trials,
                    "--confirm",
                    "0",
                    "--name",
                    name,
                    "--out",
                    str(tmp_path),
                    *TINY,
                ]
            )[0]
            == 0
        )
    code, out, _ = _run(["list", "--out", str(tmp_path)])
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith("one  random  2/2 trials  best val ") and "changed " in lines[0]
    assert lines[1].startswith("two  random  3/3 trials")


def test_without_linux_pidfds_a_crash_still_costs_only_the_running_trials(
    tmp_path, monkeypatch
) -> None:
    from hpsearch.execution.pool import DeathWatch
    from hpsearch.execution.workers import Task

    monkeypatch.delattr(os, "pidfd_open", raising=False)
    with DeathWatch(tmp_path / "watch") as watch:
        assert watch._thread is None  # the Linux path is off
        running, queued = Task(1, {}), Task(2, {})
        (tmp_path / "watch" / watch.name(running)).write_text("999999")
        assert watch.lost([running, queued]) == [running]


def test_a_failed_atomic_write_names_the_file_meant_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    from hpsearch.storage.files import replacing

    target = tmp_path / "ranking.csv"
    with pytest.raises(OSError) as caught:
        with replacing(target) as tmp:
            tmp.write_text("half")
            raise OSError(28, "No space left on device")
    assert caught.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


def test_a_figure_matplotlib_cannot_draw_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    code, out, err = _run(
        [
            "random",
            "--trials",
            "6",
            "--confirm",
            "0",
            "--name",
            "wide",
            "--out",
            str(tmp_path),
            "--param",
            "lr=log:1e-300:1e300",
            *TINY,
        ]
    )
    assert code == 0, err
    assert "Traceback" not in err
    assert (tmp_path / "wide" / "ranking.csv").exists() and (
        tmp_path / "wide" / "index.html"
    ).exists()
