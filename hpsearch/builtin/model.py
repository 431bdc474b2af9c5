"""The built-in network's chosen model: the ``MultiLayerNet``'s trained weights in the book's
names, with its settings, saved and loaded back. Only a study of the built-in network writes
``model.npz`` (:meth:`hpsearch.builtin.objective.NetworkObjective.save_chosen`): an own
objective's study has none.

``model.npz`` holds the arrays of ``MultiLayerNet.params`` under the book's names (``W1``,
``b1``, ..., ``gamma1``, ``beta1`` with batch normalisation, and its running statistics) and
one entry ``__settings__``: the JSON of the training settings and the layer sizes. No pickle:
``numpy.load(path)["W1"]`` works anywhere, and :func:`load_model` rebuilds the network.

Example:
    >>> from hpsearch.builtin.model import load_model
    >>> net = load_model("studies/random-20261127-101500/model.npz")  # doctest: +SKIP
    >>> net.predict(x_test).argmax(axis=1)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch import __version__
from hpsearch.builtin.config import TrainConfig
from hpsearch.builtin.nn.net import MultiLayerNet
from hpsearch.records import RepeatResult
from hpsearch.storage.files import replacing

__all__ = ["MODEL", "save_model", "load_model", "model_settings", "save_chosen"]

MODEL = "model.npz"
_SETTINGS = "__settings__"


def save_model(
    path: str | os.PathLike[str], net: MultiLayerNet, config: TrainConfig, **about: Any
) -> Path:
    """Writes ``net``'s weights (book names) and ``config`` to ``path`` atomically.

    Args:
        path: The ``.npz`` file.
        net: The trained network.
        config: Its training settings (the searched values included).
        **about: More JSON-ready facts kept with it (trial, repeat, scores).
    """
    settings = {
        "config": config.to_json(),
        "input_size": net.input_size,
        "output_size": net.output_size,
        "hpsearch_version": __version__,
        **about,
    }
    with replacing(path) as tmp:
        with open(tmp, "wb") as fh:
            # The arrays' names are __settings__ and the book's (W1, b1, ..., running_var1), none
            # of them a keyword of savez. (No allow_pickle=: an older NumPy, 1.24 for one, takes
            # it for an array's name and stores it, and the model then no longer loads.)
            arrays: dict[str, Any] = {
                _SETTINGS: np.array(json.dumps(settings, sort_keys=True)),
                **net.state_dict(),
            }
            np.savez(fh, **arrays)
    return Path(path)


def model_settings(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings stored with a saved model."""
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data[_SETTINGS]))


def load_model(path: str | os.PathLike[str]) -> MultiLayerNet:
    """The ``MultiLayerNet`` saved at ``path``, with its trained weights, ready to ``predict``.

    Raises:
        ValueError: Not a model file written by :func:`save_model`.
    """
    from hpsearch.builtin.training import net_for

    try:
        with np.load(path, allow_pickle=False) as data:
            settings = json.loads(str(data[_SETTINGS]))
            arrays = {k: data[k] for k in data.files if k != _SETTINGS}
        config = TrainConfig.from_json(settings["config"])
        net = net_for(config, int(settings["input_size"]), int(settings["output_size"]))
        net.load_state_dict(arrays)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a saved hpsearch model ({exc})") from None
    return net


def save_chosen(
    folder: Path,
    config: TrainConfig,
    runs: Mapping[tuple[int, int, bool], RepeatResult],
    number: int,
    refit: bool,
    retrain: Callable[[RepeatResult], tuple[RepeatResult, MultiLayerNet | None]],
) -> Path | None:
    """Saves the chosen configuration's model:
    its first confirm-stage run (the refit one if asked).

    That run is trained once more here (``retrain(run)``, with the same seeds), so its weights
    are those of the logged run (checked: the same test score). Nothing is done when
    ``model.npz`` already holds it.

    Returns:
        The path when this call wrote it; None when ``model.npz`` already held the run (kept as
        it is), or the run is missing or failed.
    """
    run = runs.get((number, 0, refit))
    if run is None or not run.ok:
        return None
    path = folder / MODEL
    key = {"trial": number, "repeat": 0, "refit": refit}
    if path.exists():
        try:
            if {k: model_settings(path).get(k) for k in key} == key:
                return None  # current: nothing to write
        except (OSError, ValueError, KeyError):
            pass  # unreadable: write it again
    again, net = retrain(run)
    if net is None or again.test_acc != run.test_acc or again.val_acc != run.val_acc:
        # not the logged run (another machine's arithmetic?): no model rather than a wrong one
        return None
    return save_model(
        path, net, config.with_params(run.params), **key, val_acc=run.val_acc, test_acc=run.test_acc
    )
