"""Datasets and the train/validation split.

The package ships the first 10,000 training and first 2,000 test images of MNIST (uint8,
compressed) and reads only that copy at run time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np

from hpsearch.seeding import SPLIT, rng_for

__all__ = ["Dataset", "Split", "DATASETS", "load_dataset", "make_split", "check_dataset"]

MNIST_SUBSET = "mnist_subset.npz"


@dataclass(frozen=True)
class Dataset:
    """Training images as flat rows and their integer labels (the test part is kept apart)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])


@dataclass(frozen=True)
class Split:
    """The arrays one trial trains on: scaled features and integer labels."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_val: np.ndarray
    t_val: np.ndarray

    @property
    def input_size(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return int(max(self.t_train.max(), self.t_val.max())) + 1


def _load_mnist_subset() -> Dataset:
    with resources.files("hpsearch._data").joinpath(MNIST_SUBSET).open("rb") as fh:
        with np.load(fh) as d:
            return Dataset(
                "mnist",
                d["x_train"].reshape(len(d["x_train"]), -1),
                d["y_train"].astype(np.int64),
                d["x_test"].reshape(len(d["x_test"]), -1),
                d["y_test"].astype(np.int64),
            )


# Each loader returns raw uint8 (or float) images; scaling happens in make_split.
DATASETS = {"mnist": _load_mnist_subset}


@functools.lru_cache(maxsize=4)
def load_dataset(name: str) -> Dataset:
    """Loads a dataset by name, once per process.

    Raises:
        ValueError: The name is unknown.
    """
    try:
        loader = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}") from None
    return loader()


def check_dataset(name: str, samples: int) -> None:
    """Refuses, before anything runs, a dataset that does not exist or is too small.

    Raises:
        ValueError: Unknown dataset, or more samples asked for than it holds.
    """
    available = load_dataset(name).n_train
    if samples > available:
        raise ValueError(
            f"--samples {samples} asks for more images than dataset {name!r} holds ({available})"
        )


@functools.lru_cache(maxsize=8)
def make_split(name: str, samples: int, val_ratio: float, seed: int, dtype: str = "float32") -> Split:
    """The first ``samples`` training images, scaled to [0, 1], shuffled, split train/validation.

    The shuffle depends on ``seed`` alone, so every trial of a study sees the same split, on
    any worker. Cached per process: a worker builds it once, not once per trial.

    Args:
        name: Dataset name.
        samples: How many of the first training images to use.
        val_ratio: Share held out for validation, in (0, 1).
        seed: The study seed.
        dtype: Floating type of the features.

    Raises:
        ValueError: Bad ratio, too many samples, or a split that leaves a side empty.
    """
    if not 0 < val_ratio < 1:
        raise ValueError(f"--val-ratio must lie in (0, 1), but got {val_ratio!r}")
    check_dataset(name, samples)
    data = load_dataset(name)
    x = data.x_train[:samples]
    t = data.y_train[:samples]
    # Integer images are 0..255; float datasets are taken as already scaled.
    scale = 255.0 if np.issubdtype(x.dtype, np.integer) else 1.0
    x = (x.astype(dtype) / np.asarray(scale, dtype=dtype)).astype(dtype)
    order = rng_for(seed, *SPLIT).permutation(samples)
    n_val = int(round(samples * val_ratio))
    if n_val < 1 or n_val >= samples:
        raise ValueError(
            f"--val-ratio {val_ratio} of {samples} samples leaves {samples - n_val} for training "
            f"and {n_val} for validation; both need at least one"
        )
    val, train = order[:n_val], order[n_val:]
    return Split(x[train], t[train], x[val], t[val])
