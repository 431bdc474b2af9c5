"""publish: the one writer of a study folder's CSVs, figures and index.html."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pandas as pd
import PIL.Image
import pytest
from _report_fixtures import definition, make_repeats, make_trials

from hpsearch.builtin.config import TrainConfig
from hpsearch.reports import curve_plots, plots, score_plots
from hpsearch.reports.publish import map_axes, write_comparison, write_reports
from hpsearch.space.dimensions import Categorical, IntUniform, LogUniform
from hpsearch.space.search_space import SearchSpace, default_space

SETTINGS = definition(name="demo", space=default_space().to_json(), created="2024-05-01T12:00:00")


@pytest.fixture
def trials():
    return make_trials(30, failed=(4, 11), n_val=100)


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_write_reports_writes_every_file(tmp_path, trials):
    paths = write_reports(tmp_path, trials, default_space(), settings=SETTINGS)
    assert set(paths) == {
        "ranking",
        "curves",
        "best_curves",
        "history",
        "map",
        "param_scores",
        "index",
    }
    assert paths["map"].name == "map_lr_weight_decay.png"
    for path in paths.values():
        assert path.parent == tmp_path and path.stat().st_size > 0
    assert len(pd.read_csv(paths["ranking"])) == 30
    assert len(pd.read_csv(paths["curves"])) == 114
    assert paths["best_curves"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in paths.values()
    )  # no temp file
    # Figures at plots.DPI: the history figure is 8 x 4 inches.
    assert _png_size(paths["history"]) == (8 * plots.DPI, 4 * plots.DPI)
    assert (
        "demo" in paths["index"].read_text()
        and "created 2024-05-01 12:00:00" in paths["index"].read_text()
    )


def test_write_reports_map_follows_the_varied_parameters(tmp_path):
    space = SearchSpace({"lr": LogUniform(1e-3, 1e-1), "batch_size": IntUniform(16, 64)})
    paths = write_reports(tmp_path, make_trials(8, space=space), space)
    assert paths["map"].name == "map_batch_size_lr.png" and "lr_wd_map" not in paths
    one = SearchSpace(
        {"activation": Categorical(["relu", "sigmoid"]), "lr": LogUniform(1e-3, 1e-1)}
    )
    (tmp_path / "one").mkdir()
    paths = write_reports(tmp_path / "one", make_trials(8, space=one), one)
    assert "map" not in paths and paths["param_scores"].exists()


def test_a_grid_over_one_categorical_draws_no_map_of_pinned_ranges():
    space = default_space().with_dimensions(
        {"activation": Categorical(["relu", "tanh", "sigmoid"])}
    )
    trials = make_trials(6, space=space, score=lambda p: 0.5)
    pinned = [
        dataclasses.replace(t, params={**t.params, "lr": 1e-4, "weight_decay": 1e-6})
        for t in trials
    ]
    assert map_axes(trials, space) == ("lr", "weight_decay")
    assert map_axes(pinned, space) is None


def test_confirmed_runs_give_confirmed_csv_and_a_headline_first_on_the_page(tmp_path, trials):
    runs = make_repeats(
        {0: [0.70, 0.72, 0.74], 7: [0.80, 0.82, 0.84]}, {0: trials[0].params, 7: trials[7].params}
    )
    # Nothing here chooses: without the study's choice the page has no headline.
    paths = write_reports(
        tmp_path, trials, default_space(), settings=SETTINGS, repeats=runs, n_best=4
    )
    assert 'id="headline"' not in paths["index"].read_text()
    paths = write_reports(
        tmp_path, trials, default_space(), settings=SETTINGS, repeats=runs, chosen=7, n_best=4
    )
    table = pd.read_csv(paths["confirmed"])
    assert table["trial"].tolist() == [7, 0] and table["val_mean"].tolist() == pytest.approx(
        [0.82, 0.72]
    )
    page = paths["index"].read_text()
    assert 'id="headline"' in page and page.index('id="headline"') < page.index('id="ranking"')
    assert (
        "chosen: lr=" in page
        and "(trial 7) | validation 0.82 ± 0.02 (3 repeats, 100 images)" in page
    )
    assert 'id="confirmed"' in page and '<a href="confirmed.csv">' in page
    # A given headline wins.
    paths = write_reports(
        tmp_path, trials, default_space(), repeats=runs, headline="my own line", n_best=4
    )
    assert "my own line" in paths["index"].read_text()


def _age(folder, seconds: float) -> None:
    """Makes every file in ``folder`` ``seconds`` older."""
    for path in folder.iterdir():
        stat = path.stat()
        os.utime(
            path, ns=(stat.st_atime_ns - int(seconds * 1e9), stat.st_mtime_ns - int(seconds * 1e9))
        )


def test_only_stale_leaves_current_files_alone(tmp_path, trials, monkeypatch):
    (tmp_path / "study.json").write_text(json.dumps(SETTINGS.to_json()))
    (tmp_path / "trials.jsonl").write_text("")
    _age(tmp_path, 100)  # the logs are older than the reports written next
    first = write_reports(tmp_path, trials, default_space(), settings=SETTINGS, n_best=4)
    before = {k: p.stat().st_mtime_ns for k, p in first.items()}

    def refuse(*args, **kwargs):
        raise AssertionError("a current figure was drawn again")

    monkeypatch.setattr(curve_plots, "best_curves", refuse)
    monkeypatch.setattr(score_plots, "history", refuse)
    again = write_reports(tmp_path, trials, default_space(), settings=SETTINGS, only_stale=True)
    assert again == first and {k: p.stat().st_mtime_ns for k, p in again.items()} == before
    # A log written after the reports makes them stale: everything is written again.
    monkeypatch.undo()
    _age(tmp_path, 10)
    (tmp_path / "trials.jsonl").write_text("\n")
    third = write_reports(
        tmp_path, trials, default_space(), settings=SETTINGS, only_stale=True, n_best=4
    )
    assert all(third[k].stat().st_mtime_ns > before[k] - 10 * 10**9 for k in third)
    assert all(
        third[k].stat().st_mtime_ns > (tmp_path / "trials.jsonl").stat().st_mtime_ns - 1
        for k in third
    )
    # A missing report is written whatever the logs' age.
    third["history"].unlink()
    assert write_reports(tmp_path, trials, default_space(), only_stale=True, n_best=4)[
        "history"
    ].exists()


def test_a_failure_while_writing_keeps_the_old_file_and_leaves_no_temp_file(
    tmp_path, trials, monkeypatch
):
    paths = write_reports(tmp_path, trials, default_space(), n_best=4)
    old = paths["history"].read_bytes()

    def full_disk(image, fp, *args, **kwargs):  # where a PNG's bytes meet the disk
        with (
            open(fp, "wb")
            if isinstance(fp, (str, os.PathLike))
            else contextlib.nullcontext(fp) as fh
        ):
            fh.write(b"half a fig")
        raise OSError("disk full")

    monkeypatch.setattr(PIL.Image.Image, "save", full_disk)
    with pytest.raises(OSError, match="disk full"):
        write_reports(tmp_path, trials, default_space(), n_best=4)
    assert paths["history"].read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())


def _note_pids(monkeypatch, tmp_path) -> None:
    """Makes each figure function note the pid of the process that draws it."""
    for module, name in (
        (curve_plots, "best_curves"),
        (score_plots, "history"),
        (score_plots, "lr_wd_map"),
        (score_plots, "param_scores"),
    ):
        real = getattr(module, name)

        def noting(*args, _real=real, _name=name, **kwargs):
            (tmp_path / f"pid-{_name}").write_text(str(os.getpid()))
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, noting)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="figures fork on Linux only")
def test_figures_drawn_beside_this_process_are_the_figures_drawn_here(
    tmp_path, trials, monkeypatch
):
    import hpsearch.reports.publish as publish

    side, alone = tmp_path / "side", tmp_path / "alone"
    side.mkdir(), alone.mkdir()
    monkeypatch.setattr(publish.os, "cpu_count", lambda: 2)
    _note_pids(monkeypatch, tmp_path)
    shared = write_reports(side, trials, default_space(), settings=SETTINGS, n_best=6)
    pids = {p.name: int(p.read_text()) for p in tmp_path.glob("pid-*")}
    # The Best-N grid (the largest) went to the forked copy, the map stayed here.
    assert pids["pid-best_curves"] != os.getpid() and pids["pid-lr_wd_map"] == os.getpid()
    monkeypatch.setattr(publish.os, "cpu_count", lambda: 1)
    single = write_reports(alone, trials, default_space(), settings=SETTINGS, n_best=6)
    assert int((tmp_path / "pid-best_curves").read_text()) == os.getpid()
    assert set(shared) == set(single)
    for key in set(shared) - {"index"}:  # the page names its folder
        assert shared[key].read_bytes() == single[key].read_bytes(), key


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="figures fork on Linux only")
def test_a_figure_the_forked_copy_failed_is_written_here_and_its_error_raised_here(
    tmp_path, trials, monkeypatch
):
    import hpsearch.reports.publish as publish

    monkeypatch.setattr(publish.os, "cpu_count", lambda: 2)
    parent = os.getpid()

    def fails_in_the_copy(*args, **kwargs):
        raise RuntimeError(f"drawn in {'the copy' if os.getpid() != parent else 'this process'}")

    monkeypatch.setattr(curve_plots, "best_curves", fails_in_the_copy)
    with pytest.raises(RuntimeError, match="drawn in this process"):
        write_reports(tmp_path, trials, default_space(), n_best=4)
    assert not list(tmp_path.glob("*.tmp*")) and not (tmp_path / "best_curves.png").exists()


def test_write_comparison_writes_the_table_and_the_curves(tmp_path):
    params = {0: {"optimizer": "sgd"}, 1: {"optimizer": "adam"}}
    runs = make_repeats({0: [0.95, 0.96], 1: [0.985, 0.99]}, params)
    paths = write_comparison(tmp_path, runs, "optimizer", thresholds=(0.9,))
    assert paths == {
        "comparison": tmp_path / "compare_optimizer.csv",
        "comparison_curves": tmp_path / "compare_optimizer.png",
    }
    table = pd.read_csv(paths["comparison"])
    assert table["optimizer"].tolist() == ["adam", "sgd"] and "epochs_to_0.9" in table.columns
    assert _png_size(paths["comparison_curves"])[0] >= 800
    with pytest.raises(ValueError, match="parameter name"):
        write_comparison(tmp_path, runs, "../x")
    with pytest.raises(ValueError, match="no confirmed run has that setting"):
        write_comparison(tmp_path, runs, "momentum")


def test_reports_import_no_writer_and_no_cycle():
    """report, confirmed, html and the figures are pure: importing them loads no writer, and html
    does not import the figures or publish (nor report any of them); nor does writing the live
    page."""
    figures = (
        "'hpsearch.reports.plots', 'hpsearch.reports.curve_plots', 'hpsearch.reports.score_plots'"
    )
    code = (
        "import importlib.util, sys\n"
        # Every module named below must exist, or the checks would pass on a renamed
        # module.
        "names = ['hpsearch.reports.ranking', 'hpsearch.reports.confirmed',"
        " 'hpsearch.reports.comparison', 'hpsearch.reports.formatting',"
        " 'hpsearch.reports.progress', 'hpsearch.reports.html',\n"
        f"         {figures}, 'hpsearch.reports.publish']\n"
        "assert all(importlib.util.find_spec(n) for n in names)\n"
        "import hpsearch.reports.ranking, hpsearch.reports.confirmed\n"
        "import hpsearch.reports.comparison, hpsearch.reports.progress\n"
        f"assert not {{'hpsearch.reports.html', {figures}, 'matplotlib',"
        " 'hpsearch.reports.publish'} & set(sys.modules), sys.modules.keys()\n"
        "import hpsearch.reports.html\n"
        f"assert not {{{figures}, 'hpsearch.reports.publish'}} & set(sys.modules)\n"
        # The live page (ranking.csv and index.html while a study runs) draws no figure.
        "import tempfile\n"
        "from hpsearch.reports.progress import write_live\n"
        "from hpsearch.space.search_space import default_space\n"
        "write_live(tempfile.mkdtemp(), [], default_space(), running='running')\n"
        f"assert not {{{figures}, 'matplotlib', 'hpsearch.reports.publish'}} & set(sys.modules)\n"
        "import hpsearch.reports.curve_plots, hpsearch.reports.score_plots\n"
        "assert 'hpsearch.reports.publish' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_study_on_digits_end_to_end(tmp_path):
    """A real (tiny) study on scikit-learn's digits writes every report through Study."""
    from hpsearch import Study

    study = Study(
        "digits",
        strategy="random",
        n_trials=4,
        n_jobs=1,
        seed=0,
        directory=tmp_path,
        space=SearchSpace({"lr": LogUniform(0.05, 0.5), "weight_decay": LogUniform(1e-8, 1e-4)}),
        config=TrainConfig(dataset="digits", samples=600, epochs=2, hidden=(20,), batch_size=16),
        progress=False,
    )
    df = study.optimize()
    assert len(df) == 4 and (df.state == "COMPLETE").all() and df.val_acc.max() > 0.5
    for name in (
        "ranking.csv",
        "curves.csv",
        "best_curves.png",
        "history.png",
        "map_lr_weight_decay.png",
        "param_scores.png",
        "index.html",
    ):
        assert (study.path / name).is_file(), name
    page = (study.path / "index.html").read_text()
    assert "digits" in page and "120 validation images" in page
    ranking = pd.read_csv(study.path / "ranking.csv")
    assert ranking["n_val"].tolist() == [120] * 4 and ranking["val_acc_low"].notna().all()


@pytest.mark.parametrize("figures", [False, True])
def test_reports_without_figures_never_import_matplotlib(tmp_path, figures):
    """Tables and the page alone (``--no-figures``, the captions on the page) load no
    matplotlib: its import is a third of a second of the study's end. With figures it is
    loaded, so the check sees an import where there is one."""
    code = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parents[1])!r})
from _report_fixtures import definition, make_trials
from hpsearch.reports.publish import write_reports
from hpsearch.space.search_space import default_space
paths = write_reports({str(tmp_path)!r}, make_trials(12), default_space(),
                      settings=definition(), figures={figures})
print(sorted(paths), "matplotlib" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    names, loaded = done.stdout.rsplit(" ", 1)
    assert loaded.strip() == str(figures)
    assert ("'best_curves'" in names) is figures and "'index'" in names


def test_a_study_without_figures_writes_its_tables_and_page_and_report_draws_them_later(
    tmp_path,
):
    """figures=False (--no-figures): the tables and the page, no PNG, and no figure on the
    page; ``report`` then draws every figure and puts them on the page. Figures drawn before
    more trials are stale: they stay in the folder but the page does not show them."""
    from hpsearch import Study
    from hpsearch.cli.main import main

    config = TrainConfig(epochs=2, hidden=(20,), samples=200)
    study = Study("plain", n_trials=3, config=config, directory=tmp_path, progress=False,
                  confirm=0, figures=False)  # fmt: skip
    study.optimize()
    folder = tmp_path / "plain"
    assert not list(folder.glob("*.png"))
    assert {"ranking", "curves", "index"} <= set(study.report_paths)
    assert not any(p.suffix == ".png" for p in study.report_paths.values())
    assert "<figure" not in (folder / "index.html").read_text()

    assert main(["report", "plain", "--out", str(tmp_path)]) == 0
    drawn = {p.name for p in folder.glob("*.png")}
    assert drawn == {"best_curves.png", "history.png", "param_scores.png",
                     "map_lr_weight_decay.png"}  # fmt: skip
    assert (folder / "index.html").read_text().count("<figure") == len(drawn)

    # More trials from the command line without figures: the old ones are stale, not shown.
    assert main(["random", "--trials", "5", "--epochs", "2", "--hidden", "20", "--samples",
                 "200", "--confirm", "0", "--name", "plain", "--out", str(tmp_path),
                 "--quiet", "--no-figures"]) == 0  # fmt: skip
    assert len(Study.load("plain", tmp_path, read_only=True).trials) == 5
    assert "<figure" not in (folder / "index.html").read_text()
    assert {p.name for p in folder.glob("*.png")} == drawn
