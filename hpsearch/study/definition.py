"""A study's definition (``study.json``): what a resume must match, and the arguments it stands
for."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hpsearch import __version__
from hpsearch.exceptions import StudyError
from hpsearch.space.search_space import SearchSpace
from hpsearch.strategies import strategy_options
from hpsearch.study.objectives import stored_config
from hpsearch.study.options import MAX_REPEATS

__all__ = [
    "CONFIRM_SETTINGS",
    "DEFINING",
    "check_definition",
    "confirm_settings",
    "definition_of",
    "stored_arguments",
    "stored_confirm",
]

# The definition keys a resume must match; the number of trials may grow.
DEFINING = ("strategy", "space", "seed", "config", "pruning", "objective", "goal")

#: The confirm stage's settings, stored in the definition under these keys (the
#: :class:`~hpsearch.Study` arguments of the same names). They are run options, not defining
#: keys: a resume may change them, and one that does not give them keeps the stored ones.
CONFIRM_SETTINGS = ("confirm", "repeats", "refit", "test_curves")
# The study's attribute that holds each.
CONFIRM_ATTRIBUTES = {
    "confirm": "n_confirm",
    "repeats": "repeats",
    "refit": "refit",
    "test_curves": "test_curves",
}


def _difference(key: str, stored: Any, asked: Any) -> str:
    """``key: stored X, asked Y``, naming only the entries that differ when both are dicts."""
    if (
        key == "strategy"
        and isinstance(stored, dict)
        and isinstance(asked, dict)
        and stored.get("name") != asked.get("name")
    ):
        return f"stored strategy {stored.get('name')}, asked {asked.get('name')}"
    if isinstance(stored, dict) and isinstance(asked, dict):
        names = sorted(k for k in stored.keys() | asked.keys() if stored.get(k) != asked.get(k))
        return "; ".join(
            f"{key}.{k}: stored {stored.get(k)!r}, asked {asked.get(k)!r}" for k in names
        )
    return f"{key}: stored {stored!r}, asked {asked!r}"


def definition_of(study: Any) -> dict[str, Any]:
    """What defines ``study`` (a :class:`~hpsearch.Study`), as ``study.json`` stores it."""
    return {
        "hpsearch_version": __version__,
        "name": study.name,
        "strategy": study.strategy.settings(),
        "space": study.space.to_json(),
        "seed": study.seed,
        "config": (study.config or study.settings).to_json(),
        "objective": study.objective_ref,
        "goal": study.goal.to_json(),
        "pruning": study.pruning.to_json(),
        "n_trials": study.n_trials,
        "lag": study.lag,
        **confirm_settings(study),
    }


def confirm_settings(study: Any) -> dict[str, Any]:
    """The confirm stage's settings of ``study`` as its definition stores them."""
    return {key: getattr(study, CONFIRM_ATTRIBUTES[key]) for key in CONFIRM_SETTINGS}


def check_definition(
    stored: Mapping[str, Any], mine: Mapping[str, Any], path: Path, name: str
) -> None:
    """Refuses to resume a study whose stored definition differs from the one asked for.

    Raises:
        StudyError: A defining key is missing, corrupt, or differs (each difference named).
    """
    missing = [key for key in DEFINING if key not in stored]
    if missing:
        raise StudyError(f"corrupt study definition {path}: missing {missing}")
    stored = dict(stored)
    try:  # read as the settings they are (a hand-edited 100.0 is the 100 asked)
        stored["config"] = stored_config(stored["config"], stored["objective"]).to_json()
    except (TypeError, ValueError) as exc:
        raise StudyError(f"corrupt study definition {path}: {exc}") from None
    differ = [key for key in DEFINING if stored[key] != mine[key]]
    if differ:
        details = "; ".join(_difference(key, stored[key], mine[key]) for key in differ)
        raise StudyError(
            f"study {name!r} was created with a different {', '.join(differ)} "
            f"({details}); run it as it was defined, or choose another name"
        )


def stored_arguments(d: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The :class:`~hpsearch.Study` arguments a stored definition stands for.

    Raises:
        StudyError: The definition is corrupt.
    """
    confirm = stored_confirm(d, path)
    try:
        kind, options = strategy_options(d["strategy"])
        pruning = d.get("pruning", {})
        return dict(
            strategy=kind,
            space=SearchSpace.from_json(d["space"]),
            seed=int(d["seed"]),
            config=stored_config(d["config"], d.get("objective")),
            n_trials=int(d.get("n_trials", 1)),
            strategy_options=options,
            prune=pruning.get("kind", "none"),
            min_epochs=pruning.get("min_epochs", 5),
            reduction_factor=pruning.get("eta", 3),
            **confirm,
            **({"objective": d["objective"]} if d.get("objective") else {}),
            **{k: v for k, v in d.get("goal", {}).items() if k in ("metric", "direction")},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StudyError(f"corrupt study definition {path}: {exc}") from None


def stored_confirm(d: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The confirm stage's settings a stored definition holds (:data:`CONFIRM_SETTINGS`), by
    their :class:`~hpsearch.Study` argument names; a definition written before they were stored
    lacks some or all of them (the study then takes the defaults).

    Raises:
        StudyError: A stored setting is not of its kind (the definition is corrupt).
    """
    kinds = {
        "confirm": (
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
            "an integer >= 0",
        ),
        "repeats": (
            lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_REPEATS,
            "a positive integer",
        ),
        "refit": (lambda v: isinstance(v, bool), "true or false"),
        "test_curves": (lambda v: isinstance(v, bool), "true or false"),
    }
    found = {key: d[key] for key in CONFIRM_SETTINGS if key in d}
    for key, value in found.items():
        ok, expected = kinds[key]
        if not ok(value):
            raise StudyError(f"corrupt study definition {path}: {key} is {value!r}, not {expected}")
    return found
