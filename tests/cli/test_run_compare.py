"""A study file that compares a setting: one command prints the comparison, writes
compare_<setting>.csv/.png and shows the table on the study's page."""

from __future__ import annotations

import pandas as pd
from _snapshots import _snapshot
from test_cli import run_main


def _file(tmp_path, compare: str, extra: str = "") -> str:
    path = tmp_path / "opt.toml"
    path.write_text(
        f"""# A tiny optimizer comparison.
strategy = "grid"
trials = 4
name = "opt"
confirm = 0
repeats = 2
compare = "{compare}"
{extra}
[space]
optimizer = "choice:sgd,adam"
lr = "log:1e-3:1"

[set]
epochs = 3
hidden = [20, 20]
samples = 200
weight_decay = 0.0
"""
    )
    return str(path)


def test_one_command_prints_writes_and_shows_the_comparison(tmp_path, capsys):
    out = tmp_path / "studies"
    assert run_main(["run", _file(tmp_path, "optimizer"), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    table = printed[printed.index("compared by optimizer:") :].splitlines()
    header = table[1].split()
    assert header[:3] == ["optimizer", "lr", "repeats"]  # each row's own lr, named
    rows = {line.split()[0]: line for line in table[2:4]}
    assert set(rows) == {"adam", "sgd"}
    csv = pd.read_csv(out / "opt" / "compare_optimizer.csv")
    # The declared order of the choices (choice:sgd,adam), in the table as in the figure.
    assert csv["optimizer"].tolist() == ["sgd", "adam"] and (csv["repeats"] == 2).all()
    assert (out / "opt" / "compare_optimizer.png").stat().st_size > 0
    # Thresholds from the data: the best value's runs reach each one.
    best = csv.loc[csv["test_mean"].idxmax()]
    reached = [c for c in csv.columns if c.startswith("reached_")]
    assert len(reached) == 3 and all(best[c] >= 1 for c in reached)
    page = (out / "opt" / "index.html").read_text()
    assert 'id="compare-optimizer"' in page and "compare_optimizer.png" in page
    # confirm = 0: the comparison's runs compare, they choose nothing (no headline, as on
    # the terminal).
    assert 'id="headline"' not in page and "chosen:" not in printed
    # The confirm runs the comparison made carry test curves (the file did not say
    # test_curves): no "no test curve" anywhere.
    assert "no test curve" not in printed and "no test curve" not in page


def test_the_files_thresholds_are_the_tables_columns(tmp_path, capsys):
    out = tmp_path / "studies"
    path = _file(tmp_path, "optimizer", "thresholds = [0.1, 0.2]")
    assert run_main(["run", path, "--out", str(out), "--quiet"]) == 0
    csv = pd.read_csv(out / "opt" / "compare_optimizer.csv")
    assert [c for c in csv.columns if c.startswith("epochs_to_")] == [
        "epochs_to_0.1",
        "epochs_to_0.2",
    ]


def test_comparing_a_setting_that_is_not_searched_is_refused_before_anything_is_written(
    tmp_path, capsys
):
    out = tmp_path / "studies"
    path = _file(tmp_path, "activation")
    before = _snapshot(tmp_path)
    assert run_main(["run", path, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--compare activation: not a searched setting" in err[0]
    assert _snapshot(tmp_path) == before


def test_comparing_a_setting_the_grid_gives_one_point_is_refused_before_anything_is_written(
    tmp_path, capsys
):
    out = tmp_path / "studies"
    before = _snapshot(tmp_path)
    argv = ["grid", "--trials", "2", "--param", "lr=log:1e-3:1e-1", "--epochs", "1"]
    argv += ["--samples", "200", "--compare", "weight_decay", "--out", str(out)]
    assert run_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the grid gives it one point" in err[0]
    assert _snapshot(tmp_path) == before
