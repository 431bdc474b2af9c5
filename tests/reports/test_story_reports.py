"""One story in every output: trials without a score, the chosen configuration's mark, a study
where nothing scored, comparisons with and without test curves, and the page's settings."""

from __future__ import annotations

import dataclasses

import pytest
from _report_fixtures import definition, make_repeats, make_trials
from matplotlib.ticker import MaxNLocator

from hpsearch.records import TrialState
from hpsearch.reports.comparison import comparison, format_comparison
from hpsearch.reports.curve_plots import best_curves, comparison_curves
from hpsearch.reports.html import render_index
from hpsearch.reports.plots import CHOSEN_LABEL
from hpsearch.reports.publish import write_reports
from hpsearch.reports.ranking import ranking
from hpsearch.reports.score_plots import history, lr_wd_map, param_scores
from hpsearch.space.search_space import default_space


def _timed_out(trials, numbers):
    """Trials that ran out of time: curves and a last value, but no score (TIMEOUT)."""
    return [
        dataclasses.replace(t, state=TrialState.TIMEOUT, error="time limit")
        if t.number in numbers
        else t
        for t in trials
    ]


def test_a_trial_without_a_score_has_no_rank_no_score_and_no_interval_anywhere():
    trials = _timed_out(make_trials(12), {0, 4})
    df = ranking(trials, ("lr", "weight_decay"))
    unscored = df[df["state"] == "TIMEOUT"]
    assert list(df["state"])[-2:] == ["TIMEOUT", "TIMEOUT"]  # after every scored trial
    assert unscored["rank"].isna().all() and unscored["val_acc"].isna().all()
    assert unscored["val_acc_low"].isna().all()
    by_number = {t.number: t for t in trials}
    fig = best_curves([by_number[int(n)] for n in df["trial"]], n=12, ncols=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert all("TIMEOUT, no score" in t and "(" not in t.splitlines()[0] for t in titles[-2:])
    assert all("TIMEOUT" not in t for t in titles[:-2])
    # The figures mark them as crosses on the bottom edge, named by state, never at a value.
    for figure in (history(trials), param_scores(trials, default_space())):
        labels = {c.get_label() for ax in figure.axes for c in ax.collections}
        assert "no score (TIMEOUT 2)" in labels


def test_the_chosen_configuration_is_marked_beside_the_best_single_trial():
    trials = make_trials(20)
    best = max(trials, key=lambda t: t.val_acc or 0)
    chosen = next(t for t in trials if t.number != best.number and t.val_acc)
    for fig in (
        lr_wd_map(trials, space=default_space(), chosen=chosen.number),
        param_scores(trials, default_space(), chosen=chosen.number),
    ):
        marks = [c for ax in fig.axes for c in ax.collections if c.get_label() == CHOSEN_LABEL]
        assert marks, "no chosen mark"
        x = marks[0].get_offsets()[0][0]
        assert x == pytest.approx(chosen.params["lr"])


def test_the_history_counts_trials_in_whole_numbers():
    ax = history(make_trials(7)).axes[0]
    locator = ax.xaxis.get_major_locator()
    assert isinstance(locator, MaxNLocator)
    ticks = [t for t in locator.tick_values(0, 6)]
    assert all(float(t).is_integer() for t in ticks)


def test_a_study_where_no_trial_scored_says_so_and_draws_no_empty_figure(tmp_path):
    trials = [
        dataclasses.replace(t, state=TrialState.DIVERGED, val_acc=None, error="loss became nan")
        for t in make_trials(4)
    ]
    paths = write_reports(tmp_path, trials, default_space())
    assert not [p for p in paths.values() if p.suffix == ".png"]
    assert not list(tmp_path.glob("*.png"))
    page = (tmp_path / "index.html").read_text()
    assert "No trial has a score (4 DIVERGED), so nothing was confirmed" in page
    assert "do not crowd a bound" not in page


def test_a_comparison_says_which_values_have_no_test_curve_in_the_table_and_the_figure():
    runs = make_repeats({1: [0.8, 0.82], 2: [0.7, 0.72]}, {1: {"lr": 0.1}, 2: {"lr": 0.01}})
    # The runs of lr=0.01: a confirm stage's, reused, scored on the test part once at the end.
    runs = [dataclasses.replace(r, test_curve=()) if r.params["lr"] == 0.01 else r for r in runs]
    df = comparison(runs, "lr")
    text = format_comparison(df, "table")
    row = next(line for line in text.splitlines() if line.strip().startswith("0.01"))
    assert "no test curve" in row
    assert "note: no test curve for lr=0.01" in text
    fig = comparison_curves(runs, "lr")
    test_panel = next(ax for ax in fig.axes if ax.get_title() == "test")
    assert any("lr=0.01" in t.get_text() for t in test_panel.texts)


def test_the_page_settings_name_pruning_confirm_and_repeats():
    settings = definition(
        name="s",
        n_trials=9,
        pruning={"kind": "halving", "min_epochs": 5, "eta": 3},
        confirm=2,
        repeats=3,
    )
    page = render_index(ranking(make_trials(9), ("lr", "weight_decay")), settings=settings)
    assert "<th>pruning</th><td>halving (min_epochs=5, eta=3)</td>" in page
    assert "<th>confirm (configurations)</th><td>2</td>" in page
    assert "<th>repeats (runs each)</th><td>3</td>" in page
