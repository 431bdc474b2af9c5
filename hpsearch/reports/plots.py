"""Figures from trial records and confirmed runs: each returns a matplotlib Figure, never shows it.

Saving is the caller's job (:mod:`hpsearch.reports.publish`, at :data:`DPI`). Legends sit outside
the axes, so they never hide a point or a curve, and text sits in margins reserved for it: each
figure reads at 100% zoom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict

# Figures are built with matplotlib.figure.Figure, not pyplot: no GUI backend, no global state,
# headless by construction; saving (through Agg) is the caller's job.
import matplotlib
import matplotlib.font_manager
import numpy as np
from matplotlib.collections import Collection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

from hpsearch.reports.comparison import mean_curves
from hpsearch.reports.edges import varied
from hpsearch.reports.formatting import decimals_for, shown_value, wilson
from hpsearch.space.dimensions import Categorical
from hpsearch.space.search_space import SearchSpace
from hpsearch.trial import Goal, RepeatResult, TrialResult

if TYPE_CHECKING:
    from matplotlib.legend import Legend
    from matplotlib.typing import LegendLocType

__all__ = [
    "best_curves",
    "history",
    "lr_wd_map",
    "param_scores",
    "comparison_curves",
    "score_label",
    "DPI",
]

DPI = 100  # at 100 dpi a 9-point label is 12 pixels high: readable without zooming in


class _Style(TypedDict, total=False):
    """Keyword arguments of ``Axes.scatter`` for a mark several figures share."""

    marker: str
    color: str
    s: float
    facecolors: str
    edgecolors: str
    linewidths: float
    zorder: float


FAILED_STYLE = _Style(marker="x", color="tab:red", s=36, linewidths=1.5, zorder=3)
BEST_STYLE = _Style(
    marker="*", s=260, facecolors="none", edgecolors="tab:red", linewidths=1.5, zorder=4
)
CHOSEN_STYLE = _Style(
    marker="D", s=110, facecolors="none", edgecolors="tab:green", linewidths=2.0, zorder=5
)
#: The legend labels of the two marks: the search's best single run, and the confirm stage's pick.
BEST_LABEL, CHOSEN_LABEL = "best single trial", "chosen (confirm stage)"


def _short(value: Any) -> str:  # a param for a title: two significant digits are enough to tell
    return f"{value:.2g}" if isinstance(value, float) else str(value)


def _wrap(items: Sequence[str], width: int) -> list[str]:
    """Comma-joined items in lines of at most ``width`` characters (a long item gets a line of its
    own)."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += ", " + item
        else:
            lines.append(item)
    return lines


def score_label(acc: float, n: int | None) -> str:
    """A score with its 95% interval when the set size is known, to the decimals it can carry.

    Example:
        >>> score_label(0.8, 100), score_label(0.8, None)
        ('0.80 (0.71-0.87)', '0.800')
    """
    if not n:
        return f"{acc:.3f}"
    d = decimals_for(n)
    low, high = wilson(acc, n)
    return f"{acc:.{d}f} ({low:.{d}f}-{high:.{d}f})"


def _goal_curves(t: TrialResult, goal: Goal) -> tuple[list[float], list[float]]:
    """A trial's per-epoch values of the goal (validation, solid) and of its training twin
    (``val_loss`` -> ``train_loss``, dashed), for a goal other than validation accuracy."""
    twin = goal.twin("train")
    return (
        [math.nan if v is None else v for v in t.curves.get(goal.metric, ())],
        [math.nan if v is None else v for v in t.curves.get(twin, ())],
    )


def best_curves(
    trials: Sequence[TrialResult], n: int = 20, ncols: int = 5, goal: Goal | None = None
) -> Figure:
    """The Best-N grid: one panel per top trial, validation solid, training dashed.

    Each title, above its panel, gives the rank, the final validation accuracy with its 95%
    interval (when the validation size is recorded) and the params; the legend sits on top.
    A study that ranks by another metric an own objective reports per epoch (``val_loss``)
    gets that metric's curves instead (and ``train_loss``'s, if reported), on an axis of
    their own range.

    Args:
        trials: Trials in rank order (best first); those without curves are skipped.
        n: How many panels.
        ncols: Panels per row.
        goal: What the study ranks by (validation accuracy if not given).

    Returns:
        The figure, with panels titled "Best-1", "Best-2", ..., y from 0 to 1 for accuracies.

    Example:
        >>> best_curves(ranked_trials, n=20).savefig("best_curves.png", dpi=DPI)  # doctest: +SKIP
    """
    aim = goal or Goal()
    own = not aim.accuracy and any(aim.metric in t.curves for t in trials)
    if own:
        shown = [t for t in trials if aim.metric in t.curves][:n]
        curves = [_goal_curves(t, aim) for t in shown]
        labels = [f"{aim.metric} {_last_finite(c[0])}" for c in curves]
    else:
        shown = [t for t in trials if t.val_curve][:n]
        curves = [(list(t.val_curve), list(t.train_curve)) for t in shown]
        labels = [
            f"val {score_label(t.val_curve[-1], t.n_val)}"
            if t.ok and t.val_acc is not None
            else f"{t.state.value}, no score"  # never a score or an interval
            for t in shown
        ]
    titles = [
        [
            f"Best-{i + 1}  {labels[i]}",
            *_wrap([f"{k}={_short(v)}" for k, v in t.params.items()], 40),
        ]
        for i, t in enumerate(shown)
    ]
    lines = max((len(t) for t in titles), default=1)
    ncols = max(1, min(ncols, len(shown)))  # three trials make one row of three, not of five
    nrows = max(math.ceil(len(shown) / ncols), 1)
    # Heights in inches: the legend strip, then per row the title block and the axes.
    legend_h, title_h, axes_h, bottom = 0.45, 0.18 * lines + 0.2, 1.9, 0.55
    width, height = 3.2 * ncols, legend_h + nrows * (title_h + axes_h) + bottom
    fig = Figure(figsize=(width, height))
    # Fixed margins rather than a layout engine: the grid's shape is known, and constrained
    # layout costs seconds on 20 panels.
    fig.subplots_adjust(
        left=0.6 / width,
        right=1 - 0.15 / width,
        bottom=bottom / height,
        top=1 - (legend_h + title_h) / height,
        wspace=0.08,
        hspace=title_h / axes_h,
    )
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for i, ax in enumerate(axes.flat):
        if i >= len(shown):
            ax.set_visible(False)
            continue
        val, train = curves[i]
        ax.plot(range(1, len(val) + 1), val, "-", label="validation")
        if train:  # an own objective may report validation alone
            ax.plot(range(1, len(train) + 1), train, "--", label="training")
        # Titles get a fixed height (y=1.0) in every figure here: left to place them itself,
        # matplotlib measures each axes' tick labels first, a third of this grid's drawing time.
        ax.set_title("\n".join(titles[i]), fontsize=9, y=1.0, linespacing=1.25)
        if len(shown) <= i + ncols < nrows * ncols:  # above an empty slot: label its epochs
            ax.tick_params(labelbottom=True)
    # The panels share their axes: limits and ticks set on one are every panel's. Few ticks,
    # since matplotlib builds each panel's ticks anew and they are most of the drawing time.
    first = axes.flat[0]
    if not own:
        first.set_ylim(0, 1)
        first.set_yticks([0, 0.5, 1])
    else:
        first.yaxis.set_major_locator(MaxNLocator(nbins=3))
    first.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2.5, 5, 10], integer=True))
    if shown:
        fig.legend(
            *first.get_legend_handles_labels(),
            loc="upper center",
            ncol=2,
            frameon=False,
            bbox_to_anchor=(0.5, 1 - 0.05 / height),
        )
    fig.supxlabel("epoch", y=0.12 / height)
    fig.supylabel(aim.metric.removeprefix("val_") if own else "accuracy", x=0.12 / width)
    return fig


def _last_finite(values: Sequence[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    return f"{finite[-1]:.3g}" if finite else "-"


# --------------------------------------------------------------------------- helpers
def _scored(
    trials: Sequence[TrialResult], scored: bool = True, goal: Goal | None = None
) -> list[TrialResult]:
    """The trials with a finite score (or, with ``scored=False``, those without)."""
    aim = goal or Goal()
    return [t for t in trials if (t.ok and aim.of(t) is not None) is scored]


def _unscored(trials: Sequence[TrialResult], goal: Goal | None = None) -> list[TrialResult]:
    return _scored(trials, False, goal)


def _best(trials: Sequence[TrialResult], goal: Goal | None = None) -> TrialResult | None:
    aim = goal or Goal()
    scored = _scored(trials, goal=aim)
    return min(scored, key=lambda t: (aim.key(_score(t, aim)), t.number)) if scored else None


def _score(trial: TrialResult, goal: Goal | None = None) -> float:
    """The final score of a trial :func:`_scored` kept (it has one): validation accuracy, or
    the study's own metric."""
    value = (goal or Goal()).of(trial)
    if value is None:
        raise ValueError(f"trial {trial.number} has no score")
    return value


def _axis_label(goal: Goal | None) -> str:
    aim = goal or Goal()
    return "final validation accuracy" if aim.accuracy else f"final {aim.metric}"


def _no_score(unscored: Sequence[TrialResult]) -> str:
    """The legend label of trials without a score, with their states: every figure marks them
    the same way, as crosses on the bottom edge of the axes (never at a score)."""
    states: dict[str, int] = {}
    for t in unscored:
        states[t.state.value] = states.get(t.state.value, 0) + 1
    return "no score (" + ", ".join(f"{k} {v}" for k, v in sorted(states.items())) + ")"


def _on_bottom_edge(ax: Any, xs: Sequence[Any], unscored: Sequence[TrialResult]) -> None:
    ax.scatter(
        xs,
        [0.0] * len(xs),
        transform=ax.get_xaxis_transform(),  # x in data, y on the axes' bottom edge
        clip_on=False,
        label=_no_score(unscored),
        **FAILED_STYLE,
    )


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_log(name: str, trials: Sequence[TrialResult], space: SearchSpace | None) -> bool:
    """Log scale where the dimension is log; without a space, where positive values span 2
    decades."""
    if space is not None and name in space:
        return space[name].scale == "log"
    values = [t.params[name] for t in trials if _numeric(t.params.get(name))]
    return bool(values) and min(values) > 0 and max(values) / min(values) >= 100


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _log_ticks(axis: Any) -> None:
    """Readable ticks on a log axis. Over two decades: labelled decades, no minor ticks (forty cost
    more to draw than the points). Narrower: plain labels at 1, 2 and 5 (every digit if need be)
    and unlabelled minor ticks, as matplotlib's minor labels (``3x10^-1``) run into each other."""
    low, high = axis.get_view_interval()
    if axis.get_scale() != "log" or low <= 0:
        return
    if high / low >= 100:
        axis.set_minor_locator(NullLocator())
        return
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    inside = [m * 10.0**e for e in decades for m in (1, 2, 5) if low <= m * 10.0**e <= high]
    axis.set_major_locator(
        LogLocator(subs=(1.0, 2.0, 5.0) if len(inside) >= 2 else np.arange(1.0, 10.0).tolist())
    )
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _scale_axis(
    ax: Any, axis: str, name: str, trials: Sequence[TrialResult], space: SearchSpace | None
) -> None:
    """Log or linear as the dimension is, labelled with the name, and limits just past the searched
    range, so that crowding at a bound shows."""
    log = _is_log(name, trials, space)
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log" if log else "linear")
    if space is not None and name in space and space[name].numeric:
        (ax.set_xlim if axis == "x" else ax.set_ylim)(*space[name].limits(0.04))
    _log_ticks(ax.xaxis if axis == "x" else ax.yaxis)
    (ax.set_xlabel if axis == "x" else ax.set_ylabel)(name + (" (log)" if log else ""))


def _outside_legend(fig: Figure, ax: Any, loc: LegendLocType, **kwargs: Any) -> Legend | None:
    """One legend for the figure in its margin (constrained layout makes room), never over data."""
    handles, labels = ax.get_legend_handles_labels()
    return fig.legend(handles, labels, loc=loc, fontsize=9, **kwargs) if handles else None


# --------------------------------------------------------------------------- figures
def history(trials: Sequence[TrialResult], goal: Goal | None = None) -> Figure:
    """The search history: each trial's final validation accuracy by trial number, and the best so
    far.

    Args:
        trials: The study's trials, in any order.

    Returns:
        One axes: scored trials as points (label ``"trials"``), trials without a score as red
        crosses at their last accuracy or 0 (``"failed"``), the best so far as a step line
        (``"best so far"``); the legend sits right of the axes.

    Example:
        >>> history(study.trials).savefig("history.png", dpi=DPI)  # doctest: +SKIP
    """
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.add_subplot()
    ordered = sorted(trials, key=lambda t: t.number)
    if not ordered:
        _empty(ax, "no trials yet")
        return fig
    scored = _scored(ordered, goal=goal)
    ax.scatter(
        [t.number for t in scored],
        [_score(t, goal) for t in scored],
        s=18,
        color="tab:blue",
        alpha=0.8,
        label="trials",
        zorder=2,
    )
    unscored = _unscored(ordered, goal)
    accuracy = goal is None or goal.accuracy
    if unscored:
        _on_bottom_edge(ax, [t.number for t in unscored], unscored)
    if scored:
        running = np.minimum if goal is not None and goal.direction == "minimize" else np.maximum
        best = running.accumulate([_score(t, goal) for t in scored])
        ax.step(
            [t.number for t in scored],
            best,
            where="post",
            color="tab:orange",
            lw=2,
            label="best so far",
        )
    if accuracy:
        ax.set_ylim(-0.03, 1.03)  # a little room, so that crosses at 0 show whole
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trials are whole numbers
    ax.set_xlabel("trial")
    ax.set_ylabel(_axis_label(goal))
    ax.set_title(f"search history ({len(scored)} scored of {len(ordered)} trials)", y=1.0)
    ax.grid(alpha=0.3)
    _outside_legend(fig, ax, "outside right upper")
    return fig


def lr_wd_map(
    trials: Sequence[TrialResult],
    x: str = "lr",
    y: str = "weight_decay",
    space: SearchSpace | None = None,
    goal: Goal | None = None,
    chosen: int | None = None,
) -> Figure:
    """The trials over two parameters (lr x weight decay by default), coloured by validation
    accuracy (or by the study's ``goal``, the best colour at the top of the scale either way).
    The best single trial is starred; the configuration the study chose (trial ``chosen``, the
    confirm stage's pick) gets a green diamond.

    Args:
        trials: The study's trials.
        x: The parameter on the x axis.
        y: The parameter on the y axis.
        space: The search space: log axes for log dimensions, limits at the searched range.
            Without it, an axis is log when its positive values span two decades or more.

    Returns:
        The map axes (title starting ``"map"``) and a colorbar (label ``"validation accuracy"``):
        scored trials as coloured points (label ``"trials"``), the best as a star (label
        ``"best"``), failed or diverged trials as red crosses (label ``"failed"``). The legend
        sits below the axes, its "trials" marker grey (a point's colour is its score).

    Example:
        >>> lr_wd_map(study.trials, space=study.space).savefig("map.png", dpi=DPI)  # doctest: +SKIP
    """
    fig = Figure(figsize=(6.8, 5.6), layout="constrained")
    ax = fig.add_subplot()
    placed = [t for t in trials if _numeric(t.params.get(x)) and _numeric(t.params.get(y))]
    ax.set_title(f"map of {x} x {y}", y=1.0)
    if not placed:
        _empty(ax, f"no trials with numeric {x} and {y}")
        return fig
    scored = _scored(placed, goal=goal)
    if scored:
        scores = np.array([_score(t, goal) for t in scored])
        points = ax.scatter(
            [t.params[x] for t in scored],
            [t.params[y] for t in scored],
            c=scores,
            cmap="viridis_r" if goal is not None and goal.direction == "minimize" else "viridis",
            vmin=float(scores.min()),
            vmax=float(max(scores.max(), scores.min() + 1e-9)),
            s=40,
            edgecolors="0.2",
            linewidths=0.4,
            label="trials",
            zorder=2,
        )
        label = "validation accuracy" if goal is None or goal.accuracy else goal.metric
        fig.colorbar(points, ax=ax, label=label)
        best = _best(scored, goal)
        if best is not None:  # always: ``scored`` is not empty
            ax.scatter([best.params[x]], [best.params[y]], label=BEST_LABEL, **BEST_STYLE)
        pick = next((t for t in placed if t.number == chosen), None)
        if pick is not None:
            ax.scatter([pick.params[x]], [pick.params[y]], label=CHOSEN_LABEL, **CHOSEN_STYLE)
    unscored = _unscored(placed, goal)
    if unscored:
        ax.scatter(
            [t.params[x] for t in unscored],
            [t.params[y] for t in unscored],
            label=_no_score(unscored),
            **FAILED_STYLE,
        )
    _scale_axis(ax, "x", x, placed, space)
    _scale_axis(ax, "y", y, placed, space)
    legend = _outside_legend(fig, ax, "outside lower center", ncol=3)
    if legend is not None:  # always: every placed trial is drawn, with a label
        for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
            # A neutral marker: in the map, colour means score. The handle of a scatter's
            # entry is a collection of markers, with an array of values and face colours.
            if text.get_text() == "trials" and isinstance(handle, Collection):
                handle.set_array(None)
                handle.set_facecolor("0.6")
    return fig


def param_scores(
    trials: Sequence[TrialResult],
    space: SearchSpace,
    names: Sequence[str] | None = None,
    ncols: int = 3,
    goal: Goal | None = None,
    chosen: int | None = None,
) -> Figure:
    """Final validation accuracy against each searched parameter, one panel each; the best
    single trial starred, the chosen configuration (trial ``chosen``) a green diamond.

    Numeric parameters are scatter plots (log x where the dimension is log); categorical ones
    are box plots per choice with the trials as jittered points. Trials without a score are red
    crosses at 0; the best trial is a red star in every panel.

    Args:
        trials: The study's trials.
        space: The search space.
        names: The parameters to show (default: those the trials varied, else every one).
        ncols: Panels per row.

    Returns:
        One visible axes per parameter, titled and x-labelled by its name; the legend on top.

    Example:
        >>> param_scores(study.trials, study.space).savefig(
        ...     "param_scores.png", dpi=DPI
        ... )  # doctest: +SKIP
    """
    names = list(names if names is not None else (varied(trials, space) or space.names))
    ncols = max(1, min(ncols, len(names) or 1))
    nrows = max(math.ceil(len(names) / ncols), 1)
    fig = Figure(figsize=(4.2 * ncols, 3.4 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    jitter = np.random.default_rng(0)  # a fixed stream: the same study draws the same figure
    best = _best(trials, goal)
    accuracy = goal is None or goal.accuracy
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.set_visible(False)
            continue
        name = names[i]
        dim = space[name] if name in space else None
        ax.set_title(name, y=1.0)
        if accuracy:
            ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        present = [t for t in trials if name in t.params]
        scored, unscored = _scored(present, goal=goal), _unscored(present, goal)
        if (dim is not None and dim.is_choice) or not all(
            _numeric(t.params[name]) for t in present
        ):
            choices = (
                list(dim.choices)
                if isinstance(dim, Categorical)  # the kind with choices (``is_choice``)
                else sorted({t.params[name] for t in present}, key=repr)
            )
            position = {repr(c): k for k, c in enumerate(choices)}
            x = {t.number: position.get(repr(t.params[name]), 0) for t in present}
            groups = [
                [_score(t, goal) for t in scored if repr(t.params[name]) == repr(c)]
                for c in choices
            ]
            if any(groups):
                ax.boxplot(groups, positions=range(len(choices)), widths=0.5, showfliers=False)
            xs = [x[t.number] + jitter.uniform(-0.15, 0.15) for t in scored]
            _choice_ticks(ax, choices, panel_width=4.2)
            ax.set_xlim(-0.6, len(choices) - 0.4)
            ax.set_xlabel(name)
        else:
            x = {t.number: t.params[name] for t in present}
            xs = [x[t.number] for t in scored]
            _scale_axis(ax, "x", name, present, space)
        ax.scatter(
            xs,
            [_score(t, goal) for t in scored],
            s=16,
            alpha=0.7,
            color="tab:blue",
            label="trials",
            zorder=2,
        )
        if unscored:
            _on_bottom_edge(ax, [x[t.number] for t in unscored], unscored)
        if best is not None and best.number in x:
            ax.scatter([x[best.number]], [_score(best, goal)], label=BEST_LABEL, **BEST_STYLE)
        pick = next((t for t in scored if t.number == chosen), None)
        if pick is not None:
            ax.scatter([x[pick.number]], [_score(pick, goal)], label=CHOSEN_LABEL, **CHOSEN_STYLE)
        if not present:
            ax.text(
                0.5, 0.5, "no trials", ha="center", va="center", transform=ax.transAxes, color="0.4"
            )
    # One panel is too narrow for the four marks in a row: two rows of two.
    _outside_legend(fig, axes.flat[0], "outside upper center", ncol=3 if ncols > 1 else 2)
    fig.supylabel(_axis_label(goal))
    return fig


def _choice_ticks(ax: Any, choices: Sequence[Any], panel_width: float) -> None:
    """The choices as x tick labels that never overlap: level while each fits its share of the
    panel's width (``panel_width`` inches), upright (turned 90 degrees) when not, in a smaller
    font when even upright lines would touch. A label's width is estimated from its characters
    (0.6 of the font size each)."""
    labels = [shown_value(c) for c in choices]
    ax.set_xticks(range(len(labels)), labels)
    size = matplotlib.rcParams["xtick.labelsize"]
    points = matplotlib.font_manager.FontProperties(size=size).get_size_in_points()
    share = 0.8 * panel_width / max(len(labels), 1)  # each tick's room (the axes is ~80%)
    widest = max((len(label) for label in labels), default=0) * 0.6 * points / 72
    if widest <= 0.85 * share:
        return
    upright = min(points, 0.8 * share * 72 / 1.3)  # a line of text is ~1.3 font sizes high
    for label in ax.get_xticklabels():
        label.set_rotation(90)
        label.set_fontsize(upright)


def line_styles(n: int) -> list[tuple[Any, str]]:
    """``n`` (colour, line style) pairs, no two alike up to 80: matplotlib's 10 colours, then
    tab20's 20, and beyond 20 each colour again with another dash."""
    if n <= 10:
        return [(f"C{k}", "-") for k in range(n)]
    colours = [matplotlib.colormaps["tab20"](k) for k in range(20)]
    dashes = ["-", "--", ":", "-."]
    return [(colours[k % 20], dashes[(k // 20) % len(dashes)]) for k in range(n)]


def comparison_curves(
    repeats: Sequence[RepeatResult], by: str, choices: Sequence[Any] | None = None
) -> Figure:
    """Mean validation and test curves of confirmed runs, one colour per value of the setting
    ``by``.

    A panel for validation and, when the runs recorded per-epoch test accuracy, one for test;
    each line is the mean over the runs with that value, the band one standard deviation. The
    y axis is zoomed to where the curves differ: from their lowest point over the second half
    of the epochs to their highest (the first epochs may lie below it).

    Args:
        repeats: The confirm stage's runs (refit runs and runs without curves are left out).
        by: The setting compared (a key of the runs' params).
        choices: A categorical setting's choices as declared: the legend's order (the
            comparison table's, see :func:`hpsearch.reports.comparison.in_order`).

    Returns:
        The figure: axes titled "validation" and "test", lines labelled ``"<by>=<value>"``.

    Example:
        >>> comparison_curves(study.repeats_done, "optimizer")  # doctest: +SKIP
    """
    values, parts = mean_curves(repeats, by, choices)
    styles = line_styles(len(values))
    fig = Figure(figsize=(5.2 * max(len(parts), 1) + 1.6, 4.2), layout="constrained")
    axes = fig.subplots(1, max(len(parts), 1), squeeze=False, sharey=True)[0]
    if not parts:
        _empty(axes[0], f"no confirmed run with curves and a {by!r} setting")
        return fig
    low, high = [], []
    for ax, (part, curves) in zip(axes, parts.items(), strict=True):
        for k, (value, curve) in enumerate(zip(values, curves, strict=True)):
            if curve is None:
                continue
            mean, sd, length = curve.mean, curve.sd, len(curve.mean)
            epochs, (colour, dash) = np.arange(1, length + 1), styles[k]
            ax.plot(
                epochs,
                mean,
                color=colour,
                ls=dash,
                lw=1.8,
                label=f"{by}={_short(value)} ({curve.runs} runs)",
            )
            ax.fill_between(epochs, mean - sd, mean + sd, color=colour, alpha=0.15, lw=0)
            tail = slice(length // 2, None)
            low.append(float(np.nanmin(mean[tail] - sd[tail])))
            high.append(float(np.nanmax(mean[tail] + sd[tail])))
        missing = [f"{by}={_short(v)}" for v, c in zip(values, curves, strict=True) if c is None]
        if missing:  # the legend lists every value: say which have no line here, and why
            ax.text(
                0.02,
                0.02,
                "no per-epoch scores: " + ", ".join(missing),
                transform=ax.transAxes,
                fontsize=8,
                color="0.3",
                wrap=True,
            )
        ax.set(title="validation" if part == "val" else "test", xlabel="epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if low:
        span = max(max(high) - min(low), 0.01)
        axes[0].set_ylim(max(0.0, min(low) - 0.08 * span), min(1.0, max(high) + 0.08 * span))
    axes[0].set_ylabel("accuracy (mean ± sd over repeats)")
    _outside_legend(fig, axes[0], "outside right upper")
    return fig


def importance_bars(table: Any, metric: str = "val_acc") -> Figure:
    """Each searched parameter's share of the variance of ``metric``, with its 95% interval, as
    horizontal bars, most important on top (``table``: the DataFrame of
    :func:`hpsearch.reports.importance.importance`).

    Example:
        >>> importance_bars(result.table).savefig("importance.png", dpi=DPI)  # doctest: +SKIP
    """
    rows = table.iloc[::-1]
    fig = Figure(figsize=(6.0, 1.2 + 0.45 * len(rows)), layout="constrained")
    ax = fig.subplots()
    shares = rows["share"].to_numpy(dtype=float)
    errors = np.array(
        [shares - rows["low"].to_numpy(dtype=float), rows["high"].to_numpy(dtype=float) - shares]
    )
    ax.barh(list(rows["param"]), shares, xerr=np.clip(errors, 0, None), capsize=3)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"share of the variance of {metric} (bars: 95% interval over resamples)")
    return fig
