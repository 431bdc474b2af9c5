"""Learning curves: the Best-N grid of a study's best trials, and a comparison's mean curves.

Each function returns a matplotlib Figure (saved by :mod:`hpsearch.reports.publish`): the
validation and training curves of each top trial in a panel of its own, titled with its score
and params, and the mean validation and test curves of the confirmed runs of each value of a
compared setting (the data from :func:`mean_curves`), one colour a
value. The legend sits outside the axes, as in every figure (:mod:`hpsearch.reports.plots`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hpsearch.records import Goal, RepeatResult, TrialResult
from hpsearch.reports.comparison import in_order
from hpsearch.reports.formatting import METRIC_DECIMALS, decimals_for, metric_text, wilson
from hpsearch.reports.plots import outside_legend, say_empty

if TYPE_CHECKING:  # imported where a figure is drawn (see hpsearch.reports.plots)
    from matplotlib.figure import Figure

__all__ = [
    "MeanCurve",
    "best_curves",
    "best_curves_caption",
    "best_curves_panels",
    "comparison_caption",
    "comparison_curves",
    "mean_curves",
    "line_styles",
    "score_label",
]


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
    own, shown, curves = _grid(trials, n, aim)
    if own:
        labels = [
            f"{aim.metric} {metric_text(aim.of(t))}"
            if t.ok and aim.of(t) is not None
            else f"{t.state.value}, no score"
            for t in shown
        ]
    else:
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
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

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
        # A curve of one value (a trial stopped after its first epoch) is a mark, not a line.
        ax.plot(range(1, len(val) + 1), val, "-", marker=_mark(val), label="validation")
        if train:  # an own objective may report validation alone
            ax.plot(range(1, len(train) + 1), train, "--", marker=_mark(train), label="training")
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
        _metric_axis(first, [v for c in curves for part in c for v in part])
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


def _grid(
    trials: Sequence[TrialResult], n: int, aim: Goal
) -> tuple[bool, list[TrialResult], list[tuple[list[float], list[float]]]]:
    """What the Best-N grid draws: whether it is the goal's own metric, the trials shown and
    each one's (validation, training) curve."""
    own = not aim.accuracy and any(aim.metric in t.curves for t in trials)
    if own:
        shown = [t for t in trials if aim.metric in t.curves][:n]
        return own, shown, [_goal_curves(t, aim) for t in shown]
    shown = [t for t in trials if t.val_curve][:n]
    return own, shown, [(list(t.val_curve), list(t.train_curve)) for t in shown]


def best_curves_panels(trials: Sequence[TrialResult], n: int = 20, goal: Goal | None = None) -> int:
    """How many panels :func:`best_curves` draws for the same arguments (what its cost grows
    with)."""
    return len(_grid(trials, n, goal or Goal())[1])


def best_curves_caption(
    trials: Sequence[TrialResult], n: int = 20, goal: Goal | None = None
) -> str:
    """The page's caption of :func:`best_curves` for the same arguments: it names only what the
    grid draws (training curves, intervals, one-epoch marks)."""
    aim = goal or Goal()
    own, shown, curves = _grid(trials, n, aim)
    name = aim.metric if own else "validation accuracy"
    said = f"Learning curves of the best trials: {name} solid"
    if any(any(math.isfinite(v) for v in train) for _, train in curves):
        said += f", {'its training twin' if own else 'training accuracy'} dashed"
    if any(sum(math.isfinite(v) for v in val) == 1 for val, _ in curves):
        said += "; a dot is a trial with one epoch"
    if own:
        said += f"; each title gives the final {name} ({aim.direction}d)"
    elif not aim.accuracy:  # no per-epoch values of the metric that ranks: accuracy is drawn
        said = f"Best trials by {aim.metric}: {said[0].lower()}{said[1:]}"
        said += f"; each title gives the {name} of the last epoch"
    else:
        said += f"; each title gives the final {name}"
        if any(t.n_val and t.ok and t.val_acc is not None for t in shown):
            said += " and its 95% interval"
    return said + "."


def _mark(values: Sequence[float]) -> str:
    """A marker for a curve of one finite value (a line through one point draws nothing)."""
    return "o" if sum(1 for v in values if math.isfinite(v)) == 1 else ""


def _metric_axis(ax: Any, values: Sequence[float]) -> None:
    """Limits and ticks for a metric of unknown range: the lowest and highest value drawn and
    their middle, labelled to the metric's decimals (:data:`METRIC_DECIMALS`)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return
    low, high = min(finite), max(finite)
    span = high - low
    if span <= 0:
        span = max(abs(high) * 0.1, 10.0**-METRIC_DECIMALS)
        low, high = low - span / 2, high + span / 2
    ax.set_ylim(low - 0.06 * span, high + 0.06 * span)
    ticks = [low, (low + high) / 2, high]
    ax.set_yticks(ticks, [metric_text(t) for t in ticks])


def line_styles(n: int) -> list[tuple[Any, str]]:
    """``n`` (colour, line style) pairs, no two alike up to 80: matplotlib's 10 colours, then
    tab20's 20, and beyond 20 each colour again with another dash."""
    if n <= 10:
        return [(f"C{k}", "-") for k in range(n)]
    import matplotlib

    colours = [matplotlib.colormaps["tab20"](k) for k in range(20)]
    dashes = ["-", "--", ":", "-."]
    return [(colours[k % 20], dashes[(k // 20) % len(dashes)]) for k in range(n)]


@dataclass(frozen=True)
class MeanCurve:
    """One value's curve in a comparison's figure: the mean over its runs at each epoch (up to
    the shortest run's last), and the sample standard deviation (0 with one run)."""

    runs: int
    mean: np.ndarray
    sd: np.ndarray


def mean_curves(
    repeats: Sequence[RepeatResult], by: str, choices: Sequence[Any] | None = None
) -> tuple[list[Any], dict[str, list[MeanCurve | None]]]:
    """What a comparison's figure draws: the values of ``by`` in the table's order (see
    :func:`in_order`), and for each part the runs recorded per-epoch scores on (``"val"``, then
    ``"test"``) each value's :class:`MeanCurve`, None for a value without one there.

    Refit runs, runs without a score and runs without the setting ``by`` are left out.

    Example:
        >>> values, parts = mean_curves(study.repeats_done, "optimizer")  # doctest: +SKIP
        >>> values, list(parts)  # doctest: +SKIP
        (['sgd', 'adam'], ['val', 'test'])
    """
    runs = [r for r in repeats if not r.refit and r.ok and by in r.params]
    values = in_order(list({repr(r.params[by]): r.params[by] for r in runs}.values()), choices)
    parts = {}
    for part in ("val", "test"):
        if any(getattr(r, f"{part}_curve") for r in runs):
            parts[part] = [
                _mean_curve(
                    [
                        c
                        for r in runs
                        if repr(r.params[by]) == repr(value) and (c := getattr(r, f"{part}_curve"))
                    ]
                )
                for value in values
            ]
    return values, parts


def _mean_curve(curves: Sequence[Sequence[float | None]]) -> MeanCurve | None:
    if not curves:
        return None
    length = min(len(c) for c in curves)
    data = np.array([[np.nan if v is None else v for v in c[:length]] for c in curves], dtype=float)
    # The sample standard deviation, as in the tables; none with one run.
    mean, sd = (
        np.nanmean(data, axis=0),
        np.nanstd(data, axis=0, ddof=1) if len(curves) > 1 else 0 * data[0],
    )
    return MeanCurve(len(curves), mean, sd)


def comparison_curves(
    repeats: Sequence[RepeatResult], by: str, choices: Sequence[Any] | None = None
) -> Figure:
    """Mean validation and test curves of confirmed runs, one colour per value of the setting
    ``by``.

    A panel for validation and, when the runs recorded per-epoch test accuracy, one for test;
    each line is the mean over the runs with that value, the band one standard deviation. The
    y axis holds every drawn point, from the first epoch to the last, lines and bands.

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
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

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
            band = np.nan_to_num(sd)  # every drawn point in sight: the lines and their bands
            low.append(float(np.nanmin(mean - band)))
            high.append(float(np.nanmax(mean + band)))
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


def comparison_caption(
    repeats: Sequence[RepeatResult], by: str, choices: Sequence[Any] | None = None
) -> str:
    """The page's caption of :func:`comparison_curves` for the same runs: it names only the
    panels drawn (validation, and test when the runs scored the test part per epoch)."""
    _, parts = mean_curves(repeats, by, choices)
    drawn = " and ".join(
        name for key, name in (("val", "validation"), ("test", "test")) if key in parts
    )
    return (
        f"Mean {drawn or 'validation'} accuracy per epoch of each {by} value's confirmed runs, "
        "one colour each; the band is one standard deviation."
    )
