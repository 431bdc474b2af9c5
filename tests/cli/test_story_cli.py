"""One story in every output (issue #28), through the command line: a study whose trials all
fail says so, `report` says what it did (and reads a running study), a study file's unknown key,
`confirm --help`, and the names `import hpsearch` shows."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import types
from pathlib import Path

import pandas as pd
import pytest
from test_usability import _run

from hpsearch import Study, TrainConfig

TINY = ["--epochs", "2", "--hidden", "20,20", "--samples", "200", "--quiet", "--jobs", "1"]


def _study(tmp_path: Path, name: str, *extra: str) -> tuple[str, str]:
    code, out, err = _run(["random", "--name", name, "--out", str(tmp_path), *TINY, *extra])
    assert code == 0, err
    return out, err


def _wrote(text: str) -> list[str]:
    """The names of the files a command said it wrote."""
    return sorted(
        Path(line.split(" ", 1)[1]).name for line in text.splitlines() if "wrote " in line
    )


# ----------------------------------------------------------------------------- point 5
def test_a_study_whose_trials_all_fail_says_so_on_the_terminal_and_in_list(tmp_path: Path) -> None:
    out, _ = _study(
        tmp_path, "fails", "--trials", "4", "--param", "lr=log:1e4:1e6", "--confirm", "2"
    )
    ranking = pd.read_csv(tmp_path / "fails" / "ranking.csv")
    assert len(ranking) == 4  # the case: every trial unscored (the loss blows up)
    assert not ranking["state"].isin(["COMPLETE", "PRUNED"]).any(), ranking["state"]
    states = ranking["state"].value_counts()
    counts = ", ".join(f"{states[s]} {s}" for s in ("DIVERGED", "TIMEOUT", "FAILED") if s in states)
    lines = out.splitlines()
    assert f"no trial has a score ({counts}), so nothing was confirmed" in lines
    assert not any(line.startswith("chosen:") for line in lines)
    assert not (tmp_path / "fails" / "repeats.jsonl").exists()
    # A study that has no trial yet is not a failed one.
    waiting = Study(
        "waiting",
        directory=tmp_path,
        n_trials=3,
        config=TrainConfig(epochs=2, hidden=(20,), samples=200),
        progress=False,
    )
    waiting.ask()
    code, out, _ = _run(["list", "--out", str(tmp_path)])
    rows = dict(line.split("  ", 1) for line in out.strip().splitlines())
    assert code == 0
    assert f"4/4 trials  no trial scored ({counts})  changed " in rows["fails"]
    assert "0/3 trials  no score yet  changed " in rows["waiting"]


# ----------------------------------------------------------------------------- point 6
def test_report_names_only_the_files_it_wrote(tmp_path: Path) -> None:
    out, _ = _study(tmp_path, "w", "--trials", "3", "--confirm", "1", "--repeats", "1")
    assert "model.npz" in _wrote(out)  # the run saved the chosen model
    # The same command again: nothing to train, the model kept as it was.
    out, _ = _study(tmp_path, "w", "--trials", "3", "--confirm", "1", "--repeats", "1")
    assert "model.npz" not in _wrote(out) and "ranking.csv" in _wrote(out)
    time.sleep(0.01)
    code, _, err = _run(["report", "w", "--out", str(tmp_path)])
    assert code == 0 and _wrote(err) == [], err  # every file is newer than the logs
    code, _, err = _run(["report", "w", "--out", str(tmp_path), "--write"])
    written = _wrote(err)
    assert code == 0 and "ranking.csv" in written and "index.html" in written
    assert "model.npz" not in written  # report never writes the model
    # A log newer than the reports: the stale files are written again, and said.
    (tmp_path / "w" / "trials.jsonl").touch()
    code, _, err = _run(["report", "w", "--out", str(tmp_path)])
    assert code == 0 and "ranking.csv" in _wrote(err) and "model.npz" not in _wrote(err)


def test_report_markdown_puts_the_table_alone_on_stdout(tmp_path: Path) -> None:
    _study(tmp_path, "md", "--trials", "3", "--confirm", "1", "--repeats", "1")
    code, out, err = _run(["report", "md", "--out", str(tmp_path), "--format", "markdown"])
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 2 + 3 and all(line.startswith("|") for line in lines), out
    assert any(line.startswith("chosen:") for line in err.splitlines()), err
    # The table format's title stays with its table; its notes and headline go to stderr too.
    code, out, err = _run(["report", "md", "--out", str(tmp_path)])
    assert code == 0 and out.startswith("top 3 of 3 trials (md)")
    assert "chosen:" not in out and "chosen:" in err


def test_report_reads_a_running_study_from_its_logs_and_writes_nothing(
    tmp_path: Path, snapshot, held_lock
) -> None:
    _study(tmp_path, "busy", "--trials", "3", "--confirm", "0")
    (tmp_path / "busy" / "trials.jsonl").touch()  # its reports are stale: a report would write
    with held_lock(tmp_path, "busy") as pid:
        before = snapshot(tmp_path)
        code, out, err = _run(["report", "busy", "--out", str(tmp_path), "--format", "csv"])
        after = snapshot(tmp_path)
        code_table, out_table, err_table = _run(["report", "busy", "--out", str(tmp_path)])
    assert code == 0, err
    assert len(pd.read_csv(io.StringIO(out))) == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"being run by another process (pid {pid})" in lines[0]
    assert "no file was written" in lines[0]
    assert after == before, "a report on a running study wrote into its folder"
    assert code_table == 0 and out_table.startswith("top 3 of 3 trials (busy)")
    assert "wrote" not in err_table
    # The help says what it does.
    code, out, _ = _run(["report", "--help"])
    assert code == 0
    text = " ".join(out.split())
    assert "running" in text and "nothing is written" in text


# ----------------------------------------------------------------------------- point 12
@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("trails", 'strategy = "random"\ntrails = 6\n[set]\nepochs = 2\n'),
        # A prefix of an option too: argparse would take `repeat` for --repeats, but a file's
        # key must name its option whole.
        *[
            (key, f'strategy = "grid"\n{key} = 3\n[space]\nlr = "log:1e-3:1"\n')
            for key in ("repeat", "compar", "trial")
        ],
    ],
)
def test_a_study_files_unknown_key_names_the_file_and_the_key(
    tmp_path: Path, snapshot, key: str, text: str
) -> None:
    file = tmp_path / "typo.toml"
    file.write_text(text)
    before = snapshot(tmp_path)
    code, out, err = _run(["run", str(file), "--out", str(tmp_path / "studies")])
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1, err
    assert lines[0].startswith(f"hpsearch: error: study file {file}: unknown key {key} ")
    assert snapshot(tmp_path) == before


def test_confirm_help_describes_the_confirm_commands_own_options() -> None:
    code, out, _ = _run(["confirm", "--help"])
    text = " ".join(out.split())
    assert code == 0
    assert "after the search" not in text and "0: no confirm stage" not in text
    assert "--confirm K configurations to train again" in text
    assert "the study's own" in text and "--no-refit" in text
    code, _, err = _run(["confirm", "x", "--confirm", "0"])
    assert code == 2 and "--confirm" in err and "positive integer" in err


def test_import_hpsearch_shows_its_public_names_only() -> None:
    import hpsearch

    names = dir(hpsearch)
    for private in ("Any", "annotations", "importlib", "sys", "lazy_exports", "_EXPORTS"):
        assert private not in names, private
    for helper in ("Any", "annotations", "importlib", "sys"):
        assert not hasattr(hpsearch, helper), helper
    assert set(hpsearch.__all__) <= set(names)
    # Beside the public names and the dunders: only the package's own submodules loaded so far.
    others = [n for n in names if not n.startswith("__") and n not in hpsearch.__all__]
    assert all(
        isinstance(getattr(hpsearch, n), types.ModuleType)
        and getattr(hpsearch, n).__name__ == f"hpsearch.{n}"
        for n in others
    ), others
    # Still loaded on first use: listing the names imports none of their modules.
    code = (
        "import sys, hpsearch; names = dir(hpsearch); "
        "print(json.dumps(['Study' in names, 'hpsearch.study.study' in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == [True, False]


@pytest.mark.parametrize("package", ["hpsearch.strategies", "hpsearch.builtin.nn"])
def test_subpackages_show_their_public_names_only(package: str) -> None:
    import importlib

    module = importlib.import_module(package)
    names = dir(module)
    assert "annotations" not in names and "lazy_exports" not in names
    assert set(module.__all__) <= set(names)
