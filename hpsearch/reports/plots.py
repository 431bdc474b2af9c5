"""What every figure of hpsearch shares: the resolution, the marks, the axes and the legend.

The figures themselves are in :mod:`hpsearch.reports.curve_plots` (learning curves) and
:mod:`hpsearch.reports.score_plots` (scores against the search); each returns a matplotlib
Figure and never shows it. Saving is the caller's job (:mod:`hpsearch.reports.publish`, at
:data:`DPI`). The helpers here mark a trial without a score, the best single trial and the
chosen configuration the same way in every figure, put a searched parameter on its own scale
(log or linear, limits just past the searched range), and set legends outside the axes, so they
never hide a point or a curve: each figure reads at 100% zoom.

:func:`write_all` draws a study's figures, its last work, on two cores where there are two: a
share of them in a forked copy of this process, beside the rest here; a figure matplotlib cannot
draw (absurd ranges) comes back as one line saying why.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from hpsearch.records import Goal, TrialResult
from hpsearch.space.search_space import SearchSpace
from hpsearch.storage.files import replacing

# Figures are built with matplotlib.figure.Figure, not pyplot: no GUI backend, no global state,
# headless by construction; saving (through Agg) is the caller's job. matplotlib is imported
# where a figure is drawn, never with the module: a study that writes its tables and page but
# no figure (``--no-figures``, the page's captions) does not pay for its import.
if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend
    from matplotlib.typing import LegendLocType

__all__ = [
    "DPI",
    "BEST_LABEL",
    "BEST_STYLE",
    "CHOSEN_LABEL",
    "CHOSEN_STYLE",
    "FAILED_STYLE",
    "best_trial",
    "final_score",
    "is_log",
    "is_number",
    "log_ticks",
    "no_score_label",
    "on_bottom_edge",
    "outside_legend",
    "power_of_ten",
    "say_empty",
    "scale_axis",
    "score_axis_label",
    "scored_trials",
    "unscored_trials",
    "save_figure",
    "write_all",
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


def scored_trials(
    trials: Sequence[TrialResult], scored: bool = True, goal: Goal | None = None
) -> list[TrialResult]:
    """The trials with a finite score (or, with ``scored=False``, those without)."""
    aim = goal or Goal()
    return [t for t in trials if (t.ok and aim.of(t) is not None) is scored]


def unscored_trials(trials: Sequence[TrialResult], goal: Goal | None = None) -> list[TrialResult]:
    return scored_trials(trials, False, goal)


def best_trial(trials: Sequence[TrialResult], goal: Goal | None = None) -> TrialResult | None:
    aim = goal or Goal()
    scored = scored_trials(trials, goal=aim)
    return min(scored, key=lambda t: (aim.key(final_score(t, aim)), t.number)) if scored else None


def final_score(trial: TrialResult, goal: Goal | None = None) -> float:
    """The final score of a trial :func:`scored_trials` kept (it has one): validation accuracy, or
    the study's own metric."""
    value = (goal or Goal()).of(trial)
    if value is None:
        raise ValueError(f"trial {trial.number} has no score")
    return value


def score_axis_label(goal: Goal | None) -> str:
    aim = goal or Goal()
    return "final validation accuracy" if aim.accuracy else f"final {aim.metric}"


def no_score_label(unscored: Sequence[TrialResult]) -> str:
    """The legend label of trials without a score, with their states: every figure marks them
    the same way, as crosses on the bottom edge of the axes (never at a score)."""
    states: dict[str, int] = {}
    for t in unscored:
        states[t.state.value] = states.get(t.state.value, 0) + 1
    return "no score (" + ", ".join(f"{k} {v}" for k, v in sorted(states.items())) + ")"


def on_bottom_edge(ax: Any, xs: Sequence[Any], unscored: Sequence[TrialResult]) -> None:
    ax.scatter(
        xs,
        [0.0] * len(xs),
        transform=ax.get_xaxis_transform(),  # x in data, y on the axes' bottom edge
        clip_on=False,
        label=no_score_label(unscored),
        **FAILED_STYLE,
    )


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def is_log(name: str, trials: Sequence[TrialResult], space: SearchSpace | None) -> bool:
    """Log scale where the dimension is log; without a space, where positive values span 2
    decades."""
    if space is not None and name in space:
        return space[name].scale == "log"
    values = [t.params[name] for t in trials if is_number(t.params.get(name))]
    return bool(values) and min(values) > 0 and max(values) / min(values) >= 100


def say_empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def power_of_ten(value: float, _pos: Any = None) -> str:
    """A log axis's tick label as plain text: ``10⁻⁴`` for a decade, ``0.002`` otherwise.

    matplotlib's own labels (``$10^{-4}$``) are mathtext, whose parser costs more than the rest
    of a figure together (and on matplotlib 3.7 calls names pyparsing 3.3 deprecates)."""
    if value > 0:
        exponent = round(math.log10(value))
        if math.isclose(value, 10.0**exponent, rel_tol=1e-9):
            return "10" + str(exponent).translate(_SUPERSCRIPT)
    return f"{value:g}"


def log_ticks(axis: Any) -> None:
    """Readable ticks on a log axis. Over two decades: decades labelled in plain text (``10⁻⁴``),
    no minor ticks (forty cost more to draw than the points). Narrower: plain labels at 1, 2 and
    5 (every digit if need be) and unlabelled minor ticks, as matplotlib's minor labels
    (``3x10^-1``) run into each other."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    low, high = axis.get_view_interval()
    if axis.get_scale() != "log" or low <= 0:
        return
    if high / low >= 100:
        axis.set_minor_locator(NullLocator())
        axis.set_major_formatter(FuncFormatter(power_of_ten))
        return
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    inside = [m * 10.0**e for e in decades for m in (1, 2, 5) if low <= m * 10.0**e <= high]
    axis.set_major_locator(
        LogLocator(subs=(1.0, 2.0, 5.0) if len(inside) >= 2 else np.arange(1.0, 10.0).tolist())
    )
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def scale_axis(
    ax: Any, axis: str, name: str, trials: Sequence[TrialResult], space: SearchSpace | None
) -> None:
    """Log or linear as the dimension is, labelled with the name, and limits just past the searched
    range, so that crowding at a bound shows."""
    log = is_log(name, trials, space)
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log" if log else "linear")
    if space is not None and name in space and space[name].numeric:
        (ax.set_xlim if axis == "x" else ax.set_ylim)(*space[name].limits(0.04))
    log_ticks(ax.xaxis if axis == "x" else ax.yaxis)
    (ax.set_xlabel if axis == "x" else ax.set_ylabel)(name + (" (log)" if log else ""))


def outside_legend(fig: Figure, ax: Any, loc: LegendLocType, **kwargs: Any) -> Legend | None:
    """One legend for the figure in its margin (constrained layout makes room), never over data."""
    handles, labels = ax.get_legend_handles_labels()
    return fig.legend(handles, labels, loc=loc, fontsize=9, **kwargs) if handles else None


# --------------------------------------------------------------------------- saving
def save_figure(fig: Any, path: Path, dpi: int) -> Path:
    """Saves the matplotlib figure ``fig`` to ``path`` as PNG at ``dpi``; returns ``path``.

    Drawn once, through Agg's own PNG writer: ``savefig`` gives a figure with a layout engine a
    drawing pass of its own before the real one, a sixth of these figures' time, for the same
    pixels. The PNG is compressed at zlib's fastest level: a few percent of the time, files a
    sixth larger.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(dpi)
    with replacing(path) as tmp:
        FigureCanvasAgg(fig).print_png(tmp, pil_kwargs={"compress_level": 1})
    return path


# Rough cost of each figure in history figures, to share them out between processes (measured
# on 3.11: a history 0.1 s, a map or a score-by-parameter figure 0.2 s); the Best-N grid's
# grows with its panels (see write_all).
_COST = {"param_scores": 2, "map": 2}


def _write_one(path: Path, write: Callable[[Path], Path]) -> Path | str:
    """``write(path)``, or why matplotlib could not draw it (absurd ranges) as one line."""
    try:
        return write(path)
    except (ValueError, OverflowError) as exc:
        return " ".join(str(exc).split())


def write_all(
    due: Mapping[str, tuple[Path, Callable[[Path], Path]]], panels: int = 20
) -> dict[str, Path | str]:
    """Writes each of ``due`` (key: path and its writer); each key's path, or why not.
    ``panels``: the Best-N grid's, which set the grid's cost (0.2 s with 6, 0.6 s with 20).

    The figures are a study's last work and independent of each other, so on Linux with two or
    more cores a share of them is drawn in a forked copy of this process, beside the rest here
    (halving the reports' time at the end of a study). Anything the copy did not report done
    (it failed in an unexpected way, or could not start) is written here, so an error is raised
    where the caller sees it.
    """
    cost: dict[str, float] = {**_COST, "best_curves": 1 + panels / 3}
    figures = sorted(
        (k for k, (path, _) in due.items() if path.suffix == ".png"), key=lambda k: -cost.get(k, 1)
    )
    share: list[str] = []
    if len(figures) >= 2 and (os.cpu_count() or 1) >= 2 and sys.platform.startswith("linux"):
        # The largest first, each to the lighter side; this process also writes the tables
        # and the page, so the copy takes the figures when the two are even.
        load = [1.0, 0.0]
        for key in figures:
            side = 0 if load[0] < load[1] else 1
            load[side] += cost.get(key, 1)
            if side == 1:
                share.append(key)
    outcomes: dict[str, Path | str] = {}
    theirs = {k: due[k] for k in share}
    with _collector_paused():
        child = _fork_writer(theirs) if theirs else None
        for key, (path, write) in due.items():
            if child is None or key not in theirs:
                outcomes[key] = _write_one(path, write)
    if child is not None:
        outcomes.update(_collect(child, theirs))
    return outcomes


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the block (the figures).

    A figure is built of many small objects (axes, ticks, transforms, text), and the collector,
    run every few hundred new objects, walks the young ones again and again while a figure is
    made and drawn, and now and then every object of the process (matplotlib's and pandas' own
    included): about a tenth of the figures' time. Their garbage is collected once, when the
    collector runs again after the block.
    """
    paused = gc.isenabled()
    try:
        gc.disable()
        yield
    finally:
        if paused:
            gc.enable()


def _load_matplotlib() -> None:
    """Loads what the figures need before a copy of this process is forked to draw some: the copy
    inherits it rather than importing it again, and is never forked in the middle of an import
    another thread has under way (the figure warm-up, given up on after a while), whose locks
    the copy would then wait on forever. (This thread waits for such an import to end.)"""
    import matplotlib.backends.backend_agg
    import matplotlib.figure
    import matplotlib.ticker  # noqa: F401 (each loaded for the copy)


def _fork_writer(due: Mapping[str, tuple[Path, Callable[[Path], Path]]]) -> tuple[int, int] | None:
    """A forked process writing ``due``, reporting each outcome as a JSON line on a pipe:
    ``(pid, read end)``, or None if it could not start."""
    _load_matplotlib()
    read, write_end = os.pipe()
    try:
        with warnings.catch_warnings():  # Python 3.12+ warns of fork in a threaded process;
            warnings.simplefilter("ignore", DeprecationWarning)  # the copy only draws and writes
            pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write_end)
        return None
    if pid:
        os.close(write_end)
        return pid, read
    # The copy: no signal handling of the study's (the study stops once the reports are done),
    # no exit handlers, nothing but the figures.
    code = 1
    try:
        os.close(read)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        with os.fdopen(write_end, "w") as out:
            for key, (path, write) in due.items():
                outcome = _write_one(path, write)
                done = {"key": key, "path": str(outcome)} if isinstance(outcome, Path) else None
                print(json.dumps(done or {"key": key, "error": outcome}), file=out, flush=True)
        code = 0
    finally:
        os._exit(code)


def _collect(
    child: tuple[int, int], due: Mapping[str, tuple[Path, Callable[[Path], Path]]]
) -> dict[str, Path | str]:
    """The outcomes the forked writer reported; what it did not, written here."""
    pid, read = child
    with os.fdopen(read) as lines:
        text = lines.read()
    os.waitpid(pid, 0)
    outcomes: dict[str, Path | str] = {}
    for line in text.splitlines():
        try:
            item = json.loads(line)
            outcomes[item["key"]] = Path(item["path"]) if "path" in item else str(item["error"])
        except (ValueError, KeyError, TypeError):
            continue
    for key, (path, write) in due.items():
        if key not in outcomes:
            outcomes[key] = _write_one(path, write)
    return outcomes
