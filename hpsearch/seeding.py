"""Every random stream of a study, derived from the study seed alone.

One :class:`numpy.random.SeedSequence` per study; each trial number gets its own children, so a
trial's draws depend on the study seed and its number only, never on which worker ran it or on
how many workers there were.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "rng_for",
    "seed_for",
    "stream",
    "TRAIN",
    "PARAMS",
    "REPEAT",
    "REFIT",
    "SPLIT",
    "STRATEGY",
]

# The last entry of a spawn key names the stream; keys of different length never collide.
# Search trials: (number, TRAIN | PARAMS); confirm-stage runs: (number, repeat, REPEAT | REFIT).
TRAIN, PARAMS = 0, 1
REPEAT, REFIT = 0, 1
SPLIT, STRATEGY = (2,), (3,)


def stream(seed: int, *key: int) -> np.random.SeedSequence:
    """The seed sequence of the stream ``key`` of the study seeded with ``seed``: what
    :func:`rng_for` and :func:`seed_for` draw from."""
    return np.random.SeedSequence(seed, spawn_key=key)


def rng_for(seed: int, *key: int) -> np.random.Generator:
    """A generator for the stream ``key`` of the study seeded with ``seed``.

    Example:
        >>> a = rng_for(7, 12, TRAIN).integers(1000)
        >>> b = rng_for(7, 12, TRAIN).integers(1000)
        >>> bool(a == b)
        True
    """
    return np.random.default_rng(stream(seed, *key))


def seed_for(seed: int, *key: int) -> int:
    """The integer seed of the stream ``key`` (as :func:`rng_for` draws it), for a user's
    objective: it seeds the global ``np.random`` and ``random`` generators, which take an int.

    Example:
        >>> seed_for(7, 12, TRAIN) == seed_for(7, 12, TRAIN)
        True
    """
    return int(stream(seed, *key).generate_state(1)[0])
