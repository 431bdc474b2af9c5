"""Scores against the search: the history, the map over two parameters, the score by
parameter, and each parameter's importance.

Each function returns a matplotlib Figure (saved by :mod:`hpsearch.reports.publish`) of the
trials' final scores: by trial number with the best so far, over two numeric parameters
coloured by score, against each searched parameter, and the importance table's shares as bars.
Trials without a score, the best single trial and the chosen configuration are marked as in
every figure (:mod:`hpsearch.reports.plots`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hpsearch.records import Goal, TrialResult
from hpsearch.reports.formatting import share, shown_value, where
from hpsearch.reports.plots import (
    BEST_LABEL,
    BEST_STYLE,
    CHOSEN_LABEL,
    CHOSEN_STYLE,
    FAILED_STYLE,
    best_trial,
    final_score,
    is_number,
    no_score_label,
    on_bottom_edge,
    outside_legend,
    say_empty,
    scale_axis,
    score_axis_label,
    scored_trials,
    unscored_trials,
)
from hpsearch.reports.ranking import varied
from hpsearch.space.dimensions import Categorical
from hpsearch.space.search_space import SearchSpace

if TYPE_CHECKING:  # imported where a figure is drawn (see hpsearch.reports.plots)
    from matplotlib.figure import Figure

__all__ = ["history", "importance_bars", "lr_wd_map", "map_axes", "param_scores"]


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
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.add_subplot()
    ordered = sorted(trials, key=lambda t: t.number)
    if not ordered:
        say_empty(ax, "no trials yet")
        return fig
    scored = scored_trials(ordered, goal=goal)
    ax.scatter(
        [t.number for t in scored],
        [final_score(t, goal) for t in scored],
        s=18,
        color="tab:blue",
        alpha=0.8,
        label="trials",
        zorder=2,
    )
    unscored = unscored_trials(ordered, goal)
    accuracy = goal is None or goal.accuracy
    if unscored:
        on_bottom_edge(ax, [t.number for t in unscored], unscored)
    if scored:
        running = np.minimum if goal is not None and goal.direction == "minimize" else np.maximum
        best = running.accumulate([final_score(t, goal) for t in scored])
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
    ax.set_ylabel(score_axis_label(goal))
    ax.set_title(f"search history ({len(scored)} scored of {len(ordered)} trials)", y=1.0)
    ax.grid(alpha=0.3)
    outside_legend(fig, ax, "outside right upper")
    return fig


def map_axes(trials: Sequence[TrialResult], space: SearchSpace) -> tuple[str, str] | None:
    """The two parameters of the map figure: lr x weight decay when the trials varied both, else
    the first two varied numeric ones, those every trial has (searched under no condition)
    first; None when fewer than two numeric parameters were varied.

    Example:
        >>> map_axes(study.trials, study.space)  # doctest: +SKIP
        ('lr', 'weight_decay')
    """
    numeric = [n for n in varied(trials, space) if space[n].numeric]
    if "lr" in numeric and "weight_decay" in numeric:
        return "lr", "weight_decay"
    numeric.sort(key=lambda n: space[n].when is not None)  # stable: name order within each
    return (numeric[0], numeric[1]) if len(numeric) >= 2 else None


def _aside(text: str, width: int) -> str:
    """A title's aside in parentheses (on which trials a parameter stands, see
    :func:`hpsearch.reports.formatting.share`), over two lines after its comma when it is
    wider than ``width`` characters (a panel's title must not run past the panel)."""
    if not text:
        return ""
    lines = text.replace(", in ", ",\nin ") if len(text) + 2 > width else text
    return f"({lines})"


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
    from matplotlib.collections import Collection
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.8, 5.6), layout="constrained")
    ax = fig.add_subplot()
    placed = [t for t in trials if is_number(t.params.get(x)) and is_number(t.params.get(y))]
    # A parameter searched under a condition: the map holds the trials that have both.
    first = next((n for n in (x, y) if where(space, n)), x)
    said = share(space, first, len(placed), len(trials))
    said = "\n" + _aside(f"{first} {said}", 60) if said else ""
    ax.set_title(f"map of {x} x {y}{said}", y=1.0)
    if not placed:
        say_empty(ax, f"no trials with numeric {x} and {y}")
        return fig
    scored = scored_trials(placed, goal=goal)
    if scored:
        scores = np.array([final_score(t, goal) for t in scored])
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
        # The study's best, where the map holds it (a trial that lacks x or y is not here).
        best = best_trial(trials, goal)
        if best is not None and any(t.number == best.number for t in scored):
            ax.scatter([best.params[x]], [best.params[y]], label=BEST_LABEL, **BEST_STYLE)
        pick = next((t for t in placed if t.number == chosen), None)
        if pick is not None:
            ax.scatter([pick.params[x]], [pick.params[y]], label=CHOSEN_LABEL, **CHOSEN_STYLE)
    unscored = unscored_trials(placed, goal)
    if unscored:
        ax.scatter(
            [t.params[x] for t in unscored],
            [t.params[y] for t in unscored],
            label=no_score_label(unscored),
            **FAILED_STYLE,
        )
    scale_axis(ax, "x", x, placed, space)
    scale_axis(ax, "y", y, placed, space)
    legend = outside_legend(fig, ax, "outside lower center", ncol=3)
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
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * ncols, 3.4 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    jitter = np.random.default_rng(0)  # a fixed stream: the same study draws the same figure
    best = best_trial(trials, goal)
    accuracy = goal is None or goal.accuracy
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.set_visible(False)
            continue
        name = names[i]
        dim = space[name] if name in space else None
        present = [t for t in trials if name in t.params]
        # A parameter searched under a condition: its panel holds the trials that have it.
        said = _aside(share(space, name, len(present), len(trials)), 42)
        ax.set_title(f"{name}\n{said}" if said else name, y=1.0)
        if accuracy:
            ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        scored, unscored = scored_trials(present, goal=goal), unscored_trials(present, goal)
        if (dim is not None and dim.is_choice) or not all(
            is_number(t.params[name]) for t in present
        ):
            choices = (
                list(dim.choices)
                if isinstance(dim, Categorical)  # the kind with choices (``is_choice``)
                else sorted({t.params[name] for t in present}, key=repr)
            )
            position = {repr(c): k for k, c in enumerate(choices)}
            x = {t.number: position.get(repr(t.params[name]), 0) for t in present}
            groups = [
                [final_score(t, goal) for t in scored if repr(t.params[name]) == repr(c)]
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
            scale_axis(ax, "x", name, present, space)
        ax.scatter(
            xs,
            [final_score(t, goal) for t in scored],
            s=16,
            alpha=0.7,
            color="tab:blue",
            label="trials",
            zorder=2,
        )
        if unscored:
            # Labelled by all the trials without a score: one legend entry for every panel.
            on_bottom_edge(ax, [x[t.number] for t in unscored], unscored_trials(trials, goal))
        if best is not None and best.number in x:
            ax.scatter([x[best.number]], [final_score(best, goal)], label=BEST_LABEL, **BEST_STYLE)
        pick = next((t for t in scored if t.number == chosen), None)
        if pick is not None:
            ax.scatter(
                [x[pick.number]], [final_score(pick, goal)], label=CHOSEN_LABEL, **CHOSEN_STYLE
            )
        if not present:
            ax.text(
                0.5, 0.5, "no trials", ha="center", va="center", transform=ax.transAxes, color="0.4"
            )
    # Every mark any panel drew, once: a panel of a parameter searched under a condition may
    # lack the best trial, and the first panel may be such a one.
    marks: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            marks.setdefault(label, handle)
    order = sorted(
        marks, key=lambda label: {"trials": 0, BEST_LABEL: 2, CHOSEN_LABEL: 3}.get(label, 1)
    )
    if marks:  # one panel is too narrow for the four marks in a row: two rows of two
        ncol = 3 if ncols > 1 else 2
        handles = [marks[label] for label in order]
        fig.legend(handles, order, loc="outside upper center", fontsize=9, ncol=ncol)
    fig.supylabel(score_axis_label(goal))
    return fig


def _choice_ticks(ax: Any, choices: Sequence[Any], panel_width: float) -> None:
    """The choices as x tick labels that never overlap: level while each fits its share of the
    panel's width (``panel_width`` inches), upright (turned 90 degrees) when not, in a smaller
    font when even upright lines would touch. A label's width is estimated from its characters
    (0.6 of the font size each)."""
    labels = [shown_value(c) for c in choices]
    ax.set_xticks(range(len(labels)), labels)
    import matplotlib
    import matplotlib.font_manager

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


def importance_bars(table: Any, metric: str = "val_acc") -> Figure:
    """Each searched parameter's share of the variance of ``metric``, with its 95% interval, as
    horizontal bars, most important on top (``table``: the DataFrame of
    :func:`hpsearch.reports.importance.importance`); a parameter searched under a condition is
    labelled with the trials it acted in.

    Example:
        >>> importance_bars(result.table).savefig("importance.png", dpi=DPI)  # doctest: +SKIP
    """
    rows = table.iloc[::-1]
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 1.2 + 0.45 * len(rows)), layout="constrained")
    ax = fig.subplots()
    shares = rows["share"].to_numpy(dtype=float)
    errors = np.array(
        [shares - rows["low"].to_numpy(dtype=float), rows["high"].to_numpy(dtype=float) - shares]
    )
    names = list(rows["param"])
    if "active" in rows.columns:  # a parameter searched under a condition: in how many trials
        total = int(rows["active"].max())
        names = [
            f"{name} ({int(n)} of {total} trials)" if n < total else name
            for name, n in zip(names, rows["active"], strict=True)
        ]
    ax.barh(names, shares, xerr=np.clip(errors, 0, None), capsize=3)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"share of the variance of {metric}\n(bars: 95% interval over resamples)")
    return fig
