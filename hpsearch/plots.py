"""Figures computed from trial records; each returns a matplotlib Figure and never shows it.

Each function takes plain data (trials, and the search space where axes depend on it) and
returns a :class:`matplotlib.figure.Figure`; saving is the caller's job
(``fig.savefig(path)``), and in a notebook the figure displays itself.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

# Figures are built with matplotlib.figure.Figure, not pyplot: no GUI backend, no global state,
# headless by construction; saving (through Agg) is the caller's job.
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator

from hpsearch.space import SearchSpace
from hpsearch.trial import TrialResult

__all__ = ["best_curves", "history", "lr_wd_map", "param_scores"]


def best_curves(trials: Sequence[TrialResult], n: int = 20, ncols: int = 5) -> Figure:
    """The Best-N grid: one panel per top trial, validation solid, training dashed.

    Args:
        trials: Trials in rank order (best first); those without curves are skipped.
        n: How many panels.
        ncols: Panels per row.

    Returns:
        The figure, with panels titled "Best-1", "Best-2", ... and the final validation
        accuracy, y from 0 to 1.
    """
    shown = [t for t in trials if t.val_curve][:n]
    nrows = max(math.ceil(len(shown) / ncols), 1)
    width, height = 3.2 * ncols, 2.6 * nrows
    fig = Figure(figsize=(width, height))
    # Fixed margins (in inches) rather than a layout engine: the grid's shape is known, and
    # constrained layout costs seconds on 20 panels.
    fig.subplots_adjust(left=0.6 / width, right=1 - 0.15 / width, bottom=0.55 / height,
                        top=1 - 0.3 / height, wspace=0.08, hspace=0.3)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for i, ax in enumerate(axes.flat):
        if i >= len(shown):
            ax.set_visible(False)
            continue
        t = shown[i]
        epochs = range(1, len(t.val_curve) + 1)
        ax.plot(epochs, t.val_curve, "-", label="validation")
        ax.plot(epochs, t.train_curve, "--", label="training")
        acc = t.val_curve[-1]
        # Titles get a fixed height (y=1.0) in every figure here: left to place them itself,
        # matplotlib measures each axes' tick labels first, a third of this grid's drawing time.
        ax.set_title(f"Best-{i + 1}  val {acc:.3f}", fontsize=9, y=1.0)
        params = ", ".join(f"{k}={v:.2g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items())
        ax.text(0.02, 0.02, params, transform=ax.transAxes, fontsize=6, va="bottom")
    # The panels share their axes: limits and ticks set on one are every panel's. Few ticks,
    # since matplotlib builds each panel's ticks anew and they are most of the drawing time.
    first = axes.flat[0]
    first.set_ylim(0, 1)
    first.set_yticks([0, 0.5, 1])
    first.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2.5, 5, 10], integer=True))
    if shown:
        first.legend(loc="upper left", fontsize=7)
    fig.supxlabel("epoch", y=0.12 / height)
    fig.supylabel("accuracy", x=0.12 / width)
    return fig


# --------------------------------------------------------------------------- helpers
FAILED_STYLE = dict(marker="x", color="tab:red", s=36, linewidths=1.5, zorder=3)


def _scored(trials: Sequence[TrialResult]) -> list[TrialResult]:
    return [t for t in trials if t.ok and t.val_acc is not None and math.isfinite(t.val_acc)]


def _unscored(trials: Sequence[TrialResult]) -> list[TrialResult]:
    return [t for t in trials if not (t.ok and t.val_acc is not None and math.isfinite(t.val_acc))]


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_log(name: str, trials: Sequence[TrialResult], space: SearchSpace | None) -> bool:
    """Log scale where the dimension is log; without a space, where positive values span 2 decades."""
    if space is not None and name in space:
        return space[name].kind == "log"
    values = [t.params[name] for t in trials if _numeric(t.params.get(name))]
    return bool(values) and min(values) > 0 and max(values) / min(values) >= 100


def _empty(fig: Figure, ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _set_bounds(ax: Any, axis: str, name: str, space: SearchSpace | None, log: bool) -> None:
    """Axis limits slightly beyond the searched range, so that crowding at a bound shows."""
    if space is None or name not in space or space[name].kind not in ("log", "float", "int"):
        return
    low, high = float(space[name].low), float(space[name].high)
    if log:
        pad = (math.log10(high) - math.log10(low)) * 0.04
        lim = (10 ** (math.log10(low) - pad), 10 ** (math.log10(high) + pad))
    else:
        pad = (high - low) * 0.04
        lim = (low - pad, high + pad)
    (ax.set_xlim if axis == "x" else ax.set_ylim)(*lim)


def _drop_minor_ticks(axis: Any) -> None:
    """No minor ticks on a log axis over two decades or more: two labelled decades read well, and
    forty minor ticks cost more to draw than the points. A narrower axis keeps them, as its
    labels may be minor ticks only."""
    low, high = axis.get_view_interval()
    if axis.get_scale() == "log" and low > 0 and high / low >= 100:
        axis.set_minor_locator(NullLocator())


# --------------------------------------------------------------------------- figures
def history(trials: Sequence[TrialResult]) -> Figure:
    """The search history: each trial's final validation accuracy by trial number, and the best so far.

    Args:
        trials: The study's trials, in any order.

    Returns:
        One axes: the scored trials as points (label ``"trials"``), trials without a score
        (failed, diverged, timed out) as red crosses at their last accuracy or 0 (label
        ``"failed"``), and the best so far as a step line (label ``"best so far"``).
    """
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    ordered = sorted(trials, key=lambda t: t.number)
    if not ordered:
        _empty(fig, ax, "no trials yet")
        return fig
    scored = _scored(ordered)
    ax.scatter([t.number for t in scored], [t.val_acc for t in scored], s=18, color="tab:blue",
               alpha=0.8, label="trials", zorder=2)
    unscored = _unscored(ordered)
    if unscored:
        ax.scatter([t.number for t in unscored], [t.val_acc if t.val_acc is not None else 0.0 for t in unscored],
                   label="failed", **FAILED_STYLE)
    if scored:
        best = np.maximum.accumulate([t.val_acc for t in scored])
        ax.step([t.number for t in scored], best, where="post", color="tab:orange", lw=2, label="best so far")
    ax.set_ylim(-0.03, 1.03)  # a little room, so that crosses at 0 show whole
    ax.set_xlabel("trial")
    ax.set_ylabel("final validation accuracy")
    ax.set_title(f"search history ({len(scored)} scored of {len(ordered)} trials)", y=1.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def lr_wd_map(
    trials: Sequence[TrialResult],
    x: str = "lr",
    y: str = "weight_decay",
    space: SearchSpace | None = None,
) -> Figure:
    """The trials over two parameters (lr x weight decay by default), coloured by validation accuracy.

    Args:
        trials: The study's trials.
        x: The parameter on the x axis.
        y: The parameter on the y axis.
        space: The search space: log axes for log dimensions, limits at the searched range.
            Without it, an axis is log when its positive values span two decades or more.

    Returns:
        The map axes (title starting ``"map"``) and a colorbar (label ``"validation accuracy"``):
        scored trials as coloured points (label ``"trials"``), the best as a star (label
        ``"best"``), failed or diverged trials as red crosses (label ``"failed"``).
    """
    fig = Figure(figsize=(6.4, 5), layout="constrained")
    ax = fig.add_subplot()
    placed = [t for t in trials if _numeric(t.params.get(x)) and _numeric(t.params.get(y))]
    ax.set_title(f"map of {x} x {y}", y=1.0)
    if not placed:
        _empty(fig, ax, f"no trials with numeric {x} and {y}")
        return fig
    xlog, ylog = _is_log(x, placed, space), _is_log(y, placed, space)
    scored = _scored(placed)
    if scored:
        scores = np.array([t.val_acc for t in scored])
        points = ax.scatter([t.params[x] for t in scored], [t.params[y] for t in scored], c=scores,
                            cmap="viridis", vmin=float(scores.min()), vmax=float(max(scores.max(), scores.min() + 1e-9)),
                            s=40, edgecolors="0.2", linewidths=0.4, label="trials", zorder=2)
        fig.colorbar(points, ax=ax, label="validation accuracy")
        best = max(scored, key=lambda t: (t.val_acc, -t.number))
        ax.scatter([best.params[x]], [best.params[y]], marker="*", s=260, facecolors="none",
                   edgecolors="tab:red", linewidths=1.5, label="best", zorder=4)
    unscored = _unscored(placed)
    if unscored:
        ax.scatter([t.params[x] for t in unscored], [t.params[y] for t in unscored], label="failed",
                   **FAILED_STYLE)
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    _set_bounds(ax, "x", x, space, xlog)
    _set_bounds(ax, "y", y, space, ylog)
    _drop_minor_ticks(ax.xaxis)
    _drop_minor_ticks(ax.yaxis)
    ax.set_xlabel(x + (" (log)" if xlog else ""))
    ax.set_ylabel(y + (" (log)" if ylog else ""))
    ax.legend(loc="best", fontsize=8)
    return fig


def param_scores(
    trials: Sequence[TrialResult],
    space: SearchSpace,
    names: Sequence[str] | None = None,
    ncols: int = 3,
) -> Figure:
    """Final validation accuracy against each searched parameter, one panel each.

    Numeric parameters are scatter plots (log x where the dimension is log); categorical ones
    are box plots per choice with the trials as jittered points. Trials without a score are red
    crosses at 0.

    Args:
        trials: The study's trials.
        space: The search space.
        names: The parameters to show (default: every one in ``space``).
        ncols: Panels per row.

    Returns:
        The figure, one visible axes per parameter, titled by the parameter name.
    """
    names = list(space.names if names is None else names)
    ncols = max(1, min(ncols, len(names) or 1))
    nrows = max(math.ceil(len(names) / ncols), 1)
    fig = Figure(figsize=(4.2 * ncols, 3.3 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    jitter = np.random.default_rng(0)  # a fixed stream: the same study draws the same figure
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.set_visible(False)
            continue
        name = names[i]
        dim = space[name] if name in space else None
        ax.set_title(name, y=1.0)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        present = [t for t in trials if name in t.params]
        scored, unscored = _scored(present), _unscored(present)
        if (dim is not None and dim.kind == "choice") or not all(_numeric(t.params[name]) for t in present):
            choices = list(dim.choices) if dim is not None and dim.kind == "choice" else sorted(
                {t.params[name] for t in present}, key=repr)
            labels = [str(c) for c in choices]
            position = {repr(c): k for k, c in enumerate(choices)}
            groups = [[t.val_acc for t in scored if repr(t.params[name]) == repr(c)] for c in choices]
            if any(groups):
                ax.boxplot(groups, positions=range(len(choices)),
                           widths=0.5, showfliers=False)
            xs = [position.get(repr(t.params[name]), 0) + jitter.uniform(-0.15, 0.15) for t in scored]
            ax.scatter(xs, [t.val_acc for t in scored], s=14, alpha=0.7, color="tab:blue",
                       label="trials", zorder=2)
            if unscored:
                ax.scatter([position.get(repr(t.params[name]), 0) for t in unscored], [0.0] * len(unscored),
                           label="failed", **FAILED_STYLE)
            ax.set_xticks(range(len(choices)), labels)
            ax.set_xlim(-0.6, len(choices) - 0.4)
        else:
            log = _is_log(name, present, space)
            ax.scatter([t.params[name] for t in scored], [t.val_acc for t in scored], s=16, alpha=0.8,
                       color="tab:blue", label="trials", zorder=2)
            if unscored:
                ax.scatter([t.params[name] for t in unscored], [0.0] * len(unscored), label="failed",
                           **FAILED_STYLE)
            if log:
                ax.set_xscale("log")
            _set_bounds(ax, "x", name, space, log)
            _drop_minor_ticks(ax.xaxis)
        if not present:
            ax.text(0.5, 0.5, "no trials", ha="center", va="center", transform=ax.transAxes, color="0.4")
    fig.supylabel("final validation accuracy")
    return fig
