"""The command line, through main(argv) and through a real ``python -m hpsearch`` subprocess."""

from __future__ import annotations

import argparse
import shlex
import shutil
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _snapshots import _snapshot

from hpsearch.cli.main import main
from hpsearch.cli.parser import build_parser

RANKING_COLUMNS = [
    "rank",
    "trial",
    "lr",
    "weight_decay",
    "val_acc",
    "best_val_acc",
    "train_acc",
    "state",
    "seconds",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_main(argv: list[str]) -> int:
    """main(argv)'s exit status, whether it returns it or raises SystemExit (argparse)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1


def run_cli(args: list[str], cwd, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hpsearch", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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
    header = next(
        i for i, line in enumerate(lines) if "rank" in line.split() and "val_acc" in line.split()
    )
    rows = []
    for line in lines[header + 1 :]:
        words = line.split()
        if not words or not words[0].isdigit():
            break
        rows.append(line)
    return rows


# ----------------------------------------------------------------------------- runs
def test_random_study_writes_ranked_csv_png_and_prints_the_top_5(tmp_path, tiny_flags, capsys):
    out = tmp_path / "studies"
    code = run_main(
        [
            "random",
            "--trials",
            "6",
            "--jobs",
            "1",
            "--seed",
            "3",
            "--name",
            "r",
            "--out",
            str(out),
            "--quiet",
            *tiny_flags,
        ]
    )
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
    code = run_main(
        [
            "grid",
            "--trials",
            "4",
            "--jobs",
            "1",
            "--name",
            "g",
            "--out",
            str(out),
            "--quiet",
            *tiny_flags,
        ]
    )
    assert code == 0
    df = check_ranking_csv(out / "g" / "ranking.csv", 4)
    assert sorted(set(df["lr"])) == pytest.approx([1e-6, 1e-2], rel=1e-9)
    assert sorted(set(df["weight_decay"])) == pytest.approx([1e-8, 1e-4], rel=1e-9)
    assert len(set(zip(df["lr"], df["weight_decay"], strict=True))) == 4
    check_png(out / "g" / "best_curves.png")


def test_bayes_study_runs_every_trial(tmp_path, tiny_flags):
    out = tmp_path / "studies"
    code = run_main(
        [
            "bayes",
            "--trials",
            "5",
            "--jobs",
            "1",
            "--bayes-batch",
            "2",
            "--name",
            "b",
            "--out",
            str(out),
            "--quiet",
            *tiny_flags,
        ]
    )
    assert code == 0
    df = check_ranking_csv(out / "b" / "ranking.csv", 5)
    assert (df["lr"].between(1e-6, 1e-2)).all()
    check_png(out / "b" / "best_curves.png")


def test_param_replaces_the_default_entry_of_the_same_name(tmp_path, tiny_flags):
    out = tmp_path / "studies"
    code = run_main(
        [
            "random",
            "--trials",
            "4",
            "--jobs",
            "1",
            "--name",
            "p",
            "--out",
            str(out),
            "--quiet",
            "--param",
            "lr=log:1e-3:1e-1",
            *tiny_flags,
        ]
    )
    assert code == 0
    df = pd.read_csv(out / "p" / "ranking.csv")
    assert df["lr"].between(1e-3, 1e-1).all()
    assert df["weight_decay"].between(1e-8, 1e-4).all()


def test_one_or_two_jobs_give_identical_csvs(tmp_path, tiny_flags):
    out = tmp_path / "studies"
    for jobs in ("1", "2"):
        assert (
            run_main(
                [
                    "random",
                    "--trials",
                    "6",
                    "--jobs",
                    jobs,
                    "--seed",
                    "5",
                    "--name",
                    f"j{jobs}",
                    "--out",
                    str(out),
                    "--quiet",
                    *tiny_flags,
                ]
            )
            == 0
        )
    one = pd.read_csv(out / "j1" / "ranking.csv").drop(columns=["seconds"])
    two = pd.read_csv(out / "j2" / "ranking.csv").drop(columns=["seconds"])
    pd.testing.assert_frame_equal(one, two)


def test_report_rebuilds_the_csv_from_the_log(tmp_path, tiny_flags, capsys):
    out = tmp_path / "studies"
    assert (
        run_main(
            [
                "random",
                "--trials",
                "4",
                "--jobs",
                "1",
                "--name",
                "rep",
                "--out",
                str(out),
                "--quiet",
                *tiny_flags,
            ]
        )
        == 0
    )
    csv = out / "rep" / "ranking.csv"
    original = pd.read_csv(csv)
    csv.unlink()
    capsys.readouterr()
    assert run_main(["report", "rep", "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(csv), original)
    assert len(table_rows(capsys.readouterr().out)) == 4


def test_a_real_subprocess_runs_a_tiny_study(tmp_path, tiny_flags):
    proc = run_cli(
        ["random", "--trials", "4", "--jobs", "2", "--name", "sub", "--quiet", *tiny_flags],
        tmp_path,
    )
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
        for option in (
            "--trials",
            "--jobs",
            "--seed",
            "--name",
            "--out",
            "--param",
            "--epochs",
            "--batch-size",
            "--hidden",
            "--samples",
            "--val-ratio",
        ):
            assert option in out


def test_help_through_a_subprocess(tmp_path):
    proc = run_cli(["random", "--help"], tmp_path)
    assert proc.returncode == 0
    assert "--trials" in proc.stdout
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- bad input
# name: (argv, fragments the one-line message must hold: the option and what was wrong).
# A study command runs with tiny settings placed before the case's own words (so that the
# case's value is the one that counts) and --out the studies folder; other commands run as
# written. In argv and fragments, {out} is the studies folder (holding a finished study
# "keep"), {file} a plain file, {npz:KIND} a malformed dataset file of that kind.
BAD_INPUT = {
    # counts and numbers
    "trials-0": (["random", "--trials", "0"], ["--trials", "0"]),
    "trials-negative": (["random", "--trials", "-3"], ["--trials", "-3"]),
    "trials-abc": (["random", "--trials", "abc"], ["--trials", "abc"]),
    "trials-fraction": (["random", "--trials", "2.5"], ["--trials", "2.5"]),
    "trials-10**12": (
        ["random", "--trials", "1000000000000"],
        ["--trials", "1000000000000", "at most"],
    ),
    "jobs-0": (["random", "--jobs", "0"], ["--jobs", "0"]),
    "jobs-minus-2": (["random", "--jobs", "-2"], ["--jobs", "-2"]),
    "seed-negative": (["random", "--seed", "-1"], ["--seed", "-1"]),
    "seed-abc": (["random", "--seed", "x"], ["--seed", "x"]),
    "epochs-0": (["random", "--epochs", "0"], ["--epochs", "0"]),
    "epochs-fraction": (["random", "--epochs", "1.5"], ["--epochs", "1.5"]),
    "batch-size-0": (["random", "--batch-size", "0"], ["--batch-size", "0"]),
    "samples-0": (["random", "--samples", "0"], ["--samples", "0"]),
    "samples-1": (["random", "--samples", "1"], ["--samples 1", "validation"]),
    "samples-5-val-0.1": (
        ["random", "--samples", "5", "--val-ratio", "0.1"],
        ["--samples 5", "--val-ratio 0.1"],
    ),
    "samples-too-many": (["random", "--samples", "999999"], ["--samples", "999999"]),
    "val-ratio-0": (["random", "--val-ratio", "0"], ["--val-ratio", "0"]),
    "val-ratio-1.5": (["random", "--val-ratio", "1.5"], ["--val-ratio", "1.5"]),
    "val-ratio-negative": (["random", "--val-ratio", "-0.1"], ["--val-ratio", "-0.1"]),
    "val-ratio-nan": (["random", "--val-ratio", "nan"], ["--val-ratio", "nan"]),
    "time-limit-0": (["random", "--time-limit", "0"], ["--time-limit", "0"]),
    "time-limit-inf": (["random", "--time-limit", "inf"], ["--time-limit", "inf"]),
    "dtype-float16": (["random", "--dtype", "float16"], ["--dtype", "float16"]),
    # hidden layers
    "hidden-double-comma": (["random", "--hidden", "100,,100"], ["--hidden", "100,,100"]),
    "hidden-negative": (["random", "--hidden=-5"], ["--hidden", "-5"]),
    "hidden-no-layer": (["random", "--hidden", "100x0"], ["--hidden", "100x0"]),
    "hidden-empty": (["random", "--hidden", ""], ["--hidden", "''"]),
    "hidden-zero-units": (["random", "--hidden", "0,100"], ["--hidden", "0,100"]),
    "hidden-fraction": (["random", "--hidden", "100.5"], ["--hidden", "100.5"]),
    "hidden-too-deep": (
        ["random", "--hidden", "100x1000000000"],
        ["--hidden", "at most 1,000 layers"],
    ),
    "hidden-too-wide": (["random", "--hidden", "1000000000"], ["--hidden", "1,000,000,000"]),
    "set-hidden-0": (["random", "--set", "hidden=0"], ["hidden", "0"]),
    # names and folders
    "name-empty": (["random", "--name", ""], ["--name", "''"]),
    "name-300-chars": (["random", "--name", "a" * 300], ["--name", "at most 100"]),
    "name-dotdot": (["random", "--name", "../x"], ["--name", "../x"]),
    "name-separator": (["random", "--name", "a/b"], ["--name", "a/b"]),
    "name-dash": (["random", "--name=-x"], ["--name", "'-x'"]),
    "name-hidden": (["random", "--name", ".x"], ["--name", "'.x'"]),
    "out-empty": (["random", "--out", ""], ["--out", "''"]),
    "out-a-file": (["random", "--out", "{file}"], ["{file} is a file"]),
    "out-under-a-file": (["random", "--out", "{file}/sub"], ["{file} is a file"]),
    # --set
    "set-unknown": (["random", "--set", "nope=1"], ["--set nope", "not a training setting"]),
    "set-no-equals": (["random", "--set", "lr"], ["--set", "NAME=VALUE", "'lr'"]),
    "set-lr-0": (["random", "--set", "lr=0"], ["lr", "0"]),
    "set-lr-nan": (["random", "--set", "lr=nan"], ["lr", "nan"]),
    "set-weight-decay-inf": (["random", "--set", "weight_decay=inf"], ["weight_decay", "inf"]),
    "set-weight-decay-negative": (["random", "--set", "weight_decay=-1"], ["weight_decay", "-1"]),
    "set-optimizer": (["random", "--set", "optimizer=nope"], ["optimizer", "nope"]),
    "set-activation": (["random", "--set", "activation=nope"], ["activation", "nope"]),
    "set-dropout-1": (["random", "--set", "dropout=1"], ["dropout", "1"]),
    "set-momentum-negative": (["random", "--set", "momentum=-0.5"], ["momentum", "-0.5"]),
    "set-beta2-1": (["random", "--set", "beta2=1"], ["beta2", "1"]),
    "set-dtype": (["random", "--set", "dtype=float16"], ["dtype", "float16"]),
    "set-train-eval": (["random", "--set", "train_eval=sometimes"], ["train_eval", "sometimes"]),
    "set-weight-init-negative": (["random", "--set", "weight_init=-1"], ["weight_init", "-1"]),
    "set-weight-init-word": (
        ["random", "--set", "weight_init=glorious"],
        ["weight_init", "glorious"],
    ),
    "set-hswish-n-0": (["random", "--set", "hswish_n=0"], ["hswish_n", "0"]),
    "set-flooding-negative": (["random", "--set", "flooding=-1"], ["flooding", "-1"]),
    "set-batchnorm": (["random", "--set", "batchnorm=maybe"], ["batchnorm", "maybe"]),
    "set-epochs-0": (["random", "--set", "epochs=0"], ["--epochs", "0"]),
    "set-samples-word": (["random", "--set", "samples=many"], ["--samples", "many"]),
    "set-time-limit-negative": (["random", "--set", "time_limit=-1"], ["--time-limit", "-1"]),
    # an own objective given a setting only the built-in network reads: refused, not dropped
    "objective-hidden": (
        ["random", "--objective", "{example}", "--param", "lr=log:1e-3:1", "--hidden", "30"],
        ["hidden", "built-in network", "--objective"],
    ),
    "objective-set-optimizer": (
        ["random", "--objective", "{example}", "--param", "lr=log:1e-3:1"]
        + ["--set", "optimizer=adam", "--batch-size", "50", "--hidden", "30"],
        ["batch_size, hidden", "built-in network", "--set NAME=VALUE"],
    ),
    # --param
    "param-no-equals": (["random", "--param", "lr"], ["--param", "NAME=SPEC", "'lr'"]),
    "param-empty-name": (["random", "--param", "=log:1e-3:1e-2"], ["--param", "'=log:1e-3:1e-2'"]),
    "param-unknown-name": (["random", "--param", "nope=log:1:2"], ["--param", "'nope'"]),
    "param-unknown-kind": (["random", "--param", "lr=cube:1:2"], ["--param", "cube"]),
    "param-one-bound": (["random", "--param", "lr=log:1e-3"], ["--param", "log:1e-3"]),
    "log-low-0": (["random", "--param", "lr=log:0:1"], ["lr", "low"]),
    "log-low-ge-high": (["random", "--param", "lr=log:1e-2:1e-3"], ["lr", "low", "high"]),
    "param-negative-lr": (["random", "--param", "lr=float:-1:1"], ["lr", "-1"]),
    "param-batch-size-0": (["random", "--param", "batch_size=int:0:10"], ["--batch-size", "0"]),
    "param-samples-too-few": (
        ["random", "--param", "samples=int:5:500"],
        ["--samples 5", "validation"],
    ),
    "param-choice-empty": (["random", "--param", "lr=choice:"], ["--param", "choice:"]),
    "param-choice-bad": (
        ["random", "--param", "activation=choice:relu,nope"],
        ["activation", "nope"],
    ),
    "param-twice": (
        ["random", "--param", "lr=log:1e-3:1e-2", "--param", "lr=log:1e-4:1e-2"],
        ["--param lr", "twice"],
    ),
    "param-and-set": (
        ["random", "--param", "lr=log:1e-3:1e-2", "--set", "lr=0.1"],
        ["--set lr", "--param lr"],
    ),
    # pruning, confirm stage, backends
    "prune-unknown": (["random", "--prune", "sometimes"], ["--prune", "sometimes"]),
    "prune-min-epochs-beyond": (
        ["random", "--prune", "halving", "--min-epochs", "10", "--epochs", "2"],
        ["--prune", "--min-epochs 10", "--epochs 2"],
    ),
    "prune-reduction-1": (
        ["random", "--prune", "halving", "--reduction-factor", "1"],
        ["--reduction-factor", "1"],
    ),
    "min-epochs-0": (["random", "--min-epochs", "0"], ["--min-epochs", "0"]),
    "confirm-negative": (["random", "--confirm", "-1"], ["--confirm", "-1"]),
    "confirm-word": (["random", "--confirm", "all"], ["--confirm", "all"]),
    "repeats-0": (["random", "--repeats", "0"], ["--repeats", "0"]),
    "repeats-10**12": (
        ["random", "--repeats", "1000000000000"],
        ["--repeats", "1000000000000", "at most"],
    ),
    "bayes-batch-0": (["bayes", "--bayes-batch", "0"], ["--bayes-batch", "0"]),
    "backend-unknown": (["random", "--backend", "mpi"], ["--backend", "mpi"]),
    "dask-without-scheduler": (["random", "--backend", "dask"], ["dask", "scheduler"]),
    "scheduler-without-dask": (
        ["random", "--scheduler", "tcp://127.0.0.1:1"],
        ["scheduler", "dask"],
    ),
    "scheduler-not-an-address": (
        ["random", "--backend", "dask", "--scheduler", "notaurl"],
        ["notaurl"],
    ),
    "unknown-option": (["random", "--trails", "5"], ["--trails"]),
    "unknown-strategy": (["sobol", "--trials", "3"], ["sobol"]),
    # datasets
    "unknown-dataset": (["random", "--dataset", "nope"], ["--dataset", "nope"]),
    "dataset-empty": (["random", "--dataset", ""], ["--dataset", "''"]),
    "dataset-missing-npz": (
        ["random", "--dataset", "/nonexistent/x.npz"],
        ["--dataset", "/nonexistent/x.npz"],
    ),
    "dataset-labels-10**6": (["random", "--dataset", "{npz:labels-10**6}"], ["y_train", "1000000"]),
    "dataset-labels-2**40": (
        ["random", "--dataset", "{npz:labels-2**40}"],
        ["y_train", "1099511627776"],
    ),
    "dataset-no-features": (["random", "--dataset", "{npz:no-features}"], ["x_train", "(300, 0)"]),
    "dataset-nan": (["random", "--dataset", "{npz:nan}"], ["x_train", "NaN"]),
    "dataset-not-npz": (["random", "--dataset", "{npz:garbage}"], ["garbage.npz"]),
    # the other commands
    "no-command": ([], ["required"]),
    "report-unknown-study": (["report", "nope", "--out", "{out}"], ["no study", "nope"]),
    "report-bad-name": (["report", "../x", "--out", "{out}"], ["name", "'../x'"]),
    "report-top-0": (["report", "keep", "--top", "0", "--out", "{out}"], ["--top", "0"]),
    "report-format": (["report", "keep", "--format", "xml", "--out", "{out}"], ["--format", "xml"]),
    "confirm-unknown-study": (["confirm", "nope", "--out", "{out}"], ["no study", "nope"]),
    "confirm-too-many": (
        ["confirm", "keep", "--confirm", "5", "--out", "{out}"],
        ["--confirm 5", "keep"],
    ),
    "compare-not-searched": (
        ["compare", "keep", "--by", "optimizer", "--out", "{out}"],
        ["optimizer", "keep"],
    ),
    "compare-thresholds": (
        ["compare", "keep", "--by", "lr", "--thresholds", "2", "--out", "{out}"],
        ["--thresholds", "2"],
    ),
    "list-no-folder": (["list", "--out", "{out}/nope"], ["--out", "no such folder"]),
    "run-no-file": (["run", "nofile.toml"], ["nofile.toml"]),
    "data-unknown": (["data", "download", "cifar"], ["cifar"]),
}
TINY = ["--epochs", "3", "--hidden", "20,20", "--quiet"]
STUDY_COMMANDS = ("grid", "random", "bayes", "sobol")


def _malformed_npz(path, kind: str) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((300, 10)).astype(np.float32), np.arange(300) % 10
    if kind == "garbage":
        path.write_bytes(b"not a zip file")
        return
    if kind == "labels-10**6":
        y = np.full(300, 10**6)
    elif kind == "labels-2**40":
        y = np.full(300, 2**40)
    elif kind == "no-features":
        x = np.zeros((300, 0), np.float32)
    elif kind == "nan":
        x[3, 2] = np.nan
    np.savez(path, x_train=x, y_train=y)


def bad_input(case: str, folder, out) -> tuple[list[str], list[str]]:
    """The case's argv and fragments, its files made in ``folder`` and its studies folder
    ``out``."""
    argv, fragments = BAD_INPUT[case]
    example = Path(__file__).resolve().parents[2] / "examples" / "two_layer_net.py"
    names = {
        "{out}": str(out),
        "{file}": str(folder / "afile"),
        "{example}": f"{example}:objective",
    }
    (folder / "afile").write_text("not a folder\n")
    for word in argv:
        if word.startswith("{npz:"):
            kind = word[5:-1]
            names[word] = str(folder / f"{kind.replace('*', '')}.npz")
            _malformed_npz(folder / f"{kind.replace('*', '')}.npz", kind)

    def fill(text: str) -> str:
        for key, value in names.items():
            text = text.replace(key, value)
        return text

    argv = [fill(word) for word in argv]
    if argv[:1] and argv[0] in STUDY_COMMANDS:
        tiny = TINY if "--objective" not in argv else ["--epochs", "3", "--quiet"]
        argv = [argv[0], *tiny, *argv[1:]] + ([] if "--out" in argv else ["--out", str(out)])
    return argv, [fill(f) for f in fragments]


def test_at_least_60_kinds_of_bad_input_are_tried():
    assert len(BAD_INPUT) >= 60


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    """A finished tiny study ``keep``, made once: bad input must leave a copy of it untouched."""
    root = tmp_path_factory.mktemp("template") / "studies"
    assert (
        run_main(
            [
                "random",
                "--trials",
                "2",
                "--jobs",
                "1",
                "--name",
                "keep",
                "--out",
                str(root),
                "--samples",
                "200",
                "--confirm",
                "1",
                "--repeats",
                "1",
                *TINY,
            ]
        )
        == 0
    )
    return root


@pytest.fixture
def existing_study(finished_study, tmp_path):
    """``tmp_path/studies`` holding a finished study ``keep``."""
    out = tmp_path / "studies"
    shutil.copytree(finished_study, out)
    return out


def _check_one_line(stderr: str, fragments: list[str]) -> None:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("hpsearch: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_through_main_exits_2_with_one_line_and_writes_nothing(
    case, tmp_path, existing_study, snapshot, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # a relative path of a case lands here, watched too
    argv, fragments = bad_input(case, tmp_path, existing_study)
    capsys.readouterr()
    before = snapshot(tmp_path)
    code = run_main(argv)
    captured = capsys.readouterr()
    assert code == 2
    _check_one_line(captured.err, fragments)
    assert snapshot(tmp_path) == before


# The cases run as a real process too: one or more from each stage that refuses (the parser,
# the settings, the space, the data, the folder, the objective, the cluster, each command), for
# what only a process shows (its exit status, stderr, Python's own start and exit). Every case
# runs through main() above, in this process: the refusals themselves are the same code.
THROUGH_A_PROCESS = sorted(
    [
        "trials-0",
        "trials-abc",
        "samples-too-many",
        "val-ratio-nan",
        "hidden-too-wide",
        "name-dotdot",
        "out-a-file",
        "set-unknown",
        "set-lr-nan",
        "objective-hidden",
        "param-unknown-kind",
        "log-low-ge-high",
        "param-and-set",
        "prune-unknown",
        "backend-unknown",
        "scheduler-not-an-address",
        "unknown-option",
        "dataset-nan",
        "dataset-not-npz",
        "no-command",
        "report-unknown-study",
        "confirm-too-many",
        "compare-not-searched",
        "list-no-folder",
        "run-no-file",
        "data-unknown",
    ]
)


@pytest.fixture(scope="module")
def through_subprocesses(finished_study, tmp_path_factory):
    """Each case of :data:`THROUGH_A_PROCESS` run as ``python -m hpsearch`` in a folder of its
    own, a few at a time (they mostly wait for Python to start): per case, the finished process
    and whether its folder changed."""

    def one(case: str):
        folder = tmp_path_factory.mktemp(case.replace("*", ""))
        out = folder / "studies"
        shutil.copytree(finished_study, out)
        argv, fragments = bad_input(case, folder, out)
        before = _snapshot(folder)
        proc = run_cli(argv, folder, timeout=120)
        return proc, fragments, _snapshot(folder) == before

    with ThreadPoolExecutor(4) as pool:
        return dict(zip(THROUGH_A_PROCESS, pool.map(one, THROUGH_A_PROCESS), strict=True))


def test_the_cases_run_as_a_process_are_cases() -> None:
    assert set(THROUGH_A_PROCESS) <= set(BAD_INPUT)


@pytest.mark.parametrize("case", THROUGH_A_PROCESS)
def test_bad_input_through_a_subprocess_exits_2_with_one_line_and_creates_nothing(
    case, through_subprocesses
):
    proc, fragments, unchanged = through_subprocesses[case]
    assert proc.returncode == 2, proc.stderr
    _check_one_line(proc.stderr, fragments)
    assert unchanged, "nothing may be created or changed"


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


def test_resuming_with_different_settings_exits_2_and_changes_nothing(
    tmp_path, existing_study, snapshot, capsys
):
    out = existing_study
    capsys.readouterr()
    before = snapshot(tmp_path)
    code = run_main(
        [
            "random",
            "--trials",
            "2",
            "--jobs",
            "1",
            "--name",
            "keep",
            "--out",
            str(out),
            "--samples",
            "200",
            "--epochs",
            "4",
            "--hidden",
            "20,20",
            "--quiet",
        ]
    )
    assert code == 2
    _check_one_line(capsys.readouterr().err, ["keep"])
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- light answers
NUMERIC = ("numpy", "pandas", "scipy", "sklearn", "skopt", "matplotlib", "joblib", "distributed")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["random", "--help"],
        ["random", "--trials", "0"],
        ["random", "--hidden", "100x0"],
        ["random", "--set", "nope=1"],
        ["sobol"],
    ],
    ids=["help", "version", "random-help", "trials-0", "hidden", "set-unknown", "strategy"],
)
def test_help_version_and_usage_errors_load_nothing_numeric(argv):
    script = (
        "import sys\nfrom hpsearch.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({NUMERIC!r})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ulimit -v: Linux")
def test_help_answers_under_a_300_mb_address_space_limit(tmp_path):
    import resource

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (300_000 * 1024, 300_000 * 1024))

    for argv in (["--help"], ["--version"], ["random", "--trials", "0"]):
        proc = subprocess.run(
            [sys.executable, "-m", "hpsearch", *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=limited,
        )
        assert proc.returncode == (2 if "--trials" in argv else 0), proc.stderr
        assert (proc.stdout + proc.stderr).strip() and "Traceback" not in proc.stderr


def test_a_malformed_scheduler_address_leaves_no_client_to_complain_at_exit(tmp_path):
    pytest.importorskip("distributed")
    # The console script's way: main() returns, and the interpreter exits normally, finalisers
    # and all.
    script = (
        "import sys\nfrom hpsearch.cli.main import main\n"
        "sys.exit(main(['random', '--backend', 'dask', '--scheduler', 'notaurl', '--quiet']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    _check_one_line(proc.stderr, ["--scheduler", "notaurl"])
    assert list(tmp_path.iterdir()) == []


def test_a_warning_two_checks_give_is_said_once(tmp_path, capsys):
    # A batch larger than the training part is warned (full-batch descent is well defined).
    code = run_main(
        [
            "random",
            "--trials",
            "1",
            "--jobs",
            "1",
            "--confirm",
            "0",
            "--name",
            "w",
            "--out",
            str(tmp_path),
            "--samples",
            "200",
            "--batch-size",
            "100000",
            *TINY,
        ]
    )
    assert code == 0
    warned = [
        line
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("hpsearch: warning:")
    ]
    assert len(warned) == 1 and "--batch-size 100000 exceeds" in warned[0], warned


def test_a_range_of_10_to_the_12_values_is_checked_at_its_ends_not_point_by_point():
    from hpsearch.builtin.config import TrainConfig
    from hpsearch.space.dimensions import IntUniform
    from hpsearch.space.search_space import SearchSpace
    from hpsearch.study.options import check_arguments

    space = SearchSpace({"batch_size": IntUniform(1, 10**12)})  # a grid of it would need 8 TB
    with pytest.warns(
        UserWarning, match="searched batch_size 1000000000000 exceeds the 400 training images"
    ):
        checked, *_ = check_arguments(
            strategy="random",
            space=space,
            n_trials=2,
            n_jobs=1,
            seed=0,
            config=TrainConfig(),
            backend="loky",
            scheduler=None,
            prune="none",
            min_epochs=5,
            reduction_factor=3,
            confirm=0,
            repeats=1,
        )
    assert checked is space


@pytest.mark.parametrize(
    "argv,names",
    [
        (["random", "--trials", "3"], 1),
        (["random", "--name", "x"], 1),
        (["confirm", "x", "--repeats", "2"], 0),
        (["compare", "x", "--by", "lr"], 0),
    ],
)
def test_the_resume_command_is_one_the_parser_takes(argv, names):
    from hpsearch.cli.training import resume_command

    words = shlex.split(resume_command(argv, "x"))
    assert words[:3] == ["python", "-m", "hpsearch"]
    assert words.count("--name") == names  # added when missing, never where the command takes none
    build_parser().parse_args(words[3:])  # an argument error would exit 2
