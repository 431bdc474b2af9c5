"""Reports: ranking with intervals, long curves CSV, the top table in four formats, notes.

The files themselves are written by hpsearch.reports.publish (tests/reports/test_publish.py)."""

from __future__ import annotations

import dataclasses
import io
import json

import pandas as pd
import pytest
from _report_fixtures import make_trials, score_at_edge, score_inside

from hpsearch.records import TrialResult, TrialState
from hpsearch.reports.formatting import decimals_for, display_frame, wilson
from hpsearch.reports.ranking import (
    curves,
    edge_notes,
    format_top,
    ranking,
    tie_note,
    tied_with_best,
    varied,
)
from hpsearch.space.dimensions import Categorical, IntUniform, Uniform
from hpsearch.space.search_space import SearchSpace, default_space


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
    with pytest.raises(
        ValueError, match=r"unknown report format 'html'; expected one of \['table'"
    ):
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

    space = SearchSpace(
        {
            "weight_decay": Uniform(0.0, 1e-3),
            "batch_size": IntUniform(16, 256),
            "activation": Categorical(["relu", "sigmoid"]),
        }
    )
    # Best with no weight decay; batch size does not matter; a categorical is never an edge.
    notes = edge_notes(
        make_trials(60, space=space, score=lambda p: 0.9 - 500 * p["weight_decay"]), space
    )
    assert len(notes) == 1 and notes[0].startswith("weight_decay: ")
    assert "lower bound 0" in notes[0] and "cannot extend below 0" in notes[0]
    # Best at the largest batch: the range grows by half its width.
    notes = edge_notes(make_trials(60, space=space, score=lambda p: p["batch_size"] / 300), space)
    assert len(notes) == 1 and notes[0].endswith("--param batch_size=int:16:376")
    notes = edge_notes(
        make_trials(60, space=space, score=lambda p: 1 - p["batch_size"] / 300), space
    )
    assert len(notes) == 1 and notes[0].endswith("--param batch_size=int:1:256")


def test_edge_notes_need_enough_trials():
    assert edge_notes(make_trials(4, score=score_at_edge), default_space()) == []


# ----------------------------------------------------------------------------- intervals
def test_ranking_gives_each_trial_its_wilson_interval_right_after_val_acc():
    trials = make_trials(12, failed=(3,), n_val=100)
    df = ranking(trials, ("lr", "weight_decay"))
    columns = list(df.columns)
    assert columns[columns.index("val_acc") + 1 : columns.index("val_acc") + 3] == [
        "val_acc_low",
        "val_acc_high",
    ]
    assert columns[-1] == "n_val" and (df["n_val"] == 100).all()
    for row in df[df.state == "COMPLETE"].itertuples():
        low, high = wilson(row.val_acc, 100)
        assert (row.val_acc_low, row.val_acc_high) == (pytest.approx(low), pytest.approx(high))
        assert row.val_acc_low < row.val_acc < row.val_acc_high
    failed = df[df.state == "DIVERGED"]
    assert failed.val_acc_low.isna().all() and failed.val_acc_high.isna().all()


def test_ranking_leaves_the_interval_empty_when_the_validation_size_is_unknown():
    df = ranking(make_trials(5), ("lr", "weight_decay"))  # a log from before n_val was recorded
    assert df.val_acc_low.isna().all() and df.val_acc_high.isna().all() and df.n_val.isna().all()
    text = df.to_csv(index=False).splitlines()
    assert text[1].split(",")[5:7] == ["", ""]


# The ranking.csv of make_trials(40, failed=(5, 11)) before the interval columns were added:
# the existing columns must keep their exact bytes.
_GOLDEN_HEAD = [
    "rank,trial,lr,weight_decay,val_acc,best_val_acc,train_acc,epochs,state,seconds,error",
    "1,13,0.009746299280198961,8.381878382308892e-05,0.9476284454208294,0.9476284454208294,"
    "0.9676284454208294,4,COMPLETE,1.5,",
]
_GOLDEN_TAIL = (
    "39,11,0.00048139065887826173,3.879341802770623e-06,,,,1,DIVERGED,0.1,"
    "loss became nan at epoch 2"
)
_GOLDEN_MD5_SCORED = "c7a037982057b30de093c4ee19f76910"


def test_ranking_csv_keeps_the_bytes_of_its_existing_columns():
    import hashlib

    df = ranking(make_trials(40, failed=(5, 11)), ("lr", "weight_decay"))
    text = df.to_csv(index=False)
    back = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    old = back.drop(columns=["val_acc_low", "val_acc_high", "n_val"]).to_csv(index=False)
    lines = old.splitlines()
    assert lines[:2] == _GOLDEN_HEAD
    # The scored rows keep their bytes (the golden digest: of the version before unscored
    # trials lost their rank); an unscored trial comes last with no rank, as its only change.
    frame = back.drop(columns=["val_acc_low", "val_acc_high", "n_val"])
    scored = frame[frame["state"] == "COMPLETE"].to_csv(index=False)
    assert hashlib.md5(scored.encode()).hexdigest() == _GOLDEN_MD5_SCORED
    assert lines[-1] == _GOLDEN_TAIL.replace("39,11,", ",11,", 1)
    assert (
        frame["rank"].tolist()[-2:] == ["", ""] and frame["state"].tolist()[-2:] == ["DIVERGED"] * 2
    )


def test_wilson_interval_and_the_decimals_a_set_size_carries():
    low, high = wilson(0.8, 100)
    assert (low, high) == (pytest.approx(0.7112, abs=1e-4), pytest.approx(0.8666, abs=1e-4))
    assert (
        wilson(0.0, 50)[0] == pytest.approx(0.0, abs=1e-12) and wilson(0.0, 50)[1] > 0.05
    )  # not empty at 0
    assert wilson(1.0, 50)[1] == pytest.approx(1.0, abs=1e-12) and wilson(1.0, 50)[0] < 0.95
    assert decimals_for(100) == 2 and decimals_for(10_000) == 3 and decimals_for(2_000) == 2
    assert decimals_for(120) == 2 and decimals_for(12_000) == 3 and decimals_for(1) == 1
    assert (
        decimals_for(None) == 4 and decimals_for(float("nan")) == 4 and decimals_for(None, 3) == 3
    )


def _scored(scores, n_val=100):
    return [
        TrialResult(
            i,
            {"lr": 10.0 ** -(i + 1)},
            TrialState.COMPLETE,
            val_acc=v,
            best_val_acc=v,
            train_acc=v,
            epochs=1,
            seconds=1.0,
            n_val=n_val,
        )
        for i, v in enumerate(scores)
    ]


def test_tied_with_best_counts_the_trials_within_noise_of_the_best():
    # On 100 images the best's interval at 0.85 is about 0.77-0.91: 0.80 and 0.78 reach it,
    # 0.60 does not.
    df = ranking(_scored([0.85, 0.80, 0.78, 0.60]), ["lr"])
    assert tied_with_best(df) == 2
    note = tie_note(df)
    assert note.startswith(
        "The best validation accuracy, 0.85 (trial 0), is measured on 100 images"
    )
    assert "2 other trials' intervals overlap it" in note and "top 3 cannot be told apart" in note
    # On 10,000 images the same scores are far apart.
    assert "1 other trial's interval overlaps it, so the top 2" in tie_note(
        ranking(_scored([0.85, 0.80, 0.6]), ["lr"])
    )
    far = ranking(_scored([0.85, 0.80, 0.78, 0.60], n_val=10_000), ["lr"])
    assert tied_with_best(far) == 0 and tie_note(far) is None
    # Without a recorded size nothing is claimed.
    assert tied_with_best(ranking(_scored([0.85, 0.84], n_val=None), ["lr"])) == 0
    assert tied_with_best(ranking([], ["lr"])) == 0


def test_top_table_precision_follows_the_validation_size():
    df = ranking(make_trials(10, n_val=100), ("lr", "weight_decay"))
    table = format_top(df, 3, "table").splitlines()
    header = table[0].split()
    assert header[:6] == ["rank", "trial", "lr", "weight_decay", "val_acc", "95%"]
    first = table[1].split()
    assert (
        first[4] == f"{df.val_acc[0]:.2f}"
        and first[5] == f"{df.val_acc_low[0]:.2f}-{df.val_acc_high[0]:.2f}"
    )
    assert "n_val" not in table[0]
    md = format_top(df, 3, "markdown").splitlines()
    assert "| val_acc | 95% CI |" in md[0] and f"| {df.val_acc[0]:.2f} |" in md[2]
    # csv and json keep the full precision and every column.
    back = pd.read_csv(io.StringIO(format_top(df, 3, "csv")))
    assert back.val_acc.tolist() == df.val_acc.head(3).tolist() and "val_acc_low" in back.columns
    records = json.loads(format_top(df, 3, "json"))
    assert records[0]["n_val"] == 100 and records[0]["val_acc"] == df.val_acc[0]
    # 10,000 images carry 3 decimals; an unknown size keeps the 4 of old.
    big, old = ranking(make_trials(3, n_val=10_000), ("lr",)), ranking(make_trials(3), ("lr",))
    assert display_frame(big).val_acc[0] == f"{big.val_acc[0]:.3f}"
    assert display_frame(old).val_acc[
        0
    ] == f"{old.val_acc[0]:.4f}" and "95% CI" not in display_frame(old)


def test_format_top_marks_a_tie_cut_at_rank_k():
    trials = _scored([0.9, 0.8, 0.7, 0.7, 0.7, 0.5])
    df = ranking(trials, ["lr"])
    assert df["rank"].tolist() == [1, 2, 3, 3, 3, 6]
    table = format_top(df, 3, "table").splitlines()
    assert len(table) == 5 and table[-1] == "rank 3 is shared by 2 more trials not shown"
    assert [line.split()[0] for line in table[1:4]] == ["1", "2", "3"]  # exactly k rows
    md = format_top(df, 4, "markdown")
    assert md.endswith("\n\nrank 3 is shared by 1 more trial not shown")
    assert sum(line.startswith("|") for line in md.splitlines()) == 2 + 4
    assert "shared" not in format_top(df, 5, "table") and "shared" not in format_top(df, 2, "table")
    assert (
        "shared" not in format_top(df, 3, "csv") and len(json.loads(format_top(df, 3, "json"))) == 3
    )


def test_edge_notes_speak_only_of_ranges_that_were_varied():
    """A grid that cut weight decay to one point (here its old lower bound) must not advise
    widening it."""
    trials = [
        dataclasses.replace(t, params={**t.params, "weight_decay": 1e-8})
        for t in make_trials(60, score=score_at_edge)
    ]
    assert varied(trials, default_space()) == ["lr"]
    notes = edge_notes(trials, default_space())
    assert len(notes) == 1 and notes[0].startswith("lr: ")
    pinned = [dataclasses.replace(t, params={**t.params, "lr": 1e-6}) for t in trials]
    assert varied(pinned, default_space()) == [] and edge_notes(pinned, default_space()) == []
