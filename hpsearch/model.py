"""The chosen model, saved and loaded in the book's names: ``hpsearch.model.load_model(path)``.

The code lives in :mod:`hpsearch.builtin.model`; this module keeps the short path users import.
"""

from __future__ import annotations

from hpsearch.builtin.model import load_model

__all__ = ["load_model"]
