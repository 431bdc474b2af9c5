"""A parameter searched under a condition in the reports (issue 36, point 2).

``decay_rate`` is searched only where ``optimizer=rmsprop``: the AdaGrad trials do not have it.
Such a trial is left out for it everywhere: no edge note, no share of importance, no compare
group or warning drawn from it, blank cells in every table, no NaN in a figure; and the notes,
tables and figures say on how many trials the parameter stands.
"""

from __future__ import annotations

import math
import re

import pytest
from _report_fixtures import make_trials

from hpsearch.reports import ranking
from hpsearch.reports.publish import write_reports
from hpsearch.space.dimensions import Categorical, LogUniform, Uniform
from hpsearch.space.search_space import SearchSpace

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
    decay = [n for n in notes if n.startswith("decay_rate:")]
    rmsprop = sum(t.params["optimizer"] == "rmsprop" for t in trials)
    assert len(decay) == 1, notes
    assert "upper bound" in decay[0]
    assert (
        f"searched where optimizer=rmsprop: {rmsprop} of {len(trials)} scored trials" in (decay[0])
    )
    # The range to try keeps its condition, quoted so that a shell reads it whole.
    assert re.search(r'Try --param "decay_rate=float:0\.9:\S+ if optimizer=rmsprop"$', decay[0])
    # lr is best inside its range: no note, even though half the trials lack decay_rate.
    assert not [n for n in notes if n.startswith("lr:")]


def test_no_edge_note_comes_from_the_trials_without_the_parameter():
    # Every RMSProp trial is poor and decay_rate does nothing in them, but the few AdaGrad
    # trials are best: nothing may be said of decay_rate's bounds from trials that lack it.
    trials = make_trials(60, space=SPACE, score=optimizer_matters_alone, n_val=1000)
    notes = ranking.edge_notes(trials, SPACE)
    assert not [n for n in notes if n.startswith("decay_rate:")]
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
