"""A study ranked by its own metric tells its own story: notes, page, precision; importance
output that a pipe can read and that a confirm stage does not remove."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd

from hpsearch import LogUniform, Study, TrainConfig, Uniform
from hpsearch.cli.main import main
from hpsearch.reports.formatting import mean_sd_text

# val_loss and val_acc disagree on purpose: the best by loss is not the best by accuracy.
ANTI = """
import numpy as np


def objective(trial):
    lr = trial.params["lr"]
    loss = 2.28 + 0.01 * abs(np.log10(lr) + 1) + 0.001 * np.random.rand()
    out = {"val_loss": loss, "val_acc": min(0.99, lr), "train_acc": 0.5}
    if trial.data.x_test is not None:
        out["test_loss"] = loss + 0.01
    return out
"""


def _study(tmp_path: Path, name: str, **kwargs: object) -> Study:
    path = tmp_path / "anti.py"
    path.write_text(textwrap.dedent(ANTI))
    options: dict[str, object] = dict(
        objective=f"{path}:objective",
        space={"lr": LogUniform(1e-3, 1.0), "other": Uniform(0.0, 1.0)},
        config=TrainConfig(epochs=1, samples=200),
        n_trials=12,
        seed=1,
        progress=False,
        directory=tmp_path / "studies",
        metric="val_loss",
        direction="minimize",
        confirm=3,
        repeats=3,
    )
    options.update(kwargs)
    return Study(name, **options)  # type: ignore[arg-type]


def test_a_study_ranked_by_loss_never_speaks_of_validation_accuracy(tmp_path, capsys):
    study = _study(tmp_path, "anti")
    study.optimize()
    out = str(tmp_path / "studies")
    assert main(["report", "anti", "--out", out]) == 0
    printed = capsys.readouterr()
    assert "best validation accuracy" not in (printed.out + printed.err).lower()
    page = (tmp_path / "studies" / "anti" / "index.html").read_text()
    best = study.ranking().iloc[0]
    assert f"best val_loss {best['val_loss']:.4g} (trial {int(best['trial'])})" in page
    assert "best validation accuracy" not in page
    assert "final validation accuracy" not in page  # the captions name the metric


def test_a_metric_of_unknown_range_prints_to_one_precision(tmp_path, capsys):
    # One precision for the metric, whatever a row's sd: the rows of a column read alike.
    assert mean_sd_text(1.137, 0.080) == "1.137 ± 0.080"
    assert mean_sd_text(1.07, 0.11) == "1.070 ± 0.110"
    assert mean_sd_text(123.4, 12.3) == "123.400 ± 12.300"
    study = _study(tmp_path, "digits")
    study.optimize()
    confirmed = pd.read_csv(tmp_path / "studies" / "digits" / "confirmed.csv")
    row = confirmed.iloc[0]
    out = str(tmp_path / "studies")
    assert main(["confirm", "digits", "--out", out]) == 0
    printed = capsys.readouterr().out
    expected = mean_sd_text(row["val_loss_mean"], row["val_loss_sd"])
    assert f"val_loss {expected}" in printed


def test_importance_in_a_pipe_and_on_the_page_after_a_confirm_stage(tmp_path, capsys):
    study = _study(tmp_path, "imp", confirm=0, n_trials=16)
    study.optimize()
    out = str(tmp_path / "studies")
    assert main(["importance", "imp", "--out", out, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)  # stdout holds the table alone
    assert rows[0]["param"] == "lr" and {"share", "low", "high"} <= set(rows[0])
    assert main(["confirm", "imp", "--out", out, "--confirm", "2", "--quiet"]) == 0
    page = (tmp_path / "studies" / "imp" / "index.html").read_text()
    assert "Which setting matters" in page  # a confirm stage changes nothing of it
    frame = study.trials_dataframe()
    assert "user_attrs_train_acc" in frame.columns and "user_attrs_val_acc" in frame.columns
    assert (frame["user_attrs_train_acc"] == 0.5).all()
    assert (frame["datetime_complete"].dt.microsecond % 1000 == 0).all()  # milliseconds
