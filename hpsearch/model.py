"""The built-in network's chosen model, loaded in the book's names:
``hpsearch.model.load_model(path)``.

Only a study of the built-in ``MultiLayerNet`` writes ``model.npz``; a study of your own
objective keeps its model as your code does. The code lives in :mod:`hpsearch.builtin.model`;
this module keeps the short path users import.
"""

from __future__ import annotations

from hpsearch.builtin.model import load_model

__all__ = ["load_model"]
