"""A parameter searched under a condition in the reports (issue 36, point 2).

``decay_rate`` is searched only where ``optimizer=rmsprop``: the AdaGrad trials do not have it.
Such a trial is left out for it everywhere: no edge note, no share of importance, no compare
group or warning drawn from it, blank cells in every table, no NaN in a figure; and the notes,
tables and figures say on how many trials the parameter stands.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _report_fixtures import make_repeats, make_trials

from hpsearch import Study
from hpsearch.cli.main import main
from hpsearch.records import Goal
from hpsearch.reports import comparison, confirmed, ranking, score_plots
from hpsearch.reports.importance import display, importance
from hpsearch.reports.plots import BEST_LABEL
from hpsearch.reports.publish import map_axes, write_comparison, write_reports
from hpsearch.space.dimensions import Categorical, LogUniform, Uniform
from hpsearch.space.search_space import SearchSpace
from hpsearch.study.confirm import best_per_value

SPACE = SearchSpace(
    {
        "optimizer": Categorical(["rmsprop", "adagrad"]),
        "decay_rate": Uniform(0.9, 0.999, when={"optimizer": "rmsprop"}),
        "lr": LogUniform(1e-6, 1e-2),
    }
)


def _lr_inside(params: dict) -> float:
    """Best at lr = 1e-4, the middle of its log range: lr never crowds a bound."""
    return 0.1 * (math.log10(params["lr"]) + 4) ** 2


def adagrad_best_decay_at_top(params: dict) -> float:
    """AdaGrad beats every RMSProp trial; RMSProp is best at decay_rate's upper bound."""
    if params["optimizer"] == "adagrad":
        return 0.95 - 0.01 * _lr_inside(params)
    return 0.3 + 0.4 * (params["decay_rate"] - 0.9) / 0.099 - 0.01 * _lr_inside(params)


def optimizer_matters_alone(params: dict) -> float:
    """The choice of optimizer is all that counts: the decay rate does nothing."""
    return (0.9 if params["optimizer"] == "adagrad" else 0.4) - 0.02 * _lr_inside(params)


def decay_matters(params: dict) -> float:
    """Within RMSProp, the decay rate is all that counts."""
    if params["optimizer"] == "adagrad":
        return 0.6
    return 0.2 + 0.7 * (params["decay_rate"] - 0.9) / 0.099


@pytest.fixture
def trials():
    return make_trials(60, space=SPACE, score=adagrad_best_decay_at_top, n_val=1000)


def test_the_trials_lack_the_parameter_where_its_condition_fails(trials):
    adagrad = [t for t in trials if t.params["optimizer"] == "adagrad"]
    assert adagrad and all("decay_rate" not in t.params for t in adagrad)
    assert all("decay_rate" in t.params for t in trials if t.params["optimizer"] == "rmsprop")


# --------------------------------------------------------------------------- edge notes
def test_an_edge_note_stands_on_the_trials_that_have_the_parameter(trials):
    # The best trials overall are AdaGrad's, without a decay rate; among the RMSProp trials
    # the best crowd decay_rate's upper bound, and the note says so.
    notes = ranking.edge_notes(trials, SPACE)
    decay = [n for n in notes if n.startswith("decay_rate")]
    rmsprop = sum(t.params["optimizer"] == "rmsprop" for t in trials)
    assert len(decay) == 1, notes
    assert decay[0].startswith(
        f"decay_rate (searched where optimizer=rmsprop, in {rmsprop} of {len(trials)} scored "
        "trials): 4 of the 5 best trials with it (the best included) lie in the upper 20% of "
        "the searched range float:0.9:0.999, near its upper bound 0.999"
    ), decay[0]
    # The range to try keeps its condition, quoted so that a shell reads it whole.
    assert re.search(r'Try --param "decay_rate=float:0\.9:\S+ if optimizer=rmsprop"$', decay[0])
    # lr is best inside its range: no note, even though half the trials lack decay_rate.
    assert not [n for n in notes if n.startswith("lr:")]


def test_no_edge_note_comes_from_the_trials_without_the_parameter():
    # Every RMSProp trial is poor and decay_rate does nothing in them, but the few AdaGrad
    # trials are best: nothing may be said of decay_rate's bounds from trials that lack it.
    trials = make_trials(60, space=SPACE, score=optimizer_matters_alone, n_val=1000)
    notes = ranking.edge_notes(trials, SPACE)
    assert not [n for n in notes if n.startswith("decay_rate")]
    # Too few trials with it: nothing said of it at all.
    few = [t for t in trials if "decay_rate" not in t.params] + [
        t for t in trials if "decay_rate" in t.params
    ][:4]
    assert not [n for n in ranking.edge_notes(few, SPACE) if n.startswith("decay_rate")]


def test_the_page_shows_the_quoted_range_to_try_as_code(tmp_path, trials):
    write_reports(tmp_path, trials, SPACE)
    page = (tmp_path / "index.html").read_text()
    assert re.search(
        r"<code>--param &quot;decay_rate=float:0\.9:\S+ if optimizer=rmsprop&quot;</code>", page
    )
    assert not re.search(r">(nan|None)<", page)


# --------------------------------------------------------------------------- tables
def test_ranking_and_curves_leave_the_parameter_blank_where_it_is_inactive(tmp_path, trials):
    write_reports(tmp_path, trials, SPACE)
    csv = pd.read_csv(tmp_path / "ranking.csv")
    adagrad = csv[csv["optimizer"] == "adagrad"]
    assert len(adagrad) and adagrad["decay_rate"].isna().all()
    assert csv[csv["optimizer"] == "rmsprop"]["decay_rate"].notna().all()
    text = ranking.format_top(ranking.ranking(trials, SPACE.names), 60, "table")
    assert "nan" not in text and "None" not in text


def _runs(trials):
    """Two confirmed configurations: the best RMSProp trial (its decay rate put at 0.998, at
    the upper bound) and the best AdaGrad one (no decay rate)."""
    best = {}
    for t in sorted(trials, key=lambda t: -(t.val_acc or 0)):
        best.setdefault(t.params["optimizer"], t)
    numbers = {opt: t.number for opt, t in best.items()}
    params = {numbers[opt]: dict(t.params) for opt, t in best.items()}
    params[numbers["rmsprop"]]["decay_rate"] = 0.998  # the issue's: at its upper bound
    runs = make_repeats({numbers["adagrad"]: [0.9, 0.92], numbers["rmsprop"]: [0.7, 0.72]}, params)
    return runs, best


def test_the_confirmed_table_shows_an_inactive_parameter_blank(trials):
    runs, best = _runs(trials)
    table = confirmed.confirmed_table(runs, SPACE.names)
    shown = confirmed.display_confirmed(table, SPACE.names).set_index("trial")
    assert shown.loc[str(best["adagrad"].number), "decay_rate"] == ""
    assert shown.loc[str(best["rmsprop"].number), "decay_rate"] != ""
    assert not shown.isin(["nan", "None"]).any().any()


def test_a_comparison_never_warns_of_a_bound_for_a_value_without_the_parameter(tmp_path, trials):
    runs, _ = _runs(trials)
    df = comparison.comparison(runs, "optimizer", space=SPACE, trials=trials)
    rows = df.set_index("optimizer")
    assert pd.isna(rows.loc["adagrad", "decay_rate"]) and rows.loc["adagrad", "edge"] == ""
    assert rows.loc["rmsprop", "edge"] == "decay_rate=upper"
    for table in (
        df,
        pd.read_csv(
            write_comparison(tmp_path, runs, "optimizer", space=SPACE, trials=trials)["comparison"]
        ),
    ):
        notes = comparison.comparison_notes(table)
        assert not [n for n in notes if n.startswith("optimizer=adagrad")], notes
        assert [n for n in notes if n.startswith("optimizer=rmsprop: its best decay_rate")]
        shown = comparison.display_comparison(table).set_index("optimizer")
        assert shown.loc["adagrad", "decay_rate"] == ""
        assert not shown.isin(["nan", "None"]).any().any()


def test_compare_by_a_conditional_parameter_takes_only_the_trials_that_have_it(tmp_path, trials):
    # The best trials overall are AdaGrad's: none of them is a value of decay_rate.
    best = best_per_value(trials, "decay_rate", SPACE.names, "s", Goal())
    assert best and all("decay_rate" in t.params for t in best)
    rmsprop = [t for t in trials if "decay_rate" in t.params and t.ok]
    assert len(best) == len({repr(t.params["decay_rate"]) for t in rmsprop})
    # The table's note says on which trials the comparison stands, from the CSV too.
    runs = make_repeats(
        {t.number: [0.6, 0.62] for t in best[:3]}, {t.number: t.params for t in best}
    )
    df = comparison.comparison(runs, "decay_rate", space=SPACE, trials=trials)
    csv = write_comparison(tmp_path, runs, "decay_rate", space=SPACE, trials=trials)["comparison"]
    said = (
        f"decay_rate is searched where optimizer=rmsprop, in {len(rmsprop)} of 60 trials: the "
        "comparison stands on those"
    )
    for table in (df, pd.read_csv(csv)):
        assert len(table) == 3 and (table["optimizer"] == "rmsprop").all()
        assert [n for n in comparison.comparison_notes(table) if n.startswith(said)]
    # A setting every trial has gets no such note, nor the column.
    by_optimizer = comparison.comparison(_runs(trials)[0], "optimizer", space=SPACE, trials=trials)
    assert "where" not in by_optimizer.columns
    assert not [n for n in comparison.comparison_notes(by_optimizer) if "stands on" in n]


# --------------------------------------------------------------------------- importance
def test_importance_measures_a_conditional_parameter_where_it_acted():
    trials = make_trials(60, space=SPACE, score=optimizer_matters_alone)
    result = importance(trials, SPACE, Goal(), seed=1)
    table = result.table.set_index("param")
    rmsprop = sum("decay_rate" in t.params for t in trials)
    assert result.note is None and result.trials == 60
    assert table.loc["decay_rate", "active"] == rmsprop
    assert table.loc["optimizer", "active"] == table.loc["lr", "active"] == 60
    # The optimizer's effect is the optimizer's: the decay rate, absent in half the trials
    # because of it, takes no share of it.
    assert list(result.table["param"])[0] == "optimizer"
    assert table.loc["decay_rate", "share"] < 0.05
    shown = display(result).set_index("param")
    assert shown.loc["decay_rate", "trials"] == f"{rmsprop} of 60"
    assert shown.loc["lr", "trials"] == "60 of 60"


def test_importance_finds_a_conditional_parameter_that_matters():
    trials = make_trials(60, space=SPACE, score=decay_matters)
    table = importance(trials, SPACE, Goal(), seed=1).table.set_index("param")
    assert table.loc["decay_rate", "share"] > 0.3
    assert table.loc["lr", "share"] < 0.1


# --------------------------------------------------------------------------- figures
def _offsets(ax) -> np.ndarray:
    points = [c.get_offsets() for c in ax.collections if len(c.get_offsets())]
    return np.concatenate(points) if points else np.empty((0, 2))


def test_param_scores_draws_each_parameter_over_the_trials_that_have_it(trials):
    fig = score_plots.param_scores(trials, SPACE)
    panels = {ax.get_title().split("\n")[0]: ax for ax in fig.axes if ax.get_visible()}
    rmsprop = sum("decay_rate" in t.params for t in trials)
    decay = panels["decay_rate"]
    assert f"searched where optimizer=rmsprop, in {rmsprop} of 60 trials" in " ".join(
        decay.get_title().split()
    )
    assert panels["lr"].get_title() == "lr"
    for ax in panels.values():
        assert np.isfinite(np.asarray(_offsets(ax), dtype=float)).all()
    # The first panel (decay_rate) lacks the best trial, an AdaGrad one: the legend has it.
    legend = fig.legends[0]
    assert BEST_LABEL in [t.get_text() for t in legend.get_texts()]


def test_a_panel_title_naming_a_condition_stays_inside_the_figure():
    space = SearchSpace(
        {
            "optimizer": Categorical(["rmsprop", "adagrad", "momentum"]),
            "decay_rate": Uniform(0.9, 0.999, when={"optimizer": "rmsprop"}),
            "momentum": Uniform(0.5, 0.95, when={"optimizer": "momentum"}),
            "lr": LogUniform(1e-3, 1e-1),
        }
    )
    trials = make_trials(14, space=space, score=lambda p: 0.5 + 0.1 * math.log10(p["lr"]))
    fig = score_plots.param_scores(trials, space)
    fig.draw_without_rendering()
    right = fig.bbox.x1
    titled = [ax for ax in fig.axes if ax.get_visible() and "searched where" in ax.get_title()]
    assert [ax.get_title().split("\n")[0] for ax in titled] == ["decay_rate", "momentum"]
    for ax in titled:  # momentum's panel is the last of its row, at the figure's right edge
        box = ax.title.get_window_extent()
        assert box.x0 >= 0 and box.x1 <= right, (ax.get_title(), box, right)


def test_the_map_holds_the_trials_with_both_parameters_and_says_so(trials):
    fig = score_plots.lr_wd_map(trials, "lr", "decay_rate", space=SPACE)
    ax = fig.axes[0]
    rmsprop = sum("decay_rate" in t.params for t in trials)
    assert f"decay_rate searched where optimizer=rmsprop, in {rmsprop} of 60 trials" in (
        " ".join(ax.get_title().split())
    )
    assert len(_offsets(ax)) == rmsprop and np.isfinite(_offsets(ax)).all()
    # The study's best trial (AdaGrad) is not on this map: no star for another trial.
    labels = ax.get_legend_handles_labels()[1]
    assert BEST_LABEL not in labels


def test_the_map_prefers_parameters_every_trial_has():
    space = SearchSpace(
        {
            "optimizer": Categorical(["rmsprop", "adagrad"]),
            "alpha": Uniform(0.9, 0.999, when={"optimizer": "rmsprop"}),
            "lr": LogUniform(1e-6, 1e-2),
            "momentum": Uniform(0.0, 0.9),
        }
    )
    trials = make_trials(12, space=space, score=lambda p: 0.5)
    assert map_axes(trials, space) == ("lr", "momentum")
    one = SearchSpace({k: v for k, v in space.items() if k != "momentum"})
    assert map_axes(make_trials(12, space=one, score=lambda p: 0.5), one) == ("lr", "alpha")


# --------------------------------------------------------------------------- the commands
def test_the_commands_on_a_conditional_study(tmp_path, capsys, tiny_flags):
    out = str(tmp_path / "studies")
    flags = ["--out", out, "--quiet", "--jobs", "1"]
    assert (
        main(
            [
                "random",
                "--param",
                "optimizer=choice:rmsprop,adagrad",
                "--param",
                "decay_rate=float:0.9:0.999 if optimizer=rmsprop",
                "--param",
                "lr=log:1e-3:1e-1",
                "--trials",
                "12",
                "--confirm",
                "2",
                "--repeats",
                "2",
                "--name",
                "cond",
                *tiny_flags,
                *flags,
            ]
        )
        == 0
    )
    folder = Path(out) / "cond"
    csv = pd.read_csv(folder / "ranking.csv")
    assert csv[csv["optimizer"] == "adagrad"]["decay_rate"].isna().all()
    assert "decay_rate" not in pd.read_csv(folder / "curves.csv").columns
    capsys.readouterr()
    assert main(["importance", "cond", "--out", out]) == 0
    said = capsys.readouterr().out
    assert re.search(r"decay_rate .* \d+ of 12", said), said
    assert main(["compare", "cond", "--by", "optimizer", "--repeats", "2", *flags]) == 0
    said = capsys.readouterr().out
    assert "optimizer=adagrad: its best decay_rate" not in said
    assert not re.search(r"\bnan\b|\bNone\b", said), said
    assert main(["confirm", "cond", "--confirm", "3", *flags]) == 0
    assert main(["report", "cond", "--out", out, "--write"]) == 0
    assert main(["list", "--out", out]) == 0
    said = capsys.readouterr().out
    assert not re.search(r"\bnan\b|\bNone\b", said), said
    page = (folder / "index.html").read_text()
    assert not re.search(r">(nan|None)<", page)
    assert "Compared by optimizer" in page
    # From Python: the frame an Optuna user knows leaves the cell empty, as Optuna does.
    study = Study.load("cond", out, read_only=True)
    frame = study.trials_dataframe().set_index("number")
    for t in study.trials:
        assert pd.isna(frame.loc[t.number, "params_decay_rate"]) is ("decay_rate" not in t.params)
    assert study.importance().table.set_index("param").loc["decay_rate", "active"] < 12
