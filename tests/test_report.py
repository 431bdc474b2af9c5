"""Reports: ranking, long curves CSV, the top table in four formats, notes on range edges, files."""

from __future__ import annotations

import dataclasses
import io
import json

import pandas as pd
import pytest

from _report_fixtures import make_trials, score_at_edge, score_inside
from hpsearch.report import curves, edge_notes, format_top, ranking, write_reports
from hpsearch.space import Categorical, IntUniform, LogUniform, SearchSpace, Uniform, default_space
from hpsearch.config import TrainConfig


@pytest.fixture
def trials():
    return make_trials(30, failed=(4, 11))


def test_curves_long_format(trials):
    df = curves(trials)
    assert list(df.columns) == ["trial", "epoch", "train_acc", "val_acc", "loss"]
    assert len(df) == 28 * 4 + 2 * 1
    first = df[df.trial == 0]
    assert first.epoch.tolist() == [1, 2, 3, 4]
    assert first.val_acc.tolist() == pytest.approx(list(trials[0].val_curve))
    assert df[df.trial == 4].loss.isna().all()  # a NaN loss is an empty cell, not a crash
    assert df.trial.is_monotonic_increasing


def test_format_top_all_formats(trials):
    df = ranking(trials, ("lr", "weight_decay"))
    table = format_top(df, 5, "table")
    assert len(table.splitlines()) == 6 and table.split()[0] == "rank"
    assert "error" not in table.splitlines()[0]  # empty in the top 5: left out when reading

    md = format_top(df, 5, "markdown").splitlines()
    assert len(md) == 7 and md[0].startswith("| rank | trial | lr | weight_decay | val_acc")
    assert set(md[1]) <= set("|-:") and md[2].startswith("| 1 | ")
    assert md[2].count("|") == md[0].count("|")

    back = pd.read_csv(io.StringIO(format_top(df, 5, "csv")))
    assert len(back) == 5 and list(back.columns) == list(df.columns)
    assert back.val_acc.tolist() == pytest.approx(df.val_acc.head(5).tolist())

    records = json.loads(format_top(df, 30, "json"))
    assert len(records) == 30 and records[0]["rank"] == 1
    failed = [r for r in records if r["state"] == "DIVERGED"]
    assert len(failed) == 2 and all(r["val_acc"] is None for r in failed)

    tail = format_top(df.tail(2), 2, "markdown")
    assert "loss became nan" in tail  # the error column shows when a shown trial has one


def test_format_top_escapes_markdown_and_refuses_bad_arguments():
    space = SearchSpace({"activation": Categorical(["a|b", "c"])})
    df = ranking(make_trials(6, space=space, score=lambda p: 0.5), space.names)
    assert "a\\|b" in format_top(df, 6, "markdown")
    with pytest.raises(ValueError, match=r"unknown report format 'html'; expected one of \['table'"):
        format_top(df, 5, "html")
    with pytest.raises(ValueError, match=r"--top must be a positive integer, but got 0"):
        format_top(df, 0, "table")
    assert format_top(ranking([], ["lr"]), 5) == "(no trials)"


def test_edge_note_at_the_upper_bound_of_lr():
    """The seed experiment's case: the best learning rates crowd the upper bound 1e-2."""
    notes = edge_notes(make_trials(100, score=score_at_edge), default_space())
    assert len(notes) == 1
    (note,) = notes
    assert note.startswith("lr: ") and "upper bound 0.01" in note
    assert note.endswith("--param lr=log:1e-05:0.1")
    assert "\n" not in note


def test_no_edge_note_when_the_optimum_is_inside():
    for seed in range(5):
        assert edge_notes(make_trials(100, score=score_inside, seed=seed), default_space()) == []


def test_no_edge_note_for_a_lone_best_trial_at_a_bound():
    """One lucky trial near a bound is noise (validation scores tie and jitter), not a trend."""
    trials = make_trials(60, score=score_inside)
    best = max(trials, key=lambda t: t.val_acc)
    trials[best.number] = dataclasses.replace(best, params={**best.params, "weight_decay": 9.5e-5})
    assert edge_notes(trials, default_space()) == []


def test_edge_note_at_the_lower_bound_and_on_linear_ranges():
    notes = edge_notes(make_trials(60, score=lambda p: 1 - score_at_edge(p)), default_space())
    assert len(notes) == 1 and "lower bound 1e-06" in notes[0]
    assert notes[0].endswith("--param lr=log:1e-07:0.001")

    space = SearchSpace({
        "weight_decay": Uniform(0.0, 1e-3),
        "batch_size": IntUniform(16, 256),
        "activation": Categorical(["relu", "sigmoid"]),
    })
    # Best with no weight decay; batch size does not matter; a categorical is never an edge.
    notes = edge_notes(make_trials(60, space=space, score=lambda p: 0.9 - 500 * p["weight_decay"]), space)
    assert len(notes) == 1 and notes[0].startswith("weight_decay: ")
    assert "lower bound 0" in notes[0] and "cannot extend below 0" in notes[0]
    # Best at the largest batch: the range grows by half its width.
    notes = edge_notes(make_trials(60, space=space, score=lambda p: p["batch_size"] / 300), space)
    assert len(notes) == 1 and notes[0].endswith("--param batch_size=int:16:376")
    notes = edge_notes(make_trials(60, space=space, score=lambda p: 1 - p["batch_size"] / 300), space)
    assert len(notes) == 1 and notes[0].endswith("--param batch_size=int:1:256")


def test_edge_notes_need_enough_trials():
    assert edge_notes(make_trials(4, score=score_at_edge), default_space()) == []


def test_write_reports_writes_every_file(tmp_path, trials):
    paths = write_reports(tmp_path, trials, default_space())
    assert set(paths) == {"ranking", "curves", "best_curves", "history", "lr_wd_map", "param_scores", "index"}
    for path in paths.values():
        assert path.parent == tmp_path and path.stat().st_size > 0
    assert len(pd.read_csv(paths["ranking"])) == 30
    assert len(pd.read_csv(paths["curves"])) == 114
    assert paths["best_curves"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp"))


def test_write_reports_map_follows_the_space(tmp_path):
    space = SearchSpace({"lr": LogUniform(1e-3, 1e-1), "batch_size": IntUniform(16, 64)})
    paths = write_reports(tmp_path, make_trials(8, space=space), space)
    assert paths["map"].name == "map_batch_size_lr.png" and "lr_wd_map" not in paths
    one = SearchSpace({"activation": Categorical(["relu", "sigmoid"]), "lr": LogUniform(1e-3, 1e-1)})
    paths = write_reports(tmp_path, make_trials(8, space=one), one)
    assert "map" not in paths and "lr_wd_map" not in paths and paths["param_scores"].exists()


def test_study_on_digits_end_to_end(tmp_path):
    """A real (tiny) study on scikit-learn's digits writes every report through Study."""
    from hpsearch import Study

    study = Study(
        "digits", strategy="random", n_trials=4, n_jobs=1, seed=0, directory=tmp_path,
        space=SearchSpace({"lr": LogUniform(0.05, 0.5), "weight_decay": LogUniform(1e-8, 1e-4)}),
        config=TrainConfig(dataset="digits", samples=600, epochs=2, hidden=(20,), batch_size=16),
        progress=False,
    )
    df = study.optimize()
    assert len(df) == 4 and (df.state == "COMPLETE").all() and df.val_acc.max() > 0.5
    for name in ("ranking.csv", "curves.csv", "best_curves.png", "history.png", "lr_wd_map.png",
                 "param_scores.png", "index.html"):
        assert (study.path / name).is_file(), name
    assert "digits" in (study.path / "index.html").read_text()
