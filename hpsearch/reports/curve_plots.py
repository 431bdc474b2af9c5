"""Learning curves: the Best-N grid of a study's best trials, and a comparison's mean curves.

Each function returns a matplotlib Figure (saved by :mod:`hpsearch.reports.publish`): the
validation and training curves of each top trial in a panel of its own, titled with its score
and params, and the mean validation and test curves of the confirmed runs of each value of a
compared setting (the data from :func:`hpsearch.reports.comparison.mean_curves`), one colour a
value. The legend sits outside the axes, as in every figure (:mod:`hpsearch.reports.plots`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hpsearch.records import Goal, RepeatResult, TrialResult
from hpsearch.reports.comparison import mean_curves
from hpsearch.reports.formatting import decimals_for, wilson
from hpsearch.reports.plots import outside_legend, say_empty

__all__ = ["best_curves", "comparison_curves", "line_styles", "score_label"]


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
        say_empty(axes[0], f"no confirmed run with curves and a {by!r} setting")
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
    outside_legend(fig, axes[0], "outside right upper")
    return fig
