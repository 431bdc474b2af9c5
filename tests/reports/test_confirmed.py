"""Confirm-stage reports: the confirmed table, the choice, the headline, comparisons of settings."""

from __future__ import annotations

import dataclasses
import io
import json
import math

import pandas as pd
import pytest
from _report_fixtures import make_repeats

from hpsearch.records import RepeatResult, TrialState
from hpsearch.reports.comparison import (
    comparison,
    default_thresholds,
    display_comparison,
    format_comparison,
)
from hpsearch.reports.confirmed import confirmed_table, display_confirmed, headline
from hpsearch.space.dimensions import Categorical, LogUniform
from hpsearch.space.search_space import SearchSpace
from hpsearch.study.confirm import choose


def test_confirmed_table_one_row_per_configuration_best_mean_validation_first():
    runs = make_repeats({3: [0.70, 0.74, 0.72], 7: [0.80, 0.78, 0.82], 9: [0.60, 0.62]})
    runs += [
        RepeatResult(
            7,
            i,
            runs[3].params,
            TrialState.COMPLETE,
            train_acc=0.99,
            test_acc=test,
            n_test=2000,
            refit=True,
        )
        for i, test in enumerate((0.81, 0.83, 0.85))
    ]
    df = confirmed_table(runs, ["lr", "weight_decay"])
    assert df["trial"].tolist() == [7, 3, 9]
    first = df.iloc[0]
    assert first["repeats"] == 3 and first["failed"] == 0
    assert first["val_mean"] == pytest.approx(0.80) and first["val_sd"] == pytest.approx(0.02)
    assert first["test_mean"] == pytest.approx(0.75) and first["lr"] == pytest.approx(0.08)
    assert [first[f"val_acc_r{i}"] for i in range(3)] == pytest.approx([0.80, 0.78, 0.82])
    assert [first[f"seconds_r{i}"] for i in range(3)] == [2.0, 3.0, 4.0]
    # The refit runs: their own mean and sd over all of them, never averaged into the repeats.
    assert first["refit_runs"] == 3 and first["refit_test_mean"] == pytest.approx(0.83)
    assert first["refit_test_sd"] == pytest.approx(0.02)
    assert df["refit_runs"].tolist() == [3, 0, 0]
    assert math.isnan(df["val_acc_r2"].iloc[2])  # trial 9 ran two repeats
    assert df["n_val"].tolist() == [100] * 3 and df["n_test"].tolist() == [2000] * 3
    shown = display_confirmed(df, ["lr", "weight_decay"])
    assert shown.columns.tolist() == [
        "trial",
        "lr",
        "weight_decay",
        "repeats",
        "train",
        "validation",
        "test",
        "refit test",
    ]
    assert shown.iloc[0]["validation"] == "0.80 ± 0.02" and shown.iloc[0]["test"] == "0.75 ± 0.02"
    assert (
        shown.iloc[0]["refit test"] == "0.83 ± 0.02 (3 runs)" and shown.iloc[1]["refit test"] == "-"
    )
    line = headline(runs, 7, {"lr": 0.08})
    assert "| refit test 0.83 ± 0.02 (3 runs on training + validation images)" in line


def test_the_chosen_configuration_comes_first_and_ties_follow_the_search_rank():
    runs = make_repeats({0: [0.70, 0.72], 3: [0.72, 0.70], 5: [0.60, 0.62]})
    # Trials 0 and 3 tie on their mean; the search ranked 3 above 0, and the study chose 3.
    by_rank = confirmed_table(runs, ["lr"], rank=[3, 0, 5])
    assert by_rank["trial"].tolist() == [3, 0, 5]
    assert choose(runs, [3, 0, 5]) == 3
    chosen_first = confirmed_table(runs, ["lr"], chosen=5, rank=[3, 0, 5])
    assert chosen_first["trial"].tolist() == [5, 3, 0]


def test_choose_takes_the_best_mean_validation_a_failed_run_counting_zero():
    assert choose(make_repeats({3: [0.70, 0.74], 7: [0.80, 0.78]})) == 7
    # Trial 7's failed repeat counts 0: its mean 0.40 loses to trial 3's 0.72.
    runs = make_repeats({3: [0.70, 0.74], 7: [0.80, None]})
    assert choose(runs) == 3
    table = confirmed_table(runs, ["lr"])
    assert (
        table["trial"].tolist() == [3, 7] and table.iloc[1]["failed"] == 1
    )  # the same order as the choice
    assert choose(make_repeats({5: [0.7], 2: [0.7]})) == 2  # a tie goes to the earlier trial
    assert choose([]) is None and choose(make_repeats({1: [None]})) is None


def test_headline_names_the_choice_and_its_scores_with_their_precision():
    runs = make_repeats(
        {4: [0.71, 0.74, 0.77], 8: [0.5]}, {4: {"lr": 0.0089, "weight_decay": 3.2e-6}}
    )
    line = headline(runs, 4, {"lr": 0.0089, "weight_decay": 3.2e-6})
    assert line == (
        "chosen: lr=0.0089, weight_decay=3.2e-06 (trial 4) | validation 0.74 ± 0.03 "
        "(3 repeats, 100 images) | test 0.69 ± 0.03 (2,000 test images, 95% interval ±0.02)"
    )
    assert "\n" not in line
    big = make_repeats({4: [0.9912, 0.9920]}, n_val=10_000, n_test=10_000, gap=0.001)
    assert (
        "validation 0.992 ± 0.001 (2 repeats, 10,000 images) | "
        "test 0.991 ± 0.001 (10,000 test images" in headline(big, 4, {"lr": 0.05})
    )
    no_test = headline(make_repeats({4: [0.8]}, n_test=None), 4, {"lr": 0.05})
    assert no_test.endswith(
        "| validation 0.80 (1 repeat, 100 images) | no test part in this dataset"
    )
    assert "1 failed" in headline(make_repeats({4: [0.8, None]}), 4, {"lr": 0.05})
    assert headline([], 4, {"lr": 0.05}).endswith("no confirmed run yet")
    # Runs logged before the validation size was kept: the line says no size rather than failing.
    unsized = headline(make_repeats({4: [0.8, 0.9]}, n_val=None), 4, {"lr": 0.05})
    assert "| validation 0.85" in unsized
    assert "(2 repeats) | test 0.80 ± 0.07 (2,000 test" in unsized


def _by_optimizer():
    params = {0: {"optimizer": "sgd", "lr": 0.1}, 1: {"optimizer": "adam", "lr": 0.001}}
    sgd = make_repeats({0: [0.95, 0.96, 0.97]}, params, n_val=10_000, n_test=10_000, gap=0.0)
    adam = make_repeats({1: [0.985, 0.99]}, params, n_val=10_000, n_test=10_000, gap=0.0)
    return sgd + adam


def test_comparison_per_value_with_epochs_to_each_threshold():
    df = comparison(_by_optimizer(), "optimizer", thresholds=(0.95, 0.97, 0.98))
    assert df["optimizer"].tolist() == ["adam", "sgd"] and df["repeats"].tolist() == [2, 3]
    adam, sgd = df.iloc[0], df.iloc[1]
    assert adam["test_mean"] == pytest.approx(0.9875) and sgd["val_sd"] == pytest.approx(0.01)
    assert adam["best_test_mean"] == pytest.approx(0.9875)
    # The curve climbs linearly to its final value in 10 epochs: 0.97 is reached at epoch 10 by
    # the sgd run ending at 0.97 only, 0.95 at epochs 10, 10 and 10 (0.95*10/10).
    assert sgd["reached_0.97"] == 1 and sgd["epochs_to_0.97"] == 10
    assert sgd["reached_0.98"] == 0 and math.isnan(sgd["epochs_to_0.98"])
    assert adam["reached_0.98"] == 2 and adam["epochs_to_0.95"] == 10
    assert sgd["seconds_mean"] == pytest.approx(3.0)
    with pytest.raises(
        ValueError, match=r"cannot compare by 'momentum': no confirmed run has that setting"
    ):
        comparison(_by_optimizer(), "momentum")


def test_comparison_names_each_rows_settings_rounded_and_the_bounds_they_sit_at():
    space = SearchSpace({"optimizer": Categorical(["sgd", "adam"]), "lr": LogUniform(1e-4, 1)})
    params = {0: {"optimizer": "sgd", "lr": 1.0}, 1: {"optimizer": "adam", "lr": 0.000215443469003}}
    runs = make_repeats({0: [0.6, 0.7]}, params, n_test=2000) + make_repeats(
        {1: [0.9, 0.92]}, params, n_test=2000
    )
    df = comparison(runs, "optimizer", space=space)
    assert df.columns[:3].tolist() == ["optimizer", "lr", "repeats"]
    # The declared order of the choices (sgd, adam), each row with its own lr.
    assert df["optimizer"].tolist() == ["sgd", "adam"]
    assert df["lr"].tolist() == [1.0, 0.000215443469003]
    assert df["edge"].tolist() == ["lr=upper", ""]  # sgd's best lr is the top of the range
    text = format_comparison(df, "table")
    assert "0.000215" in text and "0.000215443" not in text
    assert "note: optimizer=sgd: its best lr, 1, is at the upper bound" in text
    assert "optimizer=adam: its best lr" not in text


def test_default_thresholds_are_levels_the_best_value_reaches():
    params = {0: {"optimizer": "sgd"}, 1: {"optimizer": "adam"}}
    runs = make_repeats({0: [0.6, 0.7, 0.65]}, params, gap=0.0) + make_repeats(
        {1: [0.9, 0.92]}, params, gap=0.0
    )
    df = comparison(runs, "optimizer")
    levels = [c[len("reached_") :] for c in df.columns if c.startswith("reached_")]
    assert levels == ["0.81", "0.86", "0.89"]  # 90, 95 and 98 % of adam's mean test 0.91
    adam = df[df["optimizer"] == "adam"].iloc[0]
    assert all(adam[f"reached_{t}"] >= 1 for t in levels)  # no column without a number
    assert default_thresholds([{"test_mean": math.nan}]) == ()


def test_the_decimals_follow_each_accuracys_own_interval():
    # 2,000 test images: +-0.021 at 0.66 (two decimals), +-0.0096 at 0.95 (three).
    params = {0: {"optimizer": "sgd"}, 1: {"optimizer": "adam"}}
    runs = make_repeats({0: [0.66]}, params, n_test=2000, gap=0.0) + make_repeats(
        {1: [0.95]}, params, n_test=2000, gap=0.0
    )
    shown = display_comparison(comparison(runs, "optimizer"))
    # One precision a column, the most any row supports: 0.660 beside 0.950, not 0.66.
    assert shown["test"].tolist() == ["0.950", "0.660"]
    only = display_comparison(comparison(runs[:1], "optimizer"))
    assert only["test"].tolist() == ["0.66"]  # alone, 0.66 carries two


def test_comparison_formats():
    df = comparison(_by_optimizer(), "optimizer", thresholds=(0.96, 0.98))
    md = format_comparison(df, "markdown").splitlines()
    assert md[0] == (
        "| optimizer | repeats | train | validation | test | best test | epochs to 0.96 | "
        "epochs to 0.98 | seconds |"
    )
    assert md[2].startswith("| adam | 2 | ") and "| 0.988 ± 0.004 |" in md[2]
    assert "| 10.0 (2 of 3) |" in md[3] and md[3].endswith(
        "| - | 3.0 |"
    )  # the run at 0.95 never got there
    table = format_comparison(df, "table")
    assert table.splitlines()[0].split()[:3] == ["optimizer", "repeats", "train"]
    back = pd.read_csv(io.StringIO(format_comparison(df, "csv")))
    assert (
        back.columns.tolist() == df.columns.tolist()
        and back.test_mean.tolist() == df.test_mean.tolist()
    )
    assert json.loads(format_comparison(df, "json"))[1]["optimizer"] == "sgd"
    numeric = comparison(
        make_repeats({0: [0.9], 1: [0.8]}, {0: {"lr": 0.1}, 1: {"lr": 0.01}}), "lr"
    )
    assert numeric["lr"].tolist() == [0.01, 0.1]  # numbers in numeric order


def test_a_value_without_a_scored_trial_gets_a_row_saying_so():
    from _report_fixtures import make_trials

    trials = make_trials(3)
    trials[2] = dataclasses.replace(
        trials[2], params={**trials[2].params, "lr": 1.0}, state=TrialState.DIVERGED
    )
    params = {t.number: t.params for t in trials}
    runs = make_repeats({0: [0.8, 0.82], 1: [0.7, 0.72]}, params)
    df = comparison(runs, "lr", trials=trials)
    assert df["lr"].tolist()[-1] == 1.0 and df["repeats"].tolist()[-1] == 0
    assert df["search"].tolist() == ["", "", "1 DIVERGED"]
    shown = display_comparison(df)
    assert shown["repeats"].tolist()[-1] == "0 (1 DIVERGED in the search)"
    assert shown["test"].tolist()[-1] == "-"
    assert "no test curve" not in format_comparison(df)


def test_the_confirmed_table_and_headline_give_each_score_the_decimals_its_interval_supports():
    # 2,000 test images: 0.95 carries three decimals (+-0.0096), 0.66 two (+-0.021).
    runs = make_repeats({0: [0.95, 0.95], 1: [0.66, 0.66]}, n_test=2000, gap=0.0)
    shown = display_confirmed(confirmed_table(runs, ["lr"]), ["lr"])
    assert shown["test"].tolist() == ["0.950 ± 0.000", "0.660 ± 0.000"]  # one per column
    assert "test 0.950 ± 0.000 (2,000 test images" in headline(runs, 0, {"lr": 0.01})
    assert "test 0.66 ± 0.00 (2,000 test images" in headline(runs, 1, {"lr": 0.02})


def test_a_comparison_stands_on_the_runs_with_a_score_and_names_the_others():
    params = {0: {"optimizer": "sgd"}, 1: {"optimizer": "adam"}}
    runs = make_repeats({0: [0.6, None, 0.62], 1: [0.9, 0.92]}, params)
    df = comparison(runs, "optimizer")
    assert df["repeats"].tolist() == [2, 2] and df["failed"].tolist() == ["", "1 FAILED"]
    assert display_comparison(df)["repeats"].tolist() == ["2", "2 (+1 FAILED)"]
    # Every column stands on the runs with a score, as the figure does: no 0 for the failed one.
    assert df.loc[1, "val_mean"] == pytest.approx(0.61)


def test_a_setting_reads_the_same_in_the_headline_and_the_tables():
    params = {0: {"lr": 0.000215443469003}}
    runs = make_repeats({0: [0.9, 0.91]}, params)
    assert "chosen: lr=0.000215 (trial 0)" in headline(runs, 0, params[0])
    assert display_confirmed(confirmed_table(runs, ["lr"]), ["lr"])["lr"].tolist() == ["0.000215"]
    assert display_comparison(comparison(runs, "lr"))["lr"].tolist() == ["0.000215"]


def test_a_run_that_diverged_counts_in_no_column_even_with_a_curve_up_to_its_end():
    params = {0: {"optimizer": "sgd"}, 1: {"optimizer": "adam"}}
    runs = make_repeats({0: [0.9, 0.9]}, params, gap=0.0)
    # A run that reached 0.95 on the test part before it diverged, and a value whose only run
    # failed: neither is a repeat, reaches a threshold or has seconds.
    runs.append(
        RepeatResult(0, 2, params[0], TrialState.DIVERGED, test_curve=(0.95,), seconds=99.0)
    )
    runs.append(RepeatResult(1, 0, params[1], TrialState.DIVERGED, test_curve=(0.5,)))
    df = comparison(runs, "optimizer", thresholds=(0.95,))
    adam, sgd = df.iloc[0], df.iloc[1]  # names in text order (no space given)
    assert (sgd["repeats"], sgd["failed"], sgd["reached_0.95"]) == (2, "1 DIVERGED", 0)
    assert sgd["seconds_mean"] == pytest.approx((runs[0].seconds + runs[1].seconds) / 2)
    assert (adam["repeats"], adam["failed"], adam["search"]) == (0, "1 DIVERGED", "")
    assert df.columns[-1] == "search"
