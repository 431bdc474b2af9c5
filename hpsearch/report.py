"""The ranking of a study's trials as a pandas DataFrame, and its CSV."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from hpsearch.space import SearchSpace
from hpsearch.training import TrialResult

__all__ = ["ranking", "write_csv", "write_reports", "SCORE_COLUMNS"]

SCORE_COLUMNS = ("val_acc", "best_val_acc", "train_acc")


def ranking(trials: Sequence[TrialResult], param_names: Sequence[str]) -> pd.DataFrame:
    """One row per trial, best first, in the manner of scikit-learn's ``cv_results_``.

    Trials with a score (COMPLETE, PRUNED) are ranked by final validation accuracy, ties
    sharing the best rank; the others (DIVERGED, TIMEOUT, FAILED) follow, sharing the rank after
    the last scored trial. Within equal scores, lower trial numbers come first.

    Args:
        trials: The study's trials.
        param_names: The searched parameters, one column each under its own name.

    Returns:
        Columns ``rank``, ``trial``, the params, ``val_acc``, ``best_val_acc``, ``train_acc``,
        ``epochs``, ``state``, ``seconds``, ``error``.
    """
    columns = ["rank", "trial", *param_names, *SCORE_COLUMNS, "epochs", "state", "seconds", "error"]
    rows = []
    for t in trials:
        row = {"trial": t.number, **{name: t.params.get(name) for name in param_names}}
        row.update(
            val_acc=t.val_acc if t.ok else None,
            best_val_acc=t.best_val_acc,
            train_acc=t.train_acc,
            epochs=t.epochs,
            state=t.state.value,
            seconds=round(t.seconds, 4),
            error=t.error or "",
            _scored=t.ok and t.val_acc is not None,
        )
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows)
    df["_key"] = df["val_acc"].where(df["_scored"]).astype(float)
    df = df.sort_values(["_scored", "_key", "trial"], ascending=[False, False, True], kind="mergesort")
    n_scored = int(df["_scored"].sum())
    rank = df["_key"].rank(method="min", ascending=False)
    df["rank"] = rank.fillna(n_scored + 1).astype(int)
    return df[columns].reset_index(drop=True)


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Writes the ranking atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def write_reports(folder: str | os.PathLike[str], trials: Sequence[TrialResult], space: SearchSpace) -> dict[str, Path]:
    """Writes every report of a study folder from its trials: ``ranking.csv``, ``best_curves.png``.

    Returns:
        Report name to path.
    """
    from hpsearch.plots import best_curves

    folder = Path(folder)
    df = ranking(trials, space.names)
    paths = {"ranking": write_csv(df, folder / "ranking.csv")}
    by_number = {t.number: t for t in trials}
    fig = best_curves([by_number[int(n)] for n in df["trial"]])
    paths["best_curves"] = folder / "best_curves.png"
    fig.savefig(paths["best_curves"], dpi=80)
    return paths
