"""A user's own objective: the trial handle, free reproducibility, the confirm stage, mistakes.

The objectives here are written as the book's readers write theirs: global, unseeded
``np.random`` for initial weights and batches, their own training loop.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _interrupt import interrupt_when

from hpsearch import LogUniform, Study, TrainConfig
from hpsearch.cli.main import main
from hpsearch.exceptions import ObjectiveError, StudyError
from hpsearch.seeding import REPEAT, TRAIN, seed_for

CONFIG = TrainConfig(epochs=3, samples=200)
SPACE = {"lr": LogUniform(1e-2, 1.0)}

BOOK_STYLE = """
import json
import numpy as np

LOG = None  # a test that reads the handles sets a path here


def objective(trial):
    d = trial.data
    W = 0.01 * np.random.randn(d.x_train.shape[1], 10)  # global, unseeded: as in the book
    for epoch in range(trial.epochs):
        for _ in range(4):
            batch = np.random.choice(len(d.x_train), 50)
            x, t = d.x_train[batch], d.t_train[batch]
            y = np.exp(x @ W - (x @ W).max(axis=1, keepdims=True))
            y /= y.sum(axis=1, keepdims=True)
            y[np.arange(len(t)), t] -= 1
            W -= trial.params["lr"] * x.T @ y / len(t)
        val = float(((d.x_val @ W).argmax(axis=1) == d.t_val).mean())
        train = float(((d.x_train @ W).argmax(axis=1) == d.t_train).mean())
        trial.report(epoch, train_acc=train, val_acc=val, loss=1.0 - train)
    out = {"val_acc": val, "train_acc": train}
    if d.x_test is not None:
        out["test_acc"] = float(((d.x_test @ W).argmax(axis=1) == d.t_test).mean())
    if LOG:
        with open(LOG, "a") as fh:
            fh.write(json.dumps({"number": trial.number, "repeat": trial.repeat,
                                 "seed": trial.seed, "epochs": trial.epochs,
                                 "test": d.x_test is not None, "params": trial.params}) + "\\n")
    return out
"""


def _file(folder: Path, text: str = BOOK_STYLE, name: str = "mynet.py") -> str:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return f"{path}:objective"


def _study(tmp_path: Path, name: str, objective: object, **kwargs: object) -> Study:
    options: dict[str, object] = dict(
        space=SPACE, config=CONFIG, n_trials=6, seed=3, confirm=0, progress=False, figures=False
    )
    options.update(kwargs)
    return Study(name, objective=objective, directory=tmp_path / "studies", **options)  # type: ignore[arg-type]


def _ranking(tmp_path: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(tmp_path / "studies" / name / "ranking.csv").drop(columns=["seconds"])


def test_a_book_style_objective_gives_the_same_ranking_with_one_or_two_workers(tmp_path):
    ref = _file(tmp_path)
    _study(tmp_path, "one", ref, n_jobs=1).optimize()
    _study(tmp_path, "two", ref, n_jobs=2).optimize()
    one, two = _ranking(tmp_path, "one"), _ranking(tmp_path, "two")
    pd.testing.assert_frame_equal(one, two)
    assert (one["state"] == "COMPLETE").all() and one["val_acc"].nunique() > 1
    assert one["val_acc"].max() > 0.3  # it learned: the handle's data and params reached it
    curves = pd.read_csv(tmp_path / "studies" / "one" / "curves.csv")
    assert len(curves) == 6 * CONFIG.epochs and curves["loss"].notna().all()


def test_the_handle_holds_params_seed_epochs_and_the_test_part_only_in_confirm_runs(tmp_path):
    log = tmp_path / "handles.jsonl"
    text = BOOK_STYLE.replace("LOG = None", f"LOG = {str(log)!r}")
    study = _study(tmp_path, "handle", _file(tmp_path, text), n_jobs=1, confirm=2, repeats=2)
    study.optimize()
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    search = [h for h in seen if h["repeat"] == 0]
    confirm = [h for h in seen if h["repeat"] > 0]
    assert sorted(h["number"] for h in search) == list(range(6))
    assert all(not h["test"] and h["epochs"] == CONFIG.epochs for h in search)
    assert all(h["seed"] == seed_for(3, h["number"], TRAIN) for h in search)
    assert sorted(h["repeat"] for h in confirm) == [1, 1, 2, 2]  # 1.. in confirm runs
    assert all(h["test"] for h in confirm)
    assert all(h["seed"] == seed_for(3, h["number"], h["repeat"] - 1, REPEAT) for h in confirm)
    by_number = {t.number: t.params for t in study.trials}
    assert all(h["params"] == by_number[h["number"]] for h in seen)


def test_the_confirm_stage_scores_the_test_part_the_objective_returns(tmp_path):
    study = _study(tmp_path, "confirmed", _file(tmp_path), confirm=2, repeats=2)
    study.optimize()
    table = pd.read_csv(tmp_path / "studies" / "confirmed" / "confirmed.csv")
    assert len(table) == 2 and table["test_mean"].notna().all() and (table["n_test"] > 0).all()
    page = (tmp_path / "studies" / "confirmed" / "index.html").read_text()
    assert f"(trial {study.chosen_trial.number}) | validation" in page and "| test 0." in page
    assert not (tmp_path / "studies" / "confirmed" / "model.npz").exists()  # no built-in network
    # The page names the objective, and none of the built-in network's settings.
    settings = page.split('id="settings"')[1].split("</table>")[0]
    assert "<th>objective</th>" in settings and "mynet.py:objective" in settings
    assert "<th>epochs</th>" in settings and "<th>hidden</th>" not in settings


def test_an_objective_that_raises_fails_its_trial_and_nan_diverges_and_the_study_goes_on(
    tmp_path,
):
    ref = _file(
        tmp_path,
        """
        def objective(trial):
            if trial.number == 1:
                raise RuntimeError("my layer broke")
            if trial.number == 3:  # a NaN beside the metric is left out, not a divergence
                return {"val_acc": 0.53, "train_loss": float("nan")}
            return float("nan") if trial.number == 2 else 0.5 + trial.number / 100
        """,
    )
    df = _study(tmp_path, "faults", ref, n_trials=4).optimize().set_index("trial")
    assert df.loc[1, "state"] == "FAILED" and "RuntimeError: my layer broke" in df.loc[1, "error"]
    assert df.loc[2, "state"] == "DIVERGED"
    assert df.loc[3, "state"] == "COMPLETE" and df.loc[3, "rank"] == 1
    assert df.loc[3, "val_acc"] == 0.53


def _refused(ref: str, out: Path, capsys: pytest.CaptureFixture[str], fragment: str) -> None:
    """A two-trial study of ``ref`` through the command line: exit 2 and one line with
    ``fragment`` on stderr."""
    argv = ["random", "--trials", "2", "--epochs", "1", "--objective", ref, "--out", str(out)]
    code = main([*argv, "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0], err


@pytest.mark.parametrize(
    "text,ref_tail,fragment",
    [
        (None, "missing.py:objective", "no such file"),
        ("def other(trial):\n    return 1.0\n", None, "has no function 'objective'"),
        ("import not_a_module_anywhere\n", None, "failed to import: ModuleNotFoundError"),
        (None, "no_colon_here", "expected PATH.py:FUNCTION"),
    ],
    ids=["missing-file", "missing-function", "import-fails", "malformed"],
)
def test_an_objective_that_cannot_load_is_one_line_exit_2_and_nothing_written(
    tmp_path, capsys, snapshot, text, ref_tail, fragment
):
    ref = _file(tmp_path, text) if text else str(tmp_path / ref_tail)
    out = tmp_path / "studies"
    before = snapshot(out)
    _refused(ref, out, capsys, fragment)
    assert snapshot(out) == before
    with pytest.raises(ObjectiveError, match=fragment.split(":")[0]):
        _study(tmp_path, "api", ref).optimize()


@pytest.mark.parametrize(
    "body,fragment",
    [
        ("return 'high'", "returned str: expected a number"),
        ("return {'loss': 0.1}", "without the metric 'val_acc'"),
        ("return {'val_acc': 'x'}", "expected a number for each metric"),
    ],
)
def test_a_return_value_no_trial_can_be_ranked_by_stops_the_study_with_one_line(
    tmp_path, capsys, body, fragment
):
    ref = _file(tmp_path, f"def objective(trial):\n    {body}\n")
    out = tmp_path / "studies"
    _refused(ref, out, capsys, fragment)


def test_params_the_built_in_network_does_not_know_are_searched_for_an_own_objective(tmp_path):
    ref = _file(tmp_path, "def objective(trial):\n    return trial.params['width'] / 100\n")
    study = Study(
        "width",
        objective=ref,
        space={"width": LogUniform(1, 64)},
        n_trials=3,
        directory=tmp_path,
        progress=False,
        confirm=0,
    )
    df = study.optimize()
    assert list(df["val_acc"]) == sorted(
        (t.params["width"] / 100 for t in study.trials), reverse=True
    )
    with pytest.raises(ValueError, match="unknown parameter"):
        Study("builtin", space={"width": LogUniform(1, 64)}, directory=tmp_path)


def test_a_resume_with_another_objective_is_refused_naming_it(tmp_path):
    first = _file(tmp_path)
    _study(tmp_path, "same", first, n_trials=2).optimize()
    other = _file(tmp_path, "def objective(trial):\n    return 0.5\n", name="other.py")
    with pytest.raises(StudyError, match="objective"):
        _study(tmp_path, "same", other, n_trials=2, resume=True)
    with pytest.raises(StudyError, match="objective"):
        Study("same", directory=tmp_path / "studies", resume=True, n_trials=2)  # built-in


MARKS_ITS_IMPORT = """
import numpy as np

with open({marker!r}, "a") as fh:  # every import of this file leaves a line
    fh.write("imported\\n")


def objective(trial):
    lr, width = np.log10(trial.params["lr"]), trial.params["width"]
    return {{"val_acc": float(1.0 - (lr + 1.0) ** 2 - 0.001 * width)}}
"""


def test_reading_a_study_never_imports_its_objective(tmp_path):
    # Each step is a process of its own, as a reader's shell runs them: no module imported to
    # make the study is left cached for the reading commands, so an import of the objective's
    # file by any of them leaves its line in the marker.
    marker = tmp_path / "imported.log"
    ref = _file(tmp_path, MARKS_ITS_IMPORT.format(marker=str(marker)))
    out = str(tmp_path / "studies")
    make = (
        "from hpsearch import IntUniform, LogUniform, Study\n"
        f"Study('read', objective={ref!r}, directory={out!r}, n_trials=8, seed=3, confirm=0,\n"
        "      progress=False, space={'lr': LogUniform(1e-2, 1.0), 'width': IntUniform(1, 9)}"
        ").optimize()\n"
    )
    subprocess.run([sys.executable, "-c", make], check=True, capture_output=True, timeout=600)
    assert marker.read_text().count("imported") >= 1  # the marker works: training imports it
    marker.unlink()
    for words in (
        ["report", "read"],
        ["list"],
        ["importance", "read"],
        ["report", "read", "--write"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "hpsearch", *words, "--out", out],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, (words, done.stderr)
        assert not marker.exists(), f"hpsearch {' '.join(words)} imported the objective"


def _cli(out: Path, ref: str, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hpsearch",
        "random",
        "--trials",
        "12",
        "--epochs",
        "40",
        "--samples",
        "400",
        "--param",
        "lr=log:1e-2:1",
        "--objective",
        ref,
        "--jobs",
        "2",
        "--confirm",
        "2",
        "--repeats",
        "2",
        "--name",
        name,
        "--out",
        str(out),
        "--no-figures",
        "--quiet",
    ]


def test_an_interrupted_study_of_an_own_objective_resumes_to_the_uninterrupted_one(tmp_path):
    ref = _file(tmp_path)
    subprocess.run(_cli(tmp_path, ref, "whole"), check=True, capture_output=True)
    interrupt_when(_cli(tmp_path, ref, "cut"), tmp_path / "cut" / "trials.jsonl", at_least=4)
    again = subprocess.run(_cli(tmp_path, ref, "cut"), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    for file in ("ranking.csv", "confirmed.csv"):
        whole = pd.read_csv(tmp_path / "whole" / file).filter(regex="^(?!seconds)")
        cut = pd.read_csv(tmp_path / "cut" / file).filter(regex="^(?!seconds)")
        pd.testing.assert_frame_equal(whole, cut)


@pytest.mark.filterwarnings("error::UserWarning")  # every figure is drawn
def test_halving_calls_the_objective_with_each_rungs_epochs_the_same_with_any_workers(tmp_path):
    ref = _file(
        tmp_path,
        """
        import numpy as np

        def objective(trial):
            noise = np.random.rand()  # unseeded, as a reader's code draws
            for epoch in range(trial.epochs):
                trial.report(epoch, val_acc=min(1.0, trial.params["lr"] * (epoch + 1)))
            return min(1.0, trial.params["lr"] * trial.epochs + 1e-3 * noise)
        """,
    )
    space = {"lr": LogUniform(1e-3, 1e-1)}
    options = dict(space=space, config=TrainConfig(epochs=9, samples=200), n_trials=9, figures=True)
    runs = [
        _study(tmp_path, f"halving{j}", ref, n_jobs=j, prune="halving", min_epochs=1, **options)
        for j in (1, 2)
    ]
    one, two = (r.optimize().drop(columns=["seconds"]) for r in runs)
    pd.testing.assert_frame_equal(one, two)
    # Rungs at 1, 3 and 9 epochs: 9 trials, 3 promoted, 1 trained to the end.
    assert sorted(one["epochs"]) == [1] * 6 + [3] * 2 + [9]
    assert one.iloc[0]["state"] == "COMPLETE" and one.iloc[0]["epochs"] == 9
    # Each call trained exactly its rung's budget: the curve is as long as the epochs.
    assert all(len(t.val_curve) == t.epochs for t in runs[0].trials)


def test_a_study_file_names_its_objective_and_compare_trains_it_per_value(tmp_path, capsys):
    ref = _file(
        tmp_path,
        BOOK_STYLE.replace(
            'W -= trial.params["lr"]', 'W -= trial.params["lr"] * trial.params["scale"]'
        ),
    )
    study_file = tmp_path / "own.toml"
    study_file.write_text(
        textwrap.dedent(
            f"""
            strategy = "grid"
            trials = 4
            objective = "{ref}"
            name = "own"
            confirm = 1
            repeats = 2
            [space]
            lr = "log:0.1:1"
            scale = "choice:0.1,1"
            [set]
            epochs = 2
            samples = 200
            """
        )
    )
    out = str(tmp_path / "studies")
    assert main(["run", str(study_file), "--out", out, "--quiet"]) == 0
    stored = json.loads((tmp_path / "studies" / "own" / "study.json").read_text())
    assert stored["objective"] == ref
    assert main(["compare", "own", "--by", "scale", "--out", out, "--quiet"]) == 0
    table = pd.read_csv(tmp_path / "studies" / "own" / "compare_scale.csv")
    assert sorted(table["scale"]) == [0.1, 1.0] and table["test_mean"].notna().all()


LOSS = """
import numpy as np

def objective(trial):
    lr = trial.params["lr"]
    loss = abs(np.log10(lr) + 1) + 0.01 * np.random.rand()  # least at lr = 0.1
    out = {"val_loss": loss}
    if trial.data.x_test is not None:
        out["test_loss"] = loss + 0.05
    return out
"""


@pytest.mark.parametrize("strategy", ["random", "bayes"])
def test_a_minimised_metric_ranks_lowest_first_and_chooses_by_it(tmp_path, capsys, strategy):
    ref = _file(tmp_path, LOSS)
    out = str(tmp_path / "studies")
    argv = ["--trials", "12", "--epochs", "2", "--param", "lr=log:1e-3:1", "--objective", ref]
    argv += ["--metric", "val_loss", "--direction", "minimize", "--name", "mini", "--out", out]
    assert main([strategy, *argv, "--confirm", "2", "--repeats", "2", "--quiet"]) == 0
    printed = capsys.readouterr().out
    df = pd.read_csv(tmp_path / "studies" / "mini" / "ranking.csv")
    assert list(df["val_loss"]) == sorted(df["val_loss"]) and list(df["rank"]) == list(range(1, 13))
    best = df.iloc[0]
    assert abs(np.log10(best["lr"]) + 1) < abs(np.log10(df.iloc[-1]["lr"]) + 1)
    headline = next(line for line in printed.splitlines() if line.startswith("chosen:"))
    assert "| val_loss " in headline and "minimized" in headline and "| test_loss " in headline
    assert "val_loss of one run each" in printed
    # The figures plot the loss the study ranks by.
    folder = tmp_path / "studies" / "mini"
    for figure in ("history.png", "param_scores.png", "best_curves.png"):
        assert (folder / figure).stat().st_size > 0
    # The goal is part of the definition: a resume that ranks otherwise is refused.
    assert main([strategy, *argv[:-6], "--name", "mini", "--out", out, "--quiet"]) == 2
    assert "different goal" in capsys.readouterr().err


def test_another_metric_is_refused_for_the_built_in_network(tmp_path):
    with pytest.raises(ValueError, match="needs your own objective"):
        Study("builtin", metric="val_loss", direction="minimize", directory=tmp_path)
    with pytest.raises(ValueError, match="direction must be 'maximize' or 'minimize'"):
        Study("bad", objective="x.py:f", direction="down", directory=tmp_path)


def test_a_confirm_run_that_returns_no_test_score_gets_a_validation_only_headline(tmp_path):
    ref = _file(tmp_path, "def objective(trial):\n    return 0.5 + trial.number / 100\n")
    study = _study(tmp_path, "valonly", ref, n_trials=3, confirm=1, repeats=2)
    study.optimize()
    page = (tmp_path / "studies" / "valonly" / "index.html").read_text()
    assert "validation only: no test_acc returned for the test images" in page
    assert "no test part in this dataset" not in page


def test_a_function_object_and_a_module_reference_are_objectives_too(tmp_path, monkeypatch):
    package = tmp_path / "readers_net"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "train.py").write_text(textwrap.dedent(BOOK_STYLE))
    monkeypatch.syspath_prepend(str(tmp_path))
    from readers_net.train import objective

    by_module = _study(tmp_path, "module", "readers_net.train:objective", n_jobs=1)
    by_function = _study(tmp_path, "function", objective, n_jobs=2)
    assert by_function.objective_ref == "readers_net.train:objective"
    by_module.optimize()
    by_function.optimize()
    pd.testing.assert_frame_equal(_ranking(tmp_path, "module"), _ranking(tmp_path, "function"))
