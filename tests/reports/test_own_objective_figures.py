"""What the figures and notes of a study of a reader's own objective hold: every drawn point in
sight, captions naming only what is drawn, one precision for its metric, a one-epoch curve
drawn, the pruning note true to the checkpoints kept, and a refused resume that names the
built-in network."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _report_fixtures import definition, make_repeats, make_trials

from hpsearch import LogUniform, Settings, Study, TrainConfig
from hpsearch.cli.main import main
from hpsearch.exceptions import StudyError
from hpsearch.records import Goal, TrialResult, TrialState
from hpsearch.reports.curve_plots import best_curves, comparison_curves
from hpsearch.reports.publish import write_comparison, write_reports
from hpsearch.space.search_space import SearchSpace

LOSS = Goal("val_loss", "minimize")


def _loss_trials(finals: list[float], epochs: int = 6) -> list[TrialResult]:
    """Trials of an objective that reports val_loss alone, from 2.30 down to each final."""
    trials = []
    for number, final in enumerate(finals):
        curve = tuple(2.30 + (final - 2.30) * (e + 1) / epochs for e in range(epochs))
        trials.append(
            TrialResult(
                number,
                {"lr": 10.0 ** (-3 + number / 4)},
                TrialState.COMPLETE,
                epochs=epochs,
                seconds=0.5,
                n_val=100,
                metrics={"val_loss": final},
                curves={"val_loss": curve},
            )
        )
    return trials


def _drawn(fig) -> list[tuple[object, np.ndarray]]:
    return [
        (ax, np.asarray(line.get_ydata(), dtype=float))
        for ax in fig.axes
        if ax.get_visible()
        for line in ax.get_lines()
    ]


def test_the_compare_figure_keeps_every_epoch_of_every_curve_in_sight():
    # Curves climbing from a tenth of their final value: the first epochs lie far below the
    # second half, and the figure must show them all the same.
    runs = make_repeats({0: [0.9, 0.88], 1: [0.6, 0.62]}, epochs=10)
    runs = [
        dataclasses.replace(r, params={**r.params, "hidden": 10 * (r.number + 1)}) for r in runs
    ]
    fig = comparison_curves(runs, "hidden")
    drawn = _drawn(fig)
    assert drawn
    for ax, y in drawn:
        low, high = ax.get_ylim()
        assert low <= np.nanmin(y) and np.nanmax(y) <= high


def _page(folder: Path) -> str:
    return (folder / "index.html").read_text()


def _captions(page: str) -> dict[str, str]:
    return dict(re.findall(r'<figure id="fig-([^"]+)">.*?<figcaption>(.*?)</figcaption>', page))


def test_the_compare_caption_names_only_the_panels_drawn(tmp_path):
    trials = [
        dataclasses.replace(t, metrics={"val_loss": 2.3 - (t.val_acc or 0)}) for t in make_trials(6)
    ]
    runs = make_repeats({0: [0.9, 0.88], 1: [0.6, 0.62]}, epochs=5)
    # Runs without per-epoch test scores: the figure has a validation panel alone.
    runs = [
        dataclasses.replace(r, params={**r.params, "hidden": 10 * (r.number + 1)}, test_curve=())
        for r in runs
    ]
    space = SearchSpace({"lr": LogUniform(1e-6, 1e-2), "weight_decay": LogUniform(1e-8, 1e-4)})
    write_comparison(tmp_path, runs, "hidden")
    fig = comparison_curves(runs, "hidden")
    titles = {ax.get_title() for ax in fig.axes if ax.get_visible()}
    assert titles == {"validation"}
    write_reports(tmp_path, trials, space, settings=definition(), repeats=runs, goal=LOSS)
    caption = _captions(_page(tmp_path))["compare_hidden"]
    assert "test" not in caption
    assert "validation accuracy" in caption  # the figure draws accuracy, whatever ranks


def test_the_best_n_caption_promises_only_what_the_grid_draws(tmp_path):
    trials = _loss_trials([0.5, 2.2, 2.25, 2.28])
    space = SearchSpace({"lr": LogUniform(1e-3, 1.0)})
    goal = {"metric": "val_loss", "direction": "minimize"}
    write_reports(tmp_path, trials, space, settings=definition(goal=goal), goal=LOSS)
    caption = _captions(_page(tmp_path))["best_curves"]
    fig = best_curves(trials, goal=LOSS)
    styles = {line.get_linestyle() for _, line in ((None, x) for ax in fig.axes for x in ax.lines)}
    assert "--" not in styles  # no training curve reported, none drawn
    assert "dashed" not in caption and "training" not in caption
    assert "95%" not in caption and "interval" not in caption
    assert "val_loss" in caption


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+\.\d+", text)


def test_the_best_n_axis_suits_the_metric_and_its_labels_one_precision():
    trials = _loss_trials([0.41, 2.21, 2.26, 2.28, 2.29])
    fig = best_curves(trials, goal=LOSS)
    values = np.concatenate([y for _, y in _drawn(fig)])
    first = next(ax for ax in fig.axes if ax.get_visible())
    low, high = first.get_ylim()
    assert low <= values.min() and values.max() <= high
    ticks = [t for t in first.get_yticks() if low <= t <= high]
    span = values.max() - values.min()
    # Labelled ticks reach both ends of the curves: the top one is where most curves sit.
    assert max(ticks) >= values.max() - 0.1 * span
    assert min(ticks) <= values.min() + 0.1 * span
    fig.canvas.draw()
    labels = [t.get_text() for t in first.get_yticklabels() if t.get_text()]
    titles = [ax.get_title().splitlines()[0] for ax in fig.axes if ax.get_visible()]
    places = {len(n.split(".")[1]) for text in labels + titles for n in _numbers(text)}
    assert len(places) == 1, (labels, titles)


def test_a_one_epoch_curve_is_drawn_as_a_mark():
    trials = make_trials(6, epochs=4)
    # Ran out of time after its first epoch: one value, no score.
    trials[5] = dataclasses.replace(
        trials[5],
        state=TrialState.TIMEOUT,
        val_acc=None,
        epochs=1,
        val_curve=(0.3,),
        train_curve=(0.32,),
        error="time limit",
    )
    own = _loss_trials([0.5, 2.2])
    own.append(
        dataclasses.replace(
            own[1], number=2, state=TrialState.TIMEOUT, epochs=1, curves={"val_loss": (2.29,)}
        )
    )
    for fig in (best_curves(trials, n=6), best_curves(own, goal=LOSS)):
        panels = [ax for ax in fig.axes if ax.get_visible()]
        last = panels[-1]
        assert "TIMEOUT" in last.get_title()
        lines = [line for line in last.get_lines() if len(line.get_xdata()) == 1]
        assert lines and all(line.get_marker() not in (None, "None", "", " ") for line in lines)


OWN = """
import numpy as np


def objective(trial):
    lr = trial.params["lr"]
    state = trial.checkpoint or {"epoch": 0}
    loss = 2.3
    for epoch in range(int(state["epoch"]), trial.epochs):
        loss = 2.3 - lr * (epoch + 1) - 0.01 * np.random.rand()
        trial.report(epoch, val_loss=loss)
    KEEP
    return {"val_loss": loss}
"""


def _own_study(tmp_path: Path, name: str, keep: bool, **kwargs: object) -> Study:
    path = tmp_path / f"{name}.py"
    line = 'trial.set_checkpoint({"epoch": trial.epochs})' if keep else "pass"
    path.write_text(textwrap.dedent(OWN).replace("KEEP", line))
    options: dict[str, object] = dict(
        objective=f"{path}:objective",
        space={"lr": LogUniform(1e-3, 0.2)},
        config=Settings(epochs=4, samples=200, dataset="digits"),
        n_trials=6,
        seed=0,
        progress=False,
        directory=tmp_path / "studies",
        metric="val_loss",
        direction="minimize",
        confirm=0,
    )
    options.update(kwargs)
    return Study(name, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("keep", [True, False])
def test_the_pruning_note_says_whether_checkpoints_were_kept(tmp_path, capsys, keep):
    study = _own_study(tmp_path, "pruned", keep, prune="halving", min_epochs=1)
    study.optimize()
    capsys.readouterr()
    assert main(["report", "pruned", "--out", str(tmp_path / "studies")]) == 0
    printed = capsys.readouterr()
    said = printed.out + printed.err
    note = next(line for line in said.splitlines() if line.startswith("pruning"))
    assert ("again from scratch" in note) is not keep
    assert ("goes on from the last" in note) is keep


def test_a_study_of_an_own_metric_prints_it_to_one_precision(tmp_path, capsys):
    study = _own_study(tmp_path, "loss", True, confirm=2, repeats=2)
    study.optimize()
    capsys.readouterr()
    assert main(["report", "loss", "--out", str(tmp_path / "studies")]) == 0
    printed = capsys.readouterr().out
    page = _page(tmp_path / "studies" / "loss")
    shown = []
    for text in (printed, page):
        shown += re.findall(r"val_loss (\d+\.\d+)", text)  # summary, headline, captions
    for table in re.findall(r'<table id="(?:ranking|confirmed)">(.*?)</table>', page, re.S):
        head = re.findall(r"<th>(.*?)</th>", table)
        column = head.index("val_loss")
        for row in re.findall(r"<tr>(<td.*?)</tr>", table):
            shown += _numbers(re.findall(r"<td[^>]*>(.*?)</td>", row)[column])
    assert len(shown) > 5
    assert len({len(n.split(".")[1]) for n in shown}) == 1, shown


def test_a_resume_with_an_own_objective_names_the_built_in_network(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("def objective(trial):\n    return 0.5\n")
    common: dict[str, object] = dict(
        space={"lr": LogUniform(1e-3, 1.0)},
        n_trials=1,
        progress=False,
        directory=tmp_path / "studies",
        confirm=0,
    )
    network = TrainConfig(epochs=1, samples=100, dataset="digits", hidden=(10,))
    Study("s", config=network, **common).optimize()  # type: ignore[arg-type]
    with pytest.raises(StudyError) as refused:
        Study(
            "s",
            objective=f"{path}:objective",
            config=Settings(epochs=1, samples=100, dataset="digits"),
            resume=True,
            **common,  # type: ignore[arg-type]
        )
    message = str(refused.value)
    assert "None" not in message
    assert "built-in network" in message
