"""The command line, through main(argv) and through a real ``python -m hpsearch`` subprocess."""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hpsearch.cli import build_parser, main

RANKING_COLUMNS = ["rank", "trial", "lr", "weight_decay", "val_acc", "best_val_acc", "train_acc", "state", "seconds"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_main(argv: list[str]) -> int:
    """main(argv)'s exit status, whether it returns it or raises SystemExit (argparse)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1


def run_cli(args: list[str], cwd, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hpsearch", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def check_ranking_csv(path, n_rows: int) -> pd.DataFrame:
    df = pd.read_csv(path)
    columns = list(df.columns)
    for column in RANKING_COLUMNS:
        assert column in columns, (column, columns)
    # The columns, in the order (extra columns may sit between).
    assert [c for c in columns if c in RANKING_COLUMNS] == RANKING_COLUMNS
    assert len(df) == n_rows
    assert sorted(df["trial"]) == list(range(n_rows))
    assert df["rank"].iloc[0] == 1
    assert df["rank"].is_monotonic_increasing
    scored = df[df["state"] == "COMPLETE"]["val_acc"].to_numpy()
    assert np.all(np.diff(scored) <= 0), "best first"
    assert df["lr"].notna().all() and df["weight_decay"].notna().all()
    return df


def check_png(path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 300 and height >= 150
    assert len(data) > 5_000  # something is drawn
    import matplotlib.image

    assert matplotlib.image.imread(path).shape[:2] == (height, width)


def table_rows(stdout: str) -> list[str]:
    """The rows of the printed top table: lines after the header that start with a rank."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "rank" in line.split() and "val_acc" in line.split())
    rows = []
    for line in lines[header + 1:]:
        words = line.split()
        if not words or not words[0].isdigit():
            break
        rows.append(line)
    return rows


# ----------------------------------------------------------------------------- runs
def test_random_study_writes_ranked_csv_png_and_prints_the_top_5(tmp_path, tiny_flags, capsys):
    out = tmp_path / "studies"
    code = run_main(["random", "--trials", "6", "--jobs", "1", "--seed", "3", "--name", "r", "--out", str(out),
                     "--quiet", *tiny_flags])
    assert code == 0
    stdout = capsys.readouterr().out
    df = check_ranking_csv(out / "r" / "ranking.csv", 6)
    check_png(out / "r" / "best_curves.png")
    rows = table_rows(stdout)
    assert len(rows) == 5
    # The printed rows are the CSV's top rows, in order.
    assert [int(row.split()[1]) for row in rows] == list(df["trial"].iloc[:5])
    assert "ranking.csv" in stdout and "best_curves.png" in stdout


def test_grid_study_covers_the_product_of_log_spaced_points(tmp_path, tiny_flags):
    out = tmp_path / "studies"
    code = run_main(["grid", "--trials", "4", "--jobs", "1", "--name", "g", "--out", str(out), "--quiet", *tiny_flags])
    assert code == 0
    df = check_ranking_csv(out / "g" / "ranking.csv", 4)
    assert sorted(set(df["lr"])) == pytest.approx([1e-6, 1e-2], rel=1e-9)
    assert sorted(set(df["weight_decay"])) == pytest.approx([1e-8, 1e-4], rel=1e-9)
    assert len(set(zip(df["lr"], df["weight_decay"]))) == 4
    check_png(out / "g" / "best_curves.png")


def test_bayes_study_runs_every_trial(tmp_path, tiny_flags):
    out = tmp_path / "studies"
    code = run_main(["bayes", "--trials", "5", "--jobs", "1", "--bayes-batch", "2", "--name", "b", "--out", str(out),
                     "--quiet", *tiny_flags])
    assert code == 0
    df = check_ranking_csv(out / "b" / "ranking.csv", 5)
    assert (df["lr"].between(1e-6, 1e-2)).all()
    check_png(out / "b" / "best_curves.png")


def test_param_replaces_the_default_entry_of_the_same_name(tmp_path, tiny_flags):
    out = tmp_path / "studies"
    code = run_main(["random", "--trials", "4", "--jobs", "1", "--name", "p", "--out", str(out), "--quiet",
                     "--param", "lr=log:1e-3:1e-1", *tiny_flags])
    assert code == 0
    df = pd.read_csv(out / "p" / "ranking.csv")
    assert df["lr"].between(1e-3, 1e-1).all()
    assert df["weight_decay"].between(1e-8, 1e-4).all()


def test_one_or_two_jobs_give_identical_csvs(tmp_path, tiny_flags):
    out = tmp_path / "studies"
    for jobs in ("1", "2"):
        assert run_main(["random", "--trials", "6", "--jobs", jobs, "--seed", "5", "--name", f"j{jobs}",
                         "--out", str(out), "--quiet", *tiny_flags]) == 0
    one = pd.read_csv(out / "j1" / "ranking.csv").drop(columns=["seconds"])
    two = pd.read_csv(out / "j2" / "ranking.csv").drop(columns=["seconds"])
    pd.testing.assert_frame_equal(one, two)


def test_report_rebuilds_the_csv_from_the_log(tmp_path, tiny_flags, capsys):
    out = tmp_path / "studies"
    assert run_main(["random", "--trials", "4", "--jobs", "1", "--name", "rep", "--out", str(out), "--quiet",
                     *tiny_flags]) == 0
    csv = out / "rep" / "ranking.csv"
    original = pd.read_csv(csv)
    csv.unlink()
    capsys.readouterr()
    assert run_main(["report", "rep", "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(csv), original)
    assert len(table_rows(capsys.readouterr().out)) == 4


def test_a_real_subprocess_runs_a_tiny_study(tmp_path, tiny_flags):
    proc = run_cli(["random", "--trials", "4", "--jobs", "2", "--name", "sub", "--quiet", *tiny_flags], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    folder = tmp_path / "studies" / "sub"
    check_ranking_csv(folder / "ranking.csv", 4)
    check_png(folder / "best_curves.png")
    assert len(table_rows(proc.stdout)) == 4


# ----------------------------------------------------------------------------- --help
def _subcommands() -> list[str]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(actions[0].choices)


def test_the_strategies_are_subcommands():
    assert {"grid", "random", "bayes", "report"} <= set(_subcommands())


@pytest.mark.parametrize("argv", [["--help"]] + [[name, "--help"] for name in _subcommands()])
def test_help_on_every_subcommand_exits_0(argv, capsys):
    assert run_main(argv) == 0
    out = capsys.readouterr().out
    assert "usage" in out.lower()
    if argv[0] in ("grid", "random", "bayes"):
        for option in ("--trials", "--jobs", "--seed", "--name", "--out", "--param", "--epochs", "--batch-size",
                       "--hidden", "--samples", "--val-ratio"):
            assert option in out


def test_help_through_a_subprocess(tmp_path):
    proc = run_cli(["random", "--help"], tmp_path)
    assert proc.returncode == 0
    assert "--trials" in proc.stdout
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- bad input
# (argv, fragments the one-line message must hold: the option and what was wrong)
BAD_INPUT = {
    "trials-0": (["random", "--trials", "0"], ["--trials", "0"]),
    "trials-negative": (["random", "--trials", "-3"], ["--trials", "-3"]),
    "trials-abc": (["random", "--trials", "abc"], ["--trials", "abc"]),
    "jobs-0": (["random", "--jobs", "0"], ["--jobs", "0"]),
    "log-low-0": (["random", "--param", "lr=log:0:1"], ["lr", "low"]),
    "log-low-ge-high": (["random", "--param", "lr=log:1e-2:1e-3"], ["lr", "low", "high"]),
    "unknown-strategy": (["sobol", "--trials", "3"], ["sobol"]),
    "unknown-dataset": (["random", "--dataset", "nope"], ["--dataset", "nope"]),
    "name-dotdot": (["random", "--name", "../x"], ["--name", "../x"]),
    "name-separator": (["random", "--name", "a/b"], ["--name", "a/b"]),
    "samples-too-many": (["random", "--samples", "999999"], ["--samples", "999999"]),
    "val-ratio-0": (["random", "--val-ratio", "0"], ["--val-ratio", "0"]),
    "val-ratio-1.5": (["random", "--val-ratio", "1.5"], ["--val-ratio", "1.5"]),
}
TINY = ["--epochs", "3", "--hidden", "20,20", "--quiet"]


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    """A finished tiny study ``keep``, made once: bad input must leave a copy of it untouched."""
    root = tmp_path_factory.mktemp("template") / "studies"
    assert run_main(["random", "--trials", "2", "--jobs", "1", "--name", "keep", "--out", str(root),
                     "--samples", "200", *TINY]) == 0
    return root


@pytest.fixture
def existing_study(finished_study, tmp_path):
    """``tmp_path/studies`` holding a finished study ``keep``."""
    out = tmp_path / "studies"
    shutil.copytree(finished_study, out)
    return out


def _check_one_line(stderr: str, fragments: list[str]) -> None:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_through_main_exits_2_with_one_line_and_writes_nothing(case, tmp_path, existing_study,
                                                                           snapshot, capsys):
    argv, fragments = BAD_INPUT[case]
    out = existing_study
    capsys.readouterr()
    before = snapshot(tmp_path)
    code = run_main([*argv, "--out", str(out), *TINY] if argv[0] != "sobol" else argv)
    captured = capsys.readouterr()
    assert code == 2
    _check_one_line(captured.err, fragments)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_through_a_subprocess_exits_2_with_one_line_and_creates_nothing(case, tmp_path):
    argv, fragments = BAD_INPUT[case]
    proc = run_cli([*argv, *TINY] if argv[0] != "sobol" else argv, tmp_path)
    assert proc.returncode == 2
    _check_one_line(proc.stderr, fragments)
    assert list(tmp_path.iterdir()) == [], "no study folder may be created"


@pytest.mark.parametrize("runner", ["main", "subprocess"])
def test_a_corrupt_study_definition_exits_2_and_stays_as_it_was(runner, tmp_path, snapshot, capsys):
    folder = tmp_path / "studies" / "x"
    folder.mkdir(parents=True)
    garbage = b"\x00{ this is not json ]] \xff\n"
    (folder / "study.json").write_bytes(garbage)
    before = snapshot(tmp_path)
    argv = ["random", "--trials", "3", "--jobs", "1", "--name", "x", "--samples", "200", *TINY]
    if runner == "main":
        code = run_main([*argv, "--out", str(tmp_path / "studies")])
        stderr = capsys.readouterr().err
    else:
        proc = run_cli(argv, tmp_path)
        code, stderr = proc.returncode, proc.stderr
    assert code == 2
    _check_one_line(stderr, ["study.json"])
    assert (folder / "study.json").read_bytes() == garbage
    assert snapshot(tmp_path) == before


def test_resuming_with_different_settings_exits_2_and_changes_nothing(tmp_path, existing_study, snapshot, capsys):
    out = existing_study
    capsys.readouterr()
    before = snapshot(tmp_path)
    code = run_main(["random", "--trials", "2", "--jobs", "1", "--name", "keep", "--out", str(out),
                     "--samples", "200", "--epochs", "4", "--hidden", "20,20", "--quiet"])
    assert code == 2
    _check_one_line(capsys.readouterr().err, ["keep"])
    assert snapshot(tmp_path) == before
