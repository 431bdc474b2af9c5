"""Datasets by name: each source loaded as the arrays it holds, cached per process.

* ``"mnist"``: the first 10,000 training and 2,000 test images ship inside the package; more
  than 10,000 samples use full MNIST (60,000 + 10,000), downloaded by :mod:`hpsearch.data.download`.
  Both start with the same images, so a split of up to 10,000 samples is the same either way.
* ``"fashion-mnist"``: Zalando's Fashion-MNIST (60,000 + 10,000), downloaded the same way.
* ``"digits"``: scikit-learn's 8x8 digits (1,797 images, 0..16 scaled to [0, 1]); no test
  part, since the bundle is itself the test set of the UCI digits.
* a path ending in ``.npz``: the user's ``x_train``, ``y_train`` (optional ``x_test``,
  ``y_test``), read and checked by :mod:`hpsearch.data.npz`; images are flattened, uint8
  scaled by 1/255, floats taken as they are. The test part is for reporting.

The seeded train/validation split of these arrays, and the test part scaled the same way, are
:mod:`hpsearch.data.split`'s.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.data.download import PARTS, REMOTE_DATASETS, load_remote
from hpsearch.data.npz import read_user_npz

__all__ = [
    "DATASETS",
    "SUBSET_SIZE",
    "Dataset",
    "load_source",
    "source_key",
    "source_sizes",
]

DATASETS = ("digits", "fashion-mnist", "mnist")
SUBSET_SIZE = 10_000  # training images of the shipped MNIST subset
SUBSET_TEST_SIZE = 2_000  # its test images
DIGITS_SIZE = 1_797


@dataclass(frozen=True)
class Dataset:
    """Images as stored (uint8 or float, one row each), int64 labels; ``x_test`` None: no test
    part."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])


def _dataset(name: str, arrays: Mapping[str, np.ndarray]) -> Dataset:
    """The four arrays as the IDX files (and the shipped subset) hold them, images flattened."""
    x_train, y_train, x_test, y_test = (arrays[p] for p in PARTS)

    def flat(x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1)

    return Dataset(
        name, flat(x_train), y_train.astype(np.int64), flat(x_test), y_test.astype(np.int64)
    )


@functools.lru_cache(maxsize=1)
def _load_mnist_subset() -> Dataset:
    with (
        resources.files("hpsearch.data").joinpath("mnist_subset.npz").open("rb") as fh,
        np.load(fh) as d,
    ):
        return _dataset("mnist", d)


@functools.lru_cache(maxsize=1)
def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits  # imported on first use: scikit-learn is slow to load

    bunch = load_digits()
    # Pixel values are counts 0..16; dividing gives floats in [0, 1], which make_split keeps.
    x = (bunch.data / 16.0).astype(np.float32)
    return Dataset("digits", x, bunch.target.astype(np.int64))


@functools.lru_cache(maxsize=2)
def _load_npz(path: str, version: tuple[int, int]) -> Dataset:
    """A user's .npz, checked whole; ``version`` (mtime, size) has a changed file read again."""
    p = Path(path)
    return Dataset(str(p), *read_user_npz(p))


def source_key(name: str, samples: int | None) -> tuple[str, Any]:
    """The key of every per-process cache: a .npz's path and (mtime, size), else (name, MNIST
    subset?)."""
    if isinstance(name, str) and name.lower().endswith(".npz"):
        path = Path(name).expanduser()
        try:
            st = path.stat()
        except OSError:
            raise ValueError(
                f"dataset {name!r}: expected a .npz file at {str(path)!r}, but there is none"
            ) from None
        return str(path.resolve()), (st.st_mtime_ns, st.st_size)
    if name not in DATASETS:
        raise ValueError(
            f"unknown dataset {name!r}; expected one of {list(DATASETS)} or a path ending in .npz"
        )
    return name, name == "mnist" and (samples is None or samples <= SUBSET_SIZE)


def load_source(source: tuple[str, Any]) -> Dataset:
    """The dataset a :func:`source_key` names, loaded (cached per process)."""
    name, detail = source
    if name not in DATASETS:
        return _load_npz(name, detail)
    if name == "digits":
        return _load_digits()
    return _load_mnist_subset() if detail else _dataset(name, load_remote(name))


def source_sizes(source: tuple[str, Any]) -> tuple[int, int | None]:
    """Training and test images (None: no test part), known without downloading anything."""
    name, subset = source
    if name not in DATASETS:
        data = load_source(source)
        return data.n_train, None if data.x_test is None else len(data.x_test)
    if name == "digits":
        return DIGITS_SIZE, None
    return REMOTE_DATASETS[name].n_train, SUBSET_TEST_SIZE if subset else REMOTE_DATASETS[
        name
    ].n_test
