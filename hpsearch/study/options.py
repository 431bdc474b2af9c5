"""A study's arguments, checked in one place before anything is written.

Errors name the Python argument (``n_jobs``, ``val_ratio``) and say what was expected and what
was received; the command line maps those names to its flags.
"""

from __future__ import annotations

import itertools
import os
import warnings
from typing import Any

from hpsearch.data.split import check_split
from hpsearch.execution.pool import BACKENDS, local_workers
from hpsearch.records import Goal
from hpsearch.settings import positive_int
from hpsearch.space.search_space import SearchSpace, default_space
from hpsearch.strategies import STRATEGIES
from hpsearch.study.objectives import Chosen, choose
from hpsearch.study.pruning import Pruning

__all__ = ["ARGUMENTS", "CONFIRM_DEFAULTS", "check_arguments"]

# Far more trials (and repeats of a confirmed configuration) than a study can run; a larger
# number is a typo, not a plan, and would fill the memory with the plan alone.
MAX_TRIALS = 1_000_000
MAX_REPEATS = 10_000

#: The arguments of :func:`check_arguments`, which a :class:`~hpsearch.Study` hands on by name.
ARGUMENTS = (
    "strategy",
    "space",
    "n_trials",
    "n_jobs",
    "seed",
    "config",
    "backend",
    "scheduler",
    "prune",
    "min_epochs",
    "reduction_factor",
    "confirm",
    "repeats",
    "objective",
    "metric",
    "direction",
    "fixed",
)

#: The confirm stage of a new study, for each setting not given (a study opened again keeps
#: the settings stored in its definition, unless they are given again).
CONFIRM_DEFAULTS: dict[str, Any] = {
    "confirm": 5,
    "repeats": 3,
    "refit": False,
    "test_curves": False,
}


def _nonnegative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, but got {value!r}")
    return value


def check_arguments(
    *,
    strategy: str,
    space: Any,
    n_trials: Any,
    n_jobs: Any,
    seed: Any,
    config: Any,
    backend: str,
    scheduler: Any,
    prune: str,
    min_epochs: Any,
    reduction_factor: Any,
    confirm: Any,
    repeats: Any,
    objective: Any = None,
    metric: str = "val_acc",
    direction: str = "maximize",
    fixed: Any = None,
) -> tuple[SearchSpace, Chosen, int, Pruning, Goal]:
    """Checks a :class:`~hpsearch.Study`'s arguments; returns the space, the objective's
    settings (see :func:`hpsearch.study.objectives.choose`), n_jobs, pruning and what the study
    ranks by (``metric`` and ``direction``; the built-in network's is validation accuracy,
    maximised).

    Raises:
        ValueError: Any invalid argument.
    """
    aim = Goal(metric, direction)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {sorted(STRATEGIES)}")
    positive_int("n_trials", n_trials, upto=MAX_TRIALS)
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {list(BACKENDS)}")
    if n_jobs is None:
        n_jobs = -1 if backend == "dask" else 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all cores), but got {n_jobs!r}")
    _nonnegative_int("seed", seed)
    if confirm is not None:  # None: the study's own (stored, or the default)
        _nonnegative_int("confirm", confirm)
    if repeats is not None:
        positive_int("repeats", repeats, upto=MAX_REPEATS)
    if scheduler is not None and backend != "dask":
        raise ValueError(
            f"scheduler is only used with backend 'dask', but the backend is {backend!r}"
        )
    if backend == "dask" and scheduler is None:
        raise ValueError(
            "backend 'dask' needs a scheduler: an address tcp://HOST:PORT or a distributed.Client"
        )
    if space is None:
        space = default_space()
    elif not isinstance(space, SearchSpace):
        try:
            space = SearchSpace(space)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"space must be a SearchSpace or a mapping of names to dimensions: {exc}"
            ) from None
    chosen = choose(objective, config, space, fixed)
    space = chosen.space
    if backend == "threading" and objective is not None:
        raise ValueError(
            "backend 'threading' would run your objective's trials side by side in one "
            "process, sharing the global np.random that hpsearch seeds for each trial, so the "
            "numbers would change from run to run; use 'loky' (processes) or 'dask'"
        )
    if chosen.config is not None and aim != Goal():
        raise ValueError(
            f"metric={aim.metric!r}, direction={aim.direction!r}: the built-in network is ranked "
            "by val_acc, maximised; another metric needs your own objective (or trials you "
            "train yourself and tell: config=Settings(...))"
        )
    settings = chosen.settings
    # The splits the trials use: each searched size at its ends, the fixed ones as they are
    # (a batch size only where the built-in network has one).
    sizes = {"samples": settings.samples, "val_ratio": settings.val_ratio}
    if chosen.config is not None:
        sizes["batch_size"] = chosen.config.batch_size
    ends = [space[name].ends() if name in space else [value] for name, value in sizes.items()]
    for split in itertools.product(*ends):
        check_split(*split, searched="batch_size" in space)
    pruning = Pruning(prune, min_epochs, reduction_factor)
    pruning.check(settings.epochs)
    if backend != "dask" and n_jobs > local_workers(n_jobs):
        cores = os.cpu_count() or 1
        warnings.warn(
            f"n_jobs={n_jobs} exceeds the {cores} cores; running {cores} workers, "
            "since more would only slow every trial down",
            stacklevel=3,
        )
    return space, chosen, n_jobs, pruning, aim
