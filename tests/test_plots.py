"""Figures, checked for content: panels, points, lines, scales; built headless, never shown."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from _report_fixtures import make_trials, mixed_space
from hpsearch.plots import best_curves, history, lr_wd_map, param_scores
from hpsearch.space import LogUniform, SearchSpace, Uniform, default_space
from hpsearch.trial import TrialResult, TrialState


def _points(ax, label: str) -> np.ndarray:
    found = [c for c in ax.collections if c.get_label() == label]
    if not found:
        return np.empty((0, 2))
    assert len(found) == 1
    return np.asarray(found[0].get_offsets())


def _visible(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


def _ranked(trials):
    return sorted((t for t in trials if t.ok), key=lambda t: (-t.val_acc, t.number))


def _render(fig: Figure) -> None:
    fig.savefig(io.BytesIO(), format="png", dpi=40)


def test_best_curves_grid():
    trials = make_trials(30, failed=(2,))
    fig = best_curves(_ranked(trials), n=20, ncols=5)
    axes = _visible(fig)
    assert len(fig.axes) == 20 and len(axes) == 20
    assert [ax.get_title().split()[0] for ax in axes] == [f"Best-{i}" for i in range(1, 21)]
    for ax in axes:
        assert ax.get_ylim() == (0.0, 1.0)
        styles = [line.get_linestyle() for line in ax.get_lines()]
        assert styles == ["-", "--"]  # validation solid, training dashed
    best = _ranked(trials)[0]
    np.testing.assert_allclose(axes[0].get_lines()[0].get_ydata(), best.val_curve)
    _render(fig)


def test_best_curves_fewer_trials_than_panels():
    fig = best_curves(_ranked(make_trials(7)), n=20, ncols=3)
    assert len(_visible(fig)) == 7 and len(fig.axes) == 9


def test_history_points_failures_and_best_so_far():
    trials = make_trials(25, failed=(0, 5, 6))
    fig = history(trials)
    (ax,) = fig.axes
    scored = [t for t in trials if t.ok]
    pts = _points(ax, "trials")
    assert len(pts) == 22
    np.testing.assert_allclose(pts[:, 0], [t.number for t in scored])
    assert len(_points(ax, "failed")) == 3
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "best so far"]
    y = np.asarray(line.get_ydata())
    assert np.all(np.diff(y) >= 0) and y[-1] == pytest.approx(max(t.val_acc for t in scored))
    _render(fig)


def test_map_log_axes_colour_and_failed_marks():
    trials = make_trials(40, failed=(3, 9))
    fig = lr_wd_map(trials, space=default_space())
    ax, cbar = fig.axes  # the map and its colorbar
    assert cbar.get_ylabel() == "validation accuracy"
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    pts = _points(ax, "trials")
    assert len(pts) == 38 and len(_points(ax, "failed")) == 2
    colours = [c for c in ax.collections if c.get_label() == "trials"][0].get_array()
    assert len(colours) == 38
    best = _ranked(trials)[0]
    np.testing.assert_allclose(_points(ax, "best")[0], [best.params["lr"], best.params["weight_decay"]])
    lo, hi = ax.get_xlim()
    assert lo < 1e-6 and hi > 1e-2  # the whole searched range shows, so crowding at a bound does
    _render(fig)


def test_map_scales_follow_the_dimension():
    space = SearchSpace({"lr": LogUniform(1e-4, 1e-1), "weight_decay": Uniform(0.0, 1e-3)})
    trials = make_trials(15, space=space, score=lambda p: 0.5)
    fig = lr_wd_map(trials, space=space)
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "linear"
    # Without the space: log where positive values span two decades or more.
    fig = lr_wd_map(trials)
    assert fig.axes[0].get_xscale() == "log"


def _labelled_ticks(axis) -> list[str]:
    """The tick labels drawn inside the axis's limits (major and minor)."""
    low, high = axis.get_view_interval()
    ticks = [*axis.get_major_ticks(), *axis.get_minor_ticks()]
    return [t.label1.get_text() for t in ticks if t.label1.get_visible() and t.label1.get_text()
            and low <= t.get_loc() <= high]


@pytest.mark.parametrize("figure", ["map", "scores"])
def test_log_axes_keep_labels_however_narrow(figure: str) -> None:
    wide = SearchSpace({"lr": LogUniform(1e-6, 1e-2), "weight_decay": LogUniform(1e-8, 1e-4)})
    narrow = SearchSpace({"lr": LogUniform(2e-3, 8e-3), "weight_decay": LogUniform(1e-8, 1e-4)})
    for space, minor in ((wide, False), (narrow, True)):
        trials = make_trials(20, space=space, score=lambda p: 0.5)
        fig = lr_wd_map(trials, space=space) if figure == "map" else param_scores(trials, space)
        _render(fig)
        xaxis = fig.axes[0].xaxis
        assert xaxis.get_scale() == "log"
        assert len(_labelled_ticks(xaxis)) >= 2  # the axis can be read
        # Minor ticks only where they carry the labels: under two decades.
        assert bool(len(xaxis.get_minorticklocs())) == minor


def test_param_scores_numeric_and_categorical():
    space = mixed_space()
    trials = make_trials(30, space=space, score=lambda p: 0.9 if p["activation"] == "relu" else 0.4,
                         failed=(4,))
    fig = param_scores(trials, space)
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == list(space.names)
    by_name = {ax.get_title(): ax for ax in axes}
    for ax in axes:
        assert len(_points(ax, "trials")) == 29 and len(_points(ax, "failed")) == 1
    act = by_name["activation"]
    assert [t.get_text() for t in act.get_xticklabels()] == ["relu", "sigmoid", "tanh"]
    relu = _points(act, "trials")
    assert np.all(relu[np.abs(relu[:, 0]) < 0.5][:, 1] == 0.9)  # relu's strip sits at its score
    assert by_name["lr"].get_xscale() == "log" and by_name["batch_size"].get_xscale() == "linear"
    _render(fig)


def test_figures_of_no_trials_do_not_raise():
    for fig in (best_curves([]), history([]), lr_wd_map([]), param_scores([], default_space())):
        assert isinstance(fig, Figure)
        _render(fig)


def test_only_failed_trials():
    trials = [TrialResult(i, {"lr": 10.0 ** -i, "weight_decay": 1e-6}, TrialState.FAILED, error="x")
              for i in range(3)]
    for fig in (history(trials), lr_wd_map(trials, space=default_space()), param_scores(trials, default_space())):
        _render(fig)
    assert len(_points(history(trials).axes[0], "failed")) == 3
