"""Figures, checked for content: panels, points, lines, scales; built headless, never shown."""

from __future__ import annotations

import dataclasses
import io
import itertools

import matplotlib
import numpy as np
import pytest
from _report_fixtures import make_repeats, make_trials, mixed_space
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from hpsearch.records import Goal, TrialResult, TrialState
from hpsearch.reports.curve_plots import best_curves, comparison_curves, line_styles, score_label
from hpsearch.reports.plots import DPI
from hpsearch.reports.score_plots import history, lr_wd_map, param_scores
from hpsearch.space.dimensions import Categorical, LogUniform, Uniform
from hpsearch.space.search_space import SearchSpace, default_space


def _points(ax, label: str) -> np.ndarray:
    found = [
        c
        for c in ax.collections
        if c.get_label() == label
        or (label == "no score" and c.get_label().startswith("no score ("))
    ]
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


def test_best_curves_fewer_trials_than_a_row_make_a_narrower_figure():
    fig = best_curves(_ranked(make_trials(3)), n=20, ncols=5)
    assert len(fig.axes) == 3 and fig.get_size_inches()[0] == pytest.approx(3 * 3.2)


def test_history_points_failures_and_best_so_far():
    trials = make_trials(25, failed=(0, 5, 6))
    fig = history(trials)
    (ax,) = fig.axes
    scored = [t for t in trials if t.ok]
    pts = _points(ax, "trials")
    assert len(pts) == 22
    np.testing.assert_allclose(pts[:, 0], [t.number for t in scored])
    assert len(_points(ax, "no score")) == 3
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "best so far"]
    y = np.asarray(line.get_ydata())
    assert np.all(np.diff(y) >= 0) and y[-1] == pytest.approx(max(t.val_acc for t in scored))
    _render(fig)


def test_a_minimised_metric_is_plotted_as_such_best_so_far_falling():
    losses = [2.0, 1.5, 1.8, 0.7, 0.9, 0.4]
    trials = [
        dataclasses.replace(t, val_acc=None, metrics={"val_loss": loss})
        for t, loss in zip(make_trials(6), losses, strict=True)
    ]
    failed = dataclasses.replace(make_trials(7)[6], state=TrialState.FAILED, val_acc=None)
    goal = Goal("val_loss", "minimize")
    fig = history([*trials, failed], goal)
    (ax,) = fig.axes
    assert ax.get_ylabel() == "final val_loss"
    np.testing.assert_allclose(_points(ax, "trials")[:, 1], losses)
    # Never at a score: a cross on the bottom edge of the axes, whatever the metric's range.
    (mark,) = [c for c in ax.collections if c.get_label() == "no score (FAILED 1)"]
    assert mark.get_offsets()[0][1] == 0.0 and mark.get_offsets()[0][0] == 6
    bottom = ax.transAxes.transform((0, 0))[1]
    assert mark.get_offset_transform().transform(mark.get_offsets())[0][1] == pytest.approx(bottom)
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "best so far"]
    np.testing.assert_allclose(line.get_ydata(), np.minimum.accumulate(losses))
    scores = param_scores(trials, default_space(), goal=goal)
    best = [c for c in scores.axes[0].collections if c.get_label() == "best single trial"][0]
    assert best.get_offsets()[0][1] == 0.4
    _render(fig)
    _render(scores)


def test_map_log_axes_colour_and_failed_marks():
    trials = make_trials(40, failed=(3, 9))
    fig = lr_wd_map(trials, space=default_space())
    ax, cbar = fig.axes  # the map and its colorbar
    assert cbar.get_ylabel() == "validation accuracy"
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    pts = _points(ax, "trials")
    assert len(pts) == 38 and len(_points(ax, "no score")) == 2
    colours = [c for c in ax.collections if c.get_label() == "trials"][0].get_array()
    assert len(colours) == 38
    best = _ranked(trials)[0]
    np.testing.assert_allclose(
        _points(ax, "best single trial")[0], [best.params["lr"], best.params["weight_decay"]]
    )
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
    return [
        t.label1.get_text()
        for t in ticks
        if t.label1.get_visible() and t.label1.get_text() and low <= t.get_loc() <= high
    ]


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


@pytest.mark.parametrize("figure", ["map", "scores", "history", "best"])
def test_figures_draw_no_mathtext(figure: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # matplotlib's own log labels are mathtext ($10^{-4}$): its parser costs more than the rest
    # of a figure, and on matplotlib 3.7 it warns of pyparsing's deprecated names.
    import matplotlib.mathtext

    def refuse(self, s, *args, **kwargs):
        raise AssertionError(f"mathtext drawn: {s!r}")

    monkeypatch.setattr(matplotlib.mathtext.MathTextParser, "parse", refuse)
    space = SearchSpace({"lr": LogUniform(1e-6, 1e-2), "weight_decay": LogUniform(1e-8, 1e-4)})
    trials = make_trials(20, space=space)
    fig = {
        "map": lambda: lr_wd_map(trials, space=space),
        "scores": lambda: param_scores(trials, space),
        "history": lambda: history(trials),
        "best": lambda: best_curves(_ranked(trials)),
    }[figure]()
    _render(fig)
    if figure == "map":  # decades read as a person writes them
        labels = _labelled_ticks(fig.axes[0].xaxis)
        assert "10\u207b\u2074" in labels and not any("$" in label for label in labels), labels


def test_param_scores_numeric_and_categorical():
    space = mixed_space()
    trials = make_trials(
        30, space=space, score=lambda p: 0.9 if p["activation"] == "relu" else 0.4, failed=(4,)
    )
    fig = param_scores(trials, space)
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == list(space.names)
    by_name = {ax.get_title(): ax for ax in axes}
    for ax in axes:
        assert len(_points(ax, "trials")) == 29 and len(_points(ax, "no score")) == 1
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
    trials = [
        TrialResult(i, {"lr": 10.0**-i, "weight_decay": 1e-6}, TrialState.FAILED, error="x")
        for i in range(3)
    ]
    for fig in (
        history(trials),
        lr_wd_map(trials, space=default_space()),
        param_scores(trials, default_space()),
    ):
        _render(fig)
    assert len(_points(history(trials).axes[0], "no score")) == 3


# ----------------------------------------------------------------------------- readable at a glance
def _renderer(fig: Figure):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _overlap(a, b) -> bool:
    """Whether two display boxes share more than a pixel's width."""
    return min(a.x1, b.x1) - max(a.x0, b.x0) > 1 and min(a.y1, b.y1) - max(a.y0, b.y0) > 1


def test_figures_are_drawn_at_a_readable_resolution():
    assert DPI >= 100


def test_best_curves_text_and_legend_stay_out_of_the_panels():
    trials = make_trials(12, space=mixed_space(), n_val=100)
    fig = best_curves(_ranked(trials), n=12, ncols=5)
    renderer = _renderer(fig)
    axes = _visible(fig)
    boxes = [ax.get_window_extent(renderer) for ax in axes]
    for ax in axes:
        assert not ax.texts  # no text inside a panel, where the curves run
        title = ax.title.get_window_extent(renderer)
        assert not any(_overlap(title, box) for box in boxes), ax.get_title()
        for line in ax.get_lines():  # the curves stay inside their own panel
            assert ax.get_window_extent(renderer).contains(*line.get_window_extent(renderer).p0)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["validation", "training"]
    assert not any(_overlap(legend.get_window_extent(renderer), box) for box in boxes)
    # Each title: rank, final validation accuracy with its 95% interval, then the params.
    best = _ranked(trials)[0]
    lines = axes[0].get_title().splitlines()
    assert lines[0] == f"Best-1  val {score_label(best.val_acc, 100)}"
    assert " ".join(lines[1:]).count("=") == 4 and all(len(line) <= 40 for line in lines[1:])
    # The last row's panels and those above an empty slot label their epochs.
    # (Read on the ticks themselves: matplotlib 3.7's get_tick_params names only what was set.)
    assert all(t.label1.get_visible() for ax in axes[-5:] for t in ax.xaxis.get_major_ticks())


def test_score_label_shows_the_interval_to_the_decimals_the_size_carries():
    assert score_label(0.8, 100) == "0.80 (0.71-0.87)"
    assert score_label(0.8, 10_000) == "0.800 (0.792-0.808)"
    assert score_label(0.8, None) == "0.800"


def test_history_legend_sits_beside_the_axes_not_on_the_last_trials():
    fig = history(make_trials(40, failed=(5,)))
    renderer = _renderer(fig)
    (ax,) = fig.axes
    assert ax.get_legend() is None
    (legend,) = fig.legends
    assert not _overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
    assert [t.get_text() for t in legend.get_texts()] == [
        "trials",
        "no score (DIVERGED 1)",
        "best so far",
    ]


def test_map_legend_sits_off_the_data_and_its_trials_marker_is_neutral():
    fig = lr_wd_map(make_trials(40, failed=(3,)), space=default_space())
    renderer = _renderer(fig)
    ax, cbar = fig.axes
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    assert not _overlap(box, ax.get_window_extent(renderer)) and not _overlap(
        box, cbar.get_window_extent(renderer)
    )
    handles = dict(
        zip([t.get_text() for t in legend.get_texts()], legend.legend_handles, strict=True)
    )
    assert set(handles) == {"trials", "best single trial", "no score (DIVERGED 1)"}
    grey = handles["trials"].get_facecolor()[0]
    assert tuple(grey[:3]) == pytest.approx(to_rgba("0.6")[:3])  # not a score's colour


def test_param_scores_label_every_axis_and_mark_the_best_trial():
    space = mixed_space()
    trials = make_trials(
        30, space=space, score=lambda p: 0.9 if p["activation"] == "relu" else 0.4 + p["lr"]
    )
    fig = param_scores(trials, space)
    best = _ranked(trials)[0]
    by_name = {ax.get_title(): ax for ax in _visible(fig)}
    for name, ax in by_name.items():
        assert ax.get_xlabel().startswith(name)
        (star,) = _points(ax, "best single trial")
        assert star[1] == pytest.approx(best.val_acc)
        if name != "activation":
            assert star[0] == pytest.approx(best.params[name])
    assert (
        by_name["lr"].get_xlabel() == "lr (log)"
        and by_name["batch_size"].get_xlabel() == "batch_size"
    )
    assert by_name["activation"].get_xticks()[
        list(space["activation"].choices).index(best.params["activation"])
    ] == pytest.approx(_points(by_name["activation"], "best single trial")[0][0])
    renderer = _renderer(fig)
    (legend,) = fig.legends
    assert not any(
        _overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
        for ax in _visible(fig)
    )


def test_param_scores_shows_only_the_parameters_the_trials_varied():
    """A grid over activation with lr and weight decay pinned: one panel, not three."""
    space = default_space().with_dimensions({"activation": Categorical(["relu", "tanh"])})
    trials = [
        dataclasses.replace(t, params={**t.params, "lr": 1e-4, "weight_decay": 1e-6})
        for t in make_trials(6, space=space, score=lambda p: 0.5)
    ]
    assert [ax.get_title() for ax in _visible(param_scores(trials, space))] == ["activation"]
    assert len(_visible(param_scores(trials, space, names=space.names))) == 3


def test_comparison_curves_hold_every_epoch_within_0_and_1():
    params = {0: {"optimizer": "sgd"}, 1: {"optimizer": "adam"}}
    runs = make_repeats({0: [0.95, 0.96], 1: [0.985, 0.99]}, params, gap=0.0)
    fig = comparison_curves(runs, "optimizer")
    val, test = fig.axes
    assert (val.get_title(), test.get_title()) == ("validation", "test")
    labels = [line.get_label() for line in val.get_lines()]
    assert labels == ["optimizer=adam (2 runs)", "optimizer=sgd (2 runs)"]
    np.testing.assert_allclose(
        val.get_lines()[1].get_ydata(), [0.955 * (e + 1) / 10 for e in range(10)]
    )
    low, high = val.get_ylim()
    drawn = np.concatenate([line.get_ydata() for line in val.get_lines()])
    # Every epoch in sight, the first ones too (they climb from a tenth of the final value).
    assert 0.0 <= low <= drawn.min() and drawn.max() <= high <= 1.0
    no_test = comparison_curves(make_repeats({0: [0.9]}, params, n_test=None), "optimizer")
    assert [ax.get_title() for ax in no_test.axes] == ["validation"]
    _render(fig)
    _render(comparison_curves([], "optimizer"))


def test_narrow_log_axis_labels_do_not_run_into_one_another():
    space = SearchSpace({"lr": LogUniform(0.05, 0.5), "weight_decay": LogUniform(1e-8, 1e-4)})
    trials = make_trials(12, space=space, score=lambda p: 0.5)
    for fig in (lr_wd_map(trials, space=space), param_scores(trials, space)):
        renderer = _renderer(fig)
        axis = fig.axes[0].xaxis
        low, high = axis.get_view_interval()
        labels = [
            t.label1
            for t in [*axis.get_major_ticks(), *axis.get_minor_ticks()]
            if t.label1.get_visible() and t.label1.get_text() and low <= t.get_loc() <= high
        ]
        assert [label.get_text() for label in labels] == ["0.05", "0.1", "0.2", "0.5"]
        boxes = sorted((label.get_window_extent(renderer) for label in labels), key=lambda b: b.x0)
        assert all(a.x1 < b.x0 for a, b in itertools.pairwise(boxes))


def test_comparison_curves_of_many_values_share_no_colour_and_follow_the_tables_order():
    levels = [0, 0.01, 0.02, 0.05, 0.1, 0.2, *[0.3 + 0.05 * k for k in range(8)]]  # 14 values
    params = {k: {"flooding": v} for k, v in enumerate(levels)}
    runs = make_repeats({k: [0.9, 0.91] for k in params}, params)
    fig = comparison_curves(runs, "flooding")
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if line.get_label().startswith("flooding=")]
    looks = {(matplotlib.colors.to_rgba(ln.get_color()), ln.get_linestyle()) for ln in lines}
    assert len(lines) == len(levels) and len(looks) == len(levels)
    # The legend in the table's order: 0 (an int) first, then 0.01, ... (not by type name).
    labels = [line.get_label().split(" ")[0] for line in lines]
    assert labels[:3] == ["flooding=0", "flooding=0.01", "flooding=0.02"]
    assert all(len(set(line_styles(n))) == n for n in (5, 10, 11, 20, 21, 80))


@pytest.mark.parametrize(
    "choices",
    [
        ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"],
        ["relu", "sigmoid", "tanh", "swish", "mish", "hswish", "tanhexp"],
        ["relu", "sigmoid"],
        [f"choice_number_{k}" for k in range(30)],
    ],
)
def test_param_scores_categorical_labels_never_overlap(choices):
    space = SearchSpace({"optimizer": Categorical(choices), "lr": LogUniform(1e-3, 1e-1)})
    trials = [
        dataclasses.replace(t, params={**t.params, "optimizer": choices[t.number % len(choices)]})
        for t in make_trials(2 * len(choices), space=space, score=lambda p: 0.5)
    ]
    fig = param_scores(trials, space, names=["optimizer", "lr"])
    fig.canvas = FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [label.get_window_extent(renderer) for label in ax.get_xticklabels()]
    assert [label.get_text() for label in ax.get_xticklabels()] == choices
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)


@pytest.mark.parametrize("enabled", [True, False])
def test_writing_figures_leaves_the_garbage_collector_as_it_found_it(tmp_path, enabled):
    """The collector is paused while this process draws its share of the figures (see
    plots._collector_paused) and given back as it was: on for a notebook that had it on, off
    for a program that turned it off. The figures are written all the same."""
    import gc

    from hpsearch.reports import plots

    trials = make_trials(8)
    seen: list[bool] = []

    def writer(name: str):
        def write(path):
            seen.append(gc.isenabled())
            return plots.save_figure(history(trials), path, 40)

        return tmp_path / name, write

    # Three, as write_all shares them out: the costliest to the forked copy, one drawn here.
    names = ("param_scores", "history", "other")
    due = {name: writer(f"{name}.png") for name in names}
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        outcomes = plots.write_all(due)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert outcomes == {name: tmp_path / f"{name}.png" for name in names}
    assert all(p.stat().st_size > 0 for p in outcomes.values())
    assert seen and not any(seen)  # this process drew at least one, paused


_IMPORTING_BESIDE = """
import importlib.abc, sys, threading, time
sys.path.insert(0, {tests!r})

class Slow(importlib.abc.MetaPathFinder):  # matplotlib.figure's import, slow in one thread
    def find_spec(self, name, path, target=None):
        if name == "matplotlib.figure" and threading.current_thread().name == "warm-up":
            time.sleep(1.0)
        return None

sys.meta_path.insert(0, Slow())
from pathlib import Path
from _report_fixtures import make_trials
from hpsearch.reports import plots, score_plots

warm = threading.Thread(target=lambda: __import__("matplotlib.figure"), name="warm-up",
                        daemon=True)
warm.start()
time.sleep(0.3)  # the thread is inside matplotlib.figure's import now
trials = make_trials(8)
due = {{name: (Path({out!r}) / f"{{name}}.png",
              lambda p: plots.save_figure(score_plots.history(trials), p, 40))
       for name in ("param_scores", "history", "other")}}
print(sorted(k for k, v in plots.write_all(due).items() if isinstance(v, Path)))
"""


def test_figures_are_written_while_another_thread_is_importing_matplotlib(tmp_path):
    """A study's figures while its warm-up thread is still inside matplotlib's import (it is
    waited for 30 s at most): the copy forked to draw a share of them must not start inside
    that import, whose lock no thread of the copy would ever release (it hung, and the study
    with it, waiting for the copy)."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    code = _IMPORTING_BESIDE.format(tests=str(Path(__file__).parents[1]), out=str(tmp_path))
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                          start_new_session=True) as run:  # fmt: skip
        try:
            out, _ = run.communicate(timeout=60)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)  # the command and a copy stuck in an import
    assert run.returncode == 0
    assert out.split() == ["['history',", "'other',", "'param_scores']"]
