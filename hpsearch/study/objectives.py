"""Which objective a study trains: the user's function, or the built-in network when none is
given. The one module of ``study/`` that knows the network (its settings, its checks, its
objective); everything after it carries :class:`~hpsearch.settings.Settings` and a callable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hpsearch.builtin.conditions import with_conditions
from hpsearch.builtin.config import TrainConfig
from hpsearch.builtin.objective import BUILTIN, NetworkObjective
from hpsearch.exceptions import StudyError
from hpsearch.execution.objective import load_objective, objective_ref, portable
from hpsearch.settings import Settings
from hpsearch.space.search_space import SearchSpace

#: What a study given no objective and no network settings runs: nothing; the user trains its
#: trials and tells them (:meth:`hpsearch.Study.ask`, :meth:`hpsearch.Study.tell`).
TOLD = "the value told"

__all__ = [
    "BUILTIN",
    "TOLD",
    "Chosen",
    "TrainConfig",
    "choose",
    "network_settings",
    "runnable",
    "stored_config",
]


@dataclasses.dataclass(frozen=True)
class Chosen:
    """A study's objective as the engine sees it.

    Attributes:
        ref: What the study records: ``BUILTIN``, or the user's ``PATH.py:FUNCTION``.
        settings: What every trial shares (data, split, epochs, time limit).
        config: The built-in network's settings (None for an own objective).
        space: The space searched: the one given, with the built-in network's conditions
            (:mod:`hpsearch.builtin.conditions`) for the network.
    """

    ref: str
    settings: Settings
    config: TrainConfig | None
    space: SearchSpace


def network_settings(config: TrainConfig) -> list[str]:
    """The fields of ``config`` that only the built-in network reads and that differ from its
    defaults: what an own objective would silently not use."""
    default = TrainConfig()
    own = set(Settings.field_names())
    return [
        f.name
        for f in dataclasses.fields(TrainConfig)
        if f.name not in own and getattr(config, f.name) != getattr(default, f.name)
    ]


def choose(objective: Any, config: Any, space: SearchSpace, fixed: Any = None) -> Chosen:
    """The objective, settings and (for the built-in network) network settings of a study.
    ``fixed`` values join the settings' own (``Settings.fixed``): an own objective finds them in
    ``trial.params``.

    Raises:
        ValueError: ``config`` is not a ``TrainConfig`` or ``Settings``; an own objective given
            network settings it would not use; fixed values for the built-in network, or a
            name both fixed and searched; a built-in study whose space names something that is
            not a training setting, or a value no network can take.
    """
    if config is not None and not isinstance(config, (TrainConfig, Settings)):
        raise ValueError(
            f"config must be a TrainConfig or a Settings, but got {type(config).__name__}"
        )
    if fixed:
        if objective is None and not isinstance(config, Settings):
            raise ValueError(
                "fixed values are given to your own objective (objective=...); the built-in "
                "network's settings go in config=TrainConfig(...)"
            )
        base = config if isinstance(config, Settings) else Settings.of(config or Settings())
        config = dataclasses.replace(base, fixed={**base.fixed, **Settings(fixed=fixed).fixed})
    if isinstance(config, Settings):
        both = sorted(set(config.fixed) & set(space.names))
        if both:
            raise ValueError(
                f"{', '.join(both)}: both fixed and searched; a value is fixed or searched"
            )
    if objective is not None:
        if isinstance(config, TrainConfig):
            unused = network_settings(config)
            if unused:
                raise ValueError(
                    f"config sets {', '.join(unused)}: settings of the built-in network, which "
                    "your own objective does not read; give config=Settings(...) with the data "
                    "and epochs only"
                )
        settings = Settings() if config is None else Settings.of(config)
        return Chosen(objective_ref(objective), settings, None, space)
    if isinstance(config, Settings):  # no network: trials trained elsewhere, told by hand
        return Chosen(TOLD, config, None, space)
    config = config or TrainConfig()
    config.check_space(space)
    return Chosen(BUILTIN, Settings.of(config), config, with_conditions(space, config))


def stored_config(data: Any, objective: str | None) -> TrainConfig | Settings:
    """The ``config`` a study definition stores: the built-in network's settings, or (for an
    own objective, or a study whose trials are told by hand) the settings every study has.

    Raises:
        ValueError, TypeError: Not such settings.
    """
    told = isinstance(data, dict) and set(data) <= set(Settings.field_names())
    return (Settings if objective or told else TrainConfig).from_json(data)


def runnable(objective: Any, config: TrainConfig | None) -> Callable[..., Any]:
    """The callable a trial runs: the user's (loaded from its file now: one that cannot load
    fails here, before anything is written), or the built-in network (``config``)."""
    if objective is None:
        if config is None:
            raise StudyError(
                "this study has no objective to train (config=Settings(...): its trials are "
                "trained by you and told with ask and tell); give objective= to train here"
            )
        return NetworkObjective(config)
    return portable(load_objective(objective) if isinstance(objective, str) else objective)
