"""The CLI's study files, --set, report formats, data download and --version."""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _data_server import FileServer, idx_gz

from hpsearch import __version__
from hpsearch.cli.main import main
from hpsearch.cli.studyfile import study_file_argv

TINY_SET = {"epochs": 2, "hidden": [20, 20], "samples": 200}


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def _toml(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_study_file_runs_the_study_it_declares(tmp_path: Path) -> None:
    file = _toml(
        tmp_path / "study.toml",
        """
strategy = "random"
trials = 3
seed = 5
quiet = true

[space]
lr = "log:1e-3:1e-1"
batch_size = "int:32:64"

[set]
epochs = 2
hidden = [20, 20]
samples = 200
""",
    )
    code, out = _run(["run", str(file), "--name", "from-file", "--out", str(tmp_path / "studies")])
    assert code == 0, out
    df = pd.read_csv(tmp_path / "studies" / "from-file" / "ranking.csv")
    assert len(df) == 3
    assert {"lr", "batch_size", "weight_decay"} <= set(df.columns)
    assert df["batch_size"].between(32, 64).all() and df["lr"].between(1e-3, 1e-1).all()
    assert (df["epochs"] == 2).all()
    stored = json.loads((tmp_path / "studies" / "from-file" / "study.json").read_text())
    assert stored["seed"] == 5 and stored["config"]["hidden"] == [20, 20]


def test_a_json_study_file_is_the_same_command_line_as_its_toml_twin(tmp_path: Path) -> None:
    spec = {"strategy": "grid", "trials": 4, "space": {"lr": "log:1e-4:1e-2"}, "set": TINY_SET}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    argv = study_file_argv(str(tmp_path / "s.json"))
    assert argv[0] == "grid"
    assert "--param" in argv and "lr=log:1e-4:1e-2" in argv
    assert "hidden=20,20" in argv and "epochs=2" in argv
    assert argv[argv.index("--trials") + 1] == "4"


@pytest.mark.parametrize(
    "body, words",
    [
        ("trials = 3\n", "strategy"),
        ('strategy = "sobol"\n', "strategy"),
        ('strategy = "random"\ntrials = 0\n', "--trials"),
        ('strategy = "random"\nspace = 3\n', "[space]"),
        ("strategy = [unclosed\n", "cannot read study file"),
    ],
)
def test_bad_study_files_are_one_line_errors(tmp_path: Path, capsys, body: str, words: str) -> None:
    file = _toml(tmp_path / "bad.toml", body)
    assert main(["run", str(file), "--out", str(tmp_path / "studies")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err
    assert not (tmp_path / "studies").exists()


def test_set_fixes_a_setting_and_takes_it_out_of_the_default_space(tmp_path: Path) -> None:
    code, _ = _run(
        [
            "random",
            "--trials",
            "2",
            "--set",
            "weight_decay=0",
            "--set",
            "epochs=2",
            "--set",
            "hidden=20x2",
            "--samples",
            "200",
            "--quiet",
            "--name",
            "fixed",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    df = pd.read_csv(tmp_path / "fixed" / "ranking.csv")
    assert "weight_decay" not in df.columns and "lr" in df.columns
    stored = json.loads((tmp_path / "fixed" / "study.json").read_text())
    assert stored["config"]["weight_decay"] == 0 and stored["config"]["hidden"] == [20, 20]
    assert list(stored["space"]) == ["lr"]


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--set", "lr=0.1", "--param", "lr=log:1e-3:1e-1"], "conflicts"),
        (["--set", "bogus=1"], "not a training setting"),
        (["--set", "optimizer=lbfgs"], "optimizer"),
        (["--set", "dropout=1.5"], "dropout"),
    ],
)
def test_bad_set_values_are_one_line_errors(
    tmp_path: Path, capsys, argv: list[str], words: str
) -> None:
    assert main(["random", "--trials", "2", "--out", str(tmp_path / "s"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err
    assert not (tmp_path / "s").exists()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("studies")
    code, _ = _run(
        [
            "random",
            "--trials",
            "5",
            "--epochs",
            "2",
            "--hidden",
            "20,20",
            "--samples",
            "200",
            "--quiet",
            "--jobs",
            "1",
            "--name",
            "done",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_report_formats_print_the_top_rows(finished: Path) -> None:
    expected = pd.read_csv(finished / "done" / "ranking.csv").head(3)
    code, out = _run(["report", "done", "--out", str(finished), "--top", "3", "--format", "json"])
    assert code == 0
    rows = json.loads(out)
    assert [r["trial"] for r in rows] == list(expected["trial"])
    code, out = _run(["report", "done", "--out", str(finished), "--top", "3", "--format", "csv"])
    assert code == 0
    printed = pd.read_csv(io.StringIO(out))
    assert list(printed["trial"]) == list(expected["trial"])
    code, out = _run(
        ["report", "done", "--out", str(finished), "--top", "2", "--format", "markdown"]
    )
    assert code == 0
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 2  # header, rule, two rows


def test_report_rebuilds_every_file_of_an_interrupted_study(
    finished: Path, tmp_path: Path, capsys
) -> None:
    folder = tmp_path / "cut"
    folder.mkdir()
    source = finished / "done"
    (folder / "study.json").write_text(
        (source / "study.json").read_text().replace('"done"', '"cut"')
    )
    lines = (source / "trials.jsonl").read_text().splitlines()
    (folder / "trials.jsonl").write_text(
        "\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2]
    )
    code, out = _run(["report", "cut", "--out", str(tmp_path)])
    assert code == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if "torn" in line]
    assert len(warning) == 1 and warning[0].startswith("hpsearch: warning:")
    assert "top 2 of 2 trials" in out
    for name in ("ranking.csv", "curves.csv", "best_curves.png", "history.png", "index.html"):
        assert (folder / name).stat().st_size > 0, name
    assert len(pd.read_csv(folder / "ranking.csv")) == 2


def test_data_download_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist.npz"
    if not shared.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{shared} is missing; CI needs it beside the clone")
        pytest.skip(f"{shared} not found")
    from hpsearch.data import download as data

    files = data.REMOTE_DATASETS["mnist"].files
    with np.load(shared) as d:
        served = {files[k]: idx_gz(d[k]) for k in data.PARTS}
    server = FileServer(served)
    try:
        monkeypatch.setenv("HPSEARCH_DATA", str(tmp_path / "cache"))
        code, out = _run(["data", "download", "mnist", "--mirror", server.url])
        assert code == 0
        path = Path(out.split(": ", 1)[1].strip())
        assert path.is_file() and str(path).startswith(str(tmp_path / "cache"))
        assert len(server.requests) == 4
        assert main(["data", "download", "mnist", "--mirror", server.url]) == 0
        assert len(server.requests) == 4  # the second call is a cache hit
    finally:
        server.stop()


def test_version_and_help_exit_zero(capsys) -> None:
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["data", "--help"]) == 0
    assert main(["run", "--help"]) == 0


def test_more_jobs_than_cores_is_a_one_line_warning_and_runs_on_the_cores(
    tmp_path: Path, capsys
) -> None:
    jobs = (os.cpu_count() or 1) + 5
    code, _ = _run(
        [
            "random",
            "--trials",
            "3",
            "--epochs",
            "2",
            "--hidden",
            "20,20",
            "--samples",
            "200",
            "--jobs",
            str(jobs),
            "--quiet",
            "--name",
            "many",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if line.startswith("hpsearch: warning:")]
    assert len(warnings) == 1
    # The command line names its own flag, not the Python argument.
    assert f"--jobs {jobs}" in warnings[0] and f"{os.cpu_count()} cores" in warnings[0]
    assert "n_jobs" not in warnings[0]
    assert len(pd.read_csv(tmp_path / "many" / "ranking.csv")) == 3
