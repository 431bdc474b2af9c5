"""A study's definition (``study.json``): what a resume must match, and the arguments it stands
for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hpsearch import __version__
from hpsearch.exceptions import StudyError
from hpsearch.space.search_space import SearchSpace
from hpsearch.storage.definition import Definition
from hpsearch.strategies import strategy_options
from hpsearch.study.objectives import stored_config

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

_BUILT_IN = "the built-in network (MultiLayerNet)"


def _difference(key: str, stored: Any, asked: Any) -> str:
    """``key: stored X, asked Y``, naming only the entries that differ when both are dicts."""
    if (
        key == "strategy"
        and isinstance(stored, dict)
        and isinstance(asked, dict)
        and stored.get("name") != asked.get("name")
    ):
        return f"stored strategy {stored.get('name')}, asked {asked.get('name')}"
    if key == "objective":  # None is the built-in network, which a reader knows by that name
        said = [_BUILT_IN if v is None else repr(v) for v in (stored, asked)]
        return f"objective: stored {said[0]}, asked {said[1]}"
    if isinstance(stored, dict) and isinstance(asked, dict):
        names = sorted(k for k in stored.keys() | asked.keys() if stored.get(k) != asked.get(k))
        return "; ".join(
            f"{key}.{k}: stored {stored.get(k)!r}, asked {asked.get(k)!r}" for k in names
        )
    return f"{key}: stored {stored!r}, asked {asked!r}"


def definition_of(study: Any) -> Definition:
    """What defines ``study`` (a :class:`~hpsearch.Study`), as ``study.json`` stores it."""
    return Definition(
        hpsearch_version=__version__,
        name=study.name,
        strategy=study.strategy.settings(),
        space=study.space.to_json(),
        seed=study.seed,
        config=(study.config or study.settings).to_json(),
        objective=study.objective_ref,
        goal=study.goal.to_json(),
        pruning=study.pruning.to_json(),
        n_trials=study.n_trials,
        lag=study.lag,
        **confirm_settings(study),
    )


def confirm_settings(study: Any) -> dict[str, Any]:
    """The confirm stage's settings of ``study`` as its definition stores them."""
    return {key: getattr(study, CONFIRM_ATTRIBUTES[key]) for key in CONFIRM_SETTINGS}


def check_definition(stored: Definition, mine: Definition, path: Path, name: str) -> None:
    """Refuses to resume a study whose stored definition differs from the one asked for.

    Raises:
        StudyError: The stored settings are corrupt, or a defining key differs (each named).
    """
    try:  # read as the settings they are (a hand-edited 100.0 is the 100 asked)
        config = stored_config(stored.config, stored.objective).to_json()
    except (TypeError, ValueError) as exc:
        raise StudyError(f"corrupt study definition {path}: {exc}") from None
    old = {**stored.to_json(), "config": config}
    new = mine.to_json()
    differ = [key for key in DEFINING if old[key] != new[key]]
    if "objective" in differ and "config" in differ:
        # Another trainer has other settings: the network's, beside a function's, are no news.
        differ.remove("config")
    if differ:
        details = "; ".join(_difference(key, old[key], new[key]) for key in differ)
        raise StudyError(
            f"study {name!r} was created with a different {', '.join(differ)} "
            f"({details}); run it as it was defined, or choose another name"
        )


def stored_arguments(d: Definition, path: Path) -> dict[str, Any]:
    """The :class:`~hpsearch.Study` arguments a stored definition stands for.

    Raises:
        StudyError: The definition is corrupt.
    """
    try:
        kind, options = strategy_options(d.strategy)
        return dict(
            strategy=kind,
            space=SearchSpace.from_json(d.space),
            seed=d.seed,
            config=stored_config(d.config, d.objective),
            n_trials=d.n_trials,
            strategy_options=options,
            prune=d.pruning["kind"],
            min_epochs=d.pruning["min_epochs"],
            reduction_factor=d.pruning["eta"],
            **stored_confirm(d),
            **({"objective": d.objective} if d.objective else {}),
            **{k: v for k, v in d.goal.items() if k in ("metric", "direction")},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StudyError(f"corrupt study definition {path}: {exc}") from None


def stored_confirm(d: Definition) -> dict[str, Any]:
    """The confirm stage's settings a stored definition holds, by their
    :class:`~hpsearch.Study` argument names (:data:`CONFIRM_SETTINGS`)."""
    return {key: getattr(d, key) for key in CONFIRM_SETTINGS}
