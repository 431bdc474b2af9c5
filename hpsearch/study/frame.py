"""The trials as a pandas DataFrame with the columns an Optuna user knows
(:meth:`hpsearch.Study.trials_dataframe`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from hpsearch.records import Goal, TrialResult, metric_of

__all__ = ["trials_frame"]


def _accuracies(trial: TrialResult) -> dict[str, float]:
    """The accuracies a trial's record keeps in fields of their own, where it has them."""
    values = {name: metric_of(trial, name) for name in ("val_acc", "train_acc")}
    return {k: v for k, v in values.items() if v is not None}


def trials_frame(
    trials: Sequence[TrialResult],
    names: Sequence[str],
    goal: Goal,
    finished: Mapping[int, float],
) -> pd.DataFrame:
    """One row per finished trial, by number: ``number``, ``value`` (the study's metric),
    ``datetime_start``, ``datetime_complete``, ``duration``, ``params_<name>`` per searched
    parameter (``names``), ``user_attrs_<name>`` per other metric an objective returned,
    ``state``; plus ``epochs``. ``finished``: each trial's end, in seconds since the epoch, as
    the study logged it (a trial without one has empty times).
    """
    rows = []
    for t in trials:
        end = finished.get(t.number)
        # Milliseconds: what the log keeps (a float's last digits are not a time).
        complete = pd.Timestamp(end, unit="s").round("ms") if end is not None else pd.NaT
        duration = pd.Timedelta(seconds=t.seconds).round("ms")
        rows.append(
            {
                "number": t.number,
                "value": goal.of(t) if t.ok else None,
                "datetime_start": complete - duration if end is not None else pd.NaT,
                "datetime_complete": complete,
                "duration": duration,
                **{f"params_{k}": t.params.get(k) for k in names},
                **{
                    f"user_attrs_{k}": v
                    for k, v in sorted({**_accuracies(t), **t.metrics}.items())
                    if k != goal.metric
                },
                "state": t.state.value,
                "epochs": t.epochs,
            }
        )
    columns = ["number", "value", "datetime_start", "datetime_complete", "duration"]
    columns += [f"params_{k}" for k in names]
    frame = pd.DataFrame(rows)
    extra = sorted(c for c in frame.columns if c.startswith("user_attrs_"))
    return frame.reindex(columns=[*columns, *extra, "state", "epochs"])
