"""The seeded train/validation split a trial trains on, its checks, and the test part.

:func:`make_split` takes the first ``samples`` training images of a dataset
(:mod:`hpsearch.data.datasets`), scales them to [0, 1], shuffles them by the study seed alone
and holds out ``val_ratio`` of them for validation, so that every trial sees the same split on
any worker. :func:`check_split` and :func:`check_dataset` refuse, before anything runs, a split
too small to rank anything or a dataset that cannot give it. :func:`load_test` gives the test
part, scaled the same way, for reporting only.
"""

from __future__ import annotations

import functools
import numbers
import warnings
from typing import Any

import numpy as np

from hpsearch.data.datasets import load_source, source_key, source_sizes
from hpsearch.data.download import REMOTE_DATASETS, download
from hpsearch.seeding import SPLIT, rng_for
from hpsearch.settings import positive_int
from hpsearch.trial import TrialData

__all__ = [
    "MIN_VAL",
    "check_dataset",
    "check_split",
    "load_test",
    "make_split",
    "split_sizes",
    "test_size",
]

# A validation accuracy over fewer images moves in steps of more than 10 points: no ranking.
MIN_VAL = 10


def split_sizes(samples: int, val_ratio: float) -> tuple[int, int]:
    """How many of ``samples`` images train and how many validate: the one rule for both.

    Args:
        samples: Images in the split.
        val_ratio: Share held out for validation, in (0, 1); the count is rounded.

    Returns:
        ``(n_train, n_val)``.

    Raises:
        ValueError: Not a positive ``samples``, ``val_ratio`` outside (0, 1), fewer than
            :data:`MIN_VAL` validation images, or no training image left.
    """
    samples = positive_int("samples", samples)
    if (
        isinstance(val_ratio, bool)
        or not isinstance(val_ratio, numbers.Real)
        or not 0 < val_ratio < 1
    ):
        raise ValueError(f"val_ratio must lie in (0, 1), but got {val_ratio!r}")
    n_val = int(round(samples * val_ratio))
    given = f"samples={samples} with val_ratio={val_ratio}"
    if n_val < MIN_VAL:
        raise ValueError(
            f"{given} holds out {n_val} validation images; expected at least {MIN_VAL} "
            f"(samples >= {_least_samples(val_ratio)} at this val_ratio)"
        )
    if n_val >= samples:
        raise ValueError(
            f"{given} holds out all {samples} images for validation; expected at least "
            f"one training image (a smaller val_ratio)"
        )
    return samples - n_val, n_val


def _least_samples(val_ratio: float) -> int:
    # Rounding makes a closed form fiddly; from just below the bound a few steps find it.
    n = max(MIN_VAL + 1, int((MIN_VAL - 0.5) / val_ratio), int(0.5 / (1 - val_ratio)))
    while not MIN_VAL <= int(round(n * val_ratio)) < n:
        n += 1
    return n


def check_split(
    samples: int, val_ratio: float, batch_size: int | None = None, *, searched: bool = False
) -> tuple[int, int]:
    """Refuses a split too small to measure anything; warns if one batch exceeds the training part.

    Args:
        samples: Images in the split.
        val_ratio: Share held out for validation.
        batch_size: Images per training step, if known.
        searched: ``batch_size`` is a value of the search space (said so in the warning, which
            would otherwise read as the fixed setting).

    Returns:
        ``(n_train, n_val)``, as :func:`split_sizes`.

    Raises:
        ValueError: As :func:`split_sizes`, or ``batch_size`` not a positive integer.
    """
    n_train, n_val = split_sizes(samples, val_ratio)
    # Warned, not refused: full-batch descent is well defined, only rarely what was meant.
    if batch_size is not None and positive_int("batch_size", batch_size) > n_train:
        said = f"the searched batch_size {batch_size}" if searched else f"batch_size={batch_size}"
        warnings.warn(
            f"{said} exceeds the {n_train} training images of samples={samples} "
            f"with val_ratio={val_ratio}; every step trains on all of them",
            UserWarning,
            stacklevel=2,
        )
    return n_train, n_val


def check_dataset(
    name: str, samples: int, *, val_ratio: float | None = None, batch_size: int | None = None
) -> None:
    """Refuses, before anything runs, a dataset that does not exist, is malformed or too small.

    Sizes are checked without downloading (a user's .npz is read and checked whole); then a
    dataset that must come from the network is downloaded if it is not cached, so that an offline
    study fails here, not in every trial. Without ``val_ratio``, only that some ratio can work.

    Args:
        name: Dataset name or .npz path.
        samples: How many of the first training images a trial uses.
        val_ratio: The share held out for validation, if fixed.
        batch_size: Images per training step, if fixed (checked with ``val_ratio``).

    Raises:
        ValueError: Unknown dataset, a malformed .npz, more samples asked for than it holds, a
            split too small, or a needed download that fails.
    """
    samples = positive_int("samples", samples)
    source = source_key(name, samples)
    _check_available(name, source, samples)
    if val_ratio is not None:
        check_split(samples, val_ratio, batch_size)
    elif samples <= MIN_VAL:
        raise ValueError(
            f"samples={samples} cannot hold out {MIN_VAL} validation images and train on "
            f"the rest; expected samples > {MIN_VAL}"
        )
    if source[0] in REMOTE_DATASETS and not source[1]:
        download(name)


def _check_available(name: str, source: tuple[str, Any], samples: int) -> None:
    if samples > (available := source_sizes(source)[0]):
        raise ValueError(
            f"samples={samples} asks for more images than dataset {name!r} holds ({available})"
        )


def _scaled(x: np.ndarray, dtype: str) -> np.ndarray:
    # Integer images are 0..255; float datasets are taken as already scaled.
    scale = 255.0 if np.issubdtype(x.dtype, np.integer) else 1.0
    return (x.astype(dtype) / np.asarray(scale, dtype=dtype)).astype(dtype)


def make_split(
    name: str, samples: int, val_ratio: float, seed: int, dtype: str = "float32"
) -> TrialData:
    """The first ``samples`` training images, scaled to [0, 1], shuffled, split train/validation.

    The shuffle depends on ``seed`` alone, so every trial sees the same split on any worker.
    Cached per process: a worker builds it once, not once per trial (a changed .npz is reread).

    Args:
        name: Dataset name or .npz path.
        samples: How many of the first training images to use.
        val_ratio: Share held out for validation, in (0, 1).
        seed: The study seed.
        dtype: Floating type of the features.

    Raises:
        ValueError: Unknown or malformed dataset, too many samples, a split too small
            (:func:`split_sizes`), or a download that fails.
    """
    samples = positive_int("samples", samples)
    return _make_split(name, source_key(name, samples), samples, val_ratio, seed, dtype)


@functools.lru_cache(maxsize=8)
def _make_split(
    name: str, source: tuple[str, Any], samples: int, val_ratio: float, seed: int, dtype: str
) -> TrialData:
    _, n_val = split_sizes(samples, val_ratio)
    _check_available(name, source, samples)
    data = load_source(source)
    x = _scaled(data.x_train[:samples], dtype)
    t = data.y_train[:samples]
    order = rng_for(seed, *SPLIT).permutation(samples)
    val, train = order[:n_val], order[n_val:]
    return TrialData(x[train], t[train], x[val], t[val])


def load_test(
    name: str, samples: int, dtype: str = "float32"
) -> tuple[np.ndarray, np.ndarray] | None:
    """The dataset's test images and labels, for reporting only; None if it has none.

    Scaled exactly as :func:`make_split` scales training images; never part of the split. MNIST:
    the shipped subset's 2,000 if ``samples <= 10,000``, else 10,000; Fashion-MNIST: 10,000; a
    .npz: its ``x_test``/``y_test``; digits: none. Cached per process like the split.

    Args:
        name: Dataset name or .npz path.
        samples: The study's training samples (for ``"mnist"`` it picks the subset or full MNIST).
        dtype: Floating type of the images.

    Returns:
        ``(x_test, t_test)``, flat rows and int64 labels, read-only (shared in the process); or
        None.

    Raises:
        ValueError: As :func:`hpsearch.data.datasets.load_source`, or ``samples`` not a
            positive integer.
    """
    return _load_test(source_key(name, positive_int("samples", samples)), dtype)


@functools.lru_cache(maxsize=2)
def _load_test(source: tuple[str, Any], dtype: str) -> tuple[np.ndarray, np.ndarray] | None:
    data = load_source(source)
    if data.x_test is None or data.y_test is None:
        return None
    x, t = _scaled(data.x_test, dtype), data.y_test.view()
    x.flags.writeable = t.flags.writeable = False
    return x, t


def test_size(name: str, samples: int) -> int | None:
    """How many test images :func:`load_test` gives (None: no test part), without downloading.

    Args:
        name: Dataset name or .npz path (a user's file is read).
        samples: The study's training samples.

    Raises:
        ValueError: Unknown dataset, a missing or malformed .npz, or ``samples`` not positive.
    """
    return source_sizes(source_key(name, positive_int("samples", samples)))[1]


test_size.__test__ = False  # type: ignore[attr-defined]  # pytest: a function to import, not a test
