"""Figures computed from trial records; each returns a matplotlib Figure and never shows it."""

from __future__ import annotations

import math
from typing import Sequence

# Figures are built with matplotlib.figure.Figure, not pyplot: no GUI backend, no global state,
# headless by construction; saving (through Agg) is the caller's job.
from matplotlib.figure import Figure

from hpsearch.training import TrialResult

__all__ = ["best_curves"]


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
    fig = Figure(figsize=(3.2 * ncols, 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for i, ax in enumerate(axes.flat):
        if i >= len(shown):
            ax.set_visible(False)
            continue
        t = shown[i]
        epochs = range(1, len(t.val_curve) + 1)
        ax.plot(epochs, t.val_curve, "-", label="validation")
        ax.plot(epochs, t.train_curve, "--", label="training")
        ax.set_ylim(0, 1)
        acc = t.val_curve[-1]
        ax.set_title(f"Best-{i + 1}  val {acc:.3f}", fontsize=9)
        params = ", ".join(f"{k}={v:.2g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items())
        ax.text(0.02, 0.02, params, transform=ax.transAxes, fontsize=6, va="bottom")
    if shown:
        axes.flat[0].legend(loc="upper left", fontsize=7)
    fig.supxlabel("epoch")
    fig.supylabel("accuracy")
    return fig
