"""Datasets by name, the seeded train/validation split, and the test part.

* ``"mnist"``: the first 10,000 training and 2,000 test images ship inside the package; more
  than 10,000 samples use full MNIST (60,000 + 10,000), downloaded by :mod:`hpsearch.data.download`.
  Both start with the same images, so a split of up to 10,000 samples is the same either way.
* ``"fashion-mnist"``: Zalando's Fashion-MNIST (60,000 + 10,000), downloaded the same way.
* ``"digits"``: scikit-learn's 8x8 digits (1,797 images, 0..16 scaled to [0, 1]); no test
  part, since the bundle is itself the test set of the UCI digits.
* a path ending in ``.npz``: the user's ``x_train``, ``y_train`` (optional ``x_test``,
  ``y_test``); images are flattened, uint8 scaled by 1/255, floats taken as they are; labels
  are class numbers in ``[0, MAX_CLASSES)``. The test part (:func:`load_test`) is for reporting.
"""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.data.download import PARTS, REMOTE_DATASETS, download, load_remote
from hpsearch.seeding import SPLIT, rng_for

__all__ = [
    "DATASETS",
    "MAX_CLASSES",
    "MIN_VAL",
    "SUBSET_SIZE",
    "Dataset",
    "Split",
    "check_dataset",
    "check_split",
    "load_dataset",
    "load_test",
    "make_split",
    "split_sizes",
    "test_size",
]

DATASETS = ("digits", "fashion-mnist", "mnist")
SUBSET_SIZE = 10_000  # training images of the shipped MNIST subset
SUBSET_TEST_SIZE = 2_000  # its test images
DIGITS_SIZE = 1_797
# A validation accuracy over fewer images moves in steps of more than 10 points: no ranking.
MIN_VAL = 10
# The output layer has one unit per class up to the largest label, so a label is a size: this
# bound (ImageNet has 1,000 classes) refuses ids such as 10**6 that would ask for terabytes.
MAX_CLASSES = 1_000
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # how a zip archive (an .npz) begins
NPY_MAGIC = b"\x93NUMPY"  # how a single array saved by np.save begins


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


def _labels(value: np.ndarray, key: str, path: Path, n: int) -> np.ndarray:
    y = np.asarray(value)
    y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{path}: expected {key} as {n} integer labels, but got shape {y.shape}")
    if y.dtype.kind not in "iuf":
        raise ValueError(f"{path}: expected {key} as integer labels, but got dtype {y.dtype}")
    bad = ~np.isfinite(y) | (y != np.round(y)) if y.dtype.kind == "f" else None
    if bad is not None and bad.any():
        raise ValueError(
            f"{path}: expected {key} as integer labels, "
            f"but got {y.dtype} values such as {y[bad][0]}"
        )
    low, high = y.min(), y.max()  # before any cast: a float 1e30 would wrap around as int64
    if low < 0 or high >= MAX_CLASSES:
        raise ValueError(
            f"{path}: expected {key} as class numbers in [0, {MAX_CLASSES}), "
            f"but got values from {int(low)} to {int(high)}"
        )
    return y.astype(np.int64)


def _images(value: np.ndarray, key: str, path: Path) -> np.ndarray:
    x = np.asarray(value)
    if x.ndim < 2 or x.size == 0:
        raise ValueError(
            f"{path}: expected {key} as images (at least 2-d, one row per image, at least "
            f"one value each), but got shape {x.shape}"
        )
    x = x.reshape(len(x), -1)
    if x.dtype.kind in "iu" and x.dtype != np.uint8:
        low, high = int(x.min()), int(x.max())
        if low < 0 or high > 255:
            raise ValueError(
                f"{path}: expected integer {key} as bytes 0..255 (or floats already scaled), "
                f"but got values from {low} to {high}"
            )
        x = x.astype(np.uint8)
    elif x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise ValueError(f"{path}: expected finite values in {key}, but got NaN or infinity")
    elif x.dtype.kind != "f" and x.dtype != np.uint8:
        raise ValueError(
            f"{path}: expected {key} as uint8 or float images, but got dtype {x.dtype}"
        )
    return x


def _read_npz(p: Path) -> dict[str, np.ndarray]:
    """The arrays of the .npz archive at ``p``, by name; a one-line ValueError for any other file.

    The file's first bytes are looked at before NumPy reads it: on a file that is not a zip
    archive (a text file, a pickle) NumPy's own error is advice on loading pickled data, which
    does not apply here: hpsearch reads arrays of numbers, never pickles.
    """
    try:
        with open(p, "rb") as fh:
            head = fh.read(len(NPY_MAGIC))
    except OSError as exc:
        raise ValueError(f"{p} could not be read: {exc.strerror or exc}") from None
    if not head.startswith(ZIP_MAGICS):
        if not head:
            raise ValueError(f"{p} is not an .npz archive: the file is empty")
        if head == NPY_MAGIC:
            raise ValueError(
                f"{p} is not an .npz archive: it holds one array saved by np.save; save "
                "x_train and y_train together with np.savez"
            )
        raise ValueError(f"{p} is not an .npz archive (np.savez writes one: a zip of named arrays)")
    arrays: dict[str, np.ndarray] = {}
    objects = None  # the first array of Python objects, which is refused
    try:
        with np.load(p, allow_pickle=False) as d:
            for key in d.files:
                try:
                    arrays[key] = d[key]
                except ValueError as exc:
                    if "pickle" not in str(exc):
                        raise
                    objects = key
                    break
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 (a torn zip: BadZipFile, EOFError, zlib.error, ...)
        text = str(exc).strip()
        detail = text.splitlines()[0] if text else type(exc).__name__
        if "pickle" in detail:
            detail = "an array could not be read"
        raise ValueError(f"{p} is a damaged .npz archive: {detail}") from None
    if objects is not None:
        raise ValueError(
            f"{p}: expected {objects} as an array of numbers, but it holds Python objects "
            "(dtype object)"
        )
    return arrays


@functools.lru_cache(maxsize=2)
def _load_npz(path: str, version: tuple[int, int]) -> Dataset:
    """A user's .npz, checked whole; ``version`` (mtime, size) has a changed file read again."""
    p = Path(path)
    arrays = _read_npz(p)
    if "x_train" not in arrays or "y_train" not in arrays:
        raise ValueError(f"{p}: expected arrays x_train and y_train, but got {sorted(arrays)}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise ValueError(
            f"{p}: expected both x_test and y_test or neither, but got {sorted(arrays)}"
        )
    x_train = _images(arrays["x_train"], "x_train", p)
    y_train = _labels(arrays["y_train"], "y_train", p, len(x_train))
    if "x_test" not in arrays:
        return Dataset(str(p), x_train, y_train)
    x_test = _images(arrays["x_test"], "x_test", p)
    y_test = _labels(arrays["y_test"], "y_test", p, len(x_test))
    if x_test.shape[1] != x_train.shape[1]:
        raise ValueError(
            f"{p}: expected x_test images of {x_train.shape[1]} values like x_train, "
            f"but got {x_test.shape[1]}"
        )
    if x_test.dtype.kind != x_train.dtype.kind:
        # Bytes are divided by 255, floats are not: mixed, test images would be scaled unlike
        # training ones.
        raise ValueError(
            f"{p}: expected x_test stored like x_train (both bytes 0..255 or both floats), "
            f"but got {x_test.dtype} and {x_train.dtype}"
        )
    return Dataset(str(p), x_train, y_train, x_test, y_test)


def _source(name: str, samples: int | None) -> tuple[str, Any]:
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


def _load(source: tuple[str, Any]) -> Dataset:
    name, detail = source
    if name not in DATASETS:
        return _load_npz(name, detail)
    if name == "digits":
        return _load_digits()
    return _load_mnist_subset() if detail else _dataset(name, load_remote(name))


def _check_available(name: str, source: tuple[str, Any], samples: int) -> None:
    if samples > (available := _sizes(source)[0]):
        raise ValueError(
            f"samples={samples} asks for more images than dataset {name!r} holds ({available})"
        )


def _sizes(source: tuple[str, Any]) -> tuple[int, int | None]:
    """Training and test images (None: no test part), known without downloading anything."""
    name, subset = source
    if name not in DATASETS:
        data = _load(source)
        return data.n_train, None if data.x_test is None else len(data.x_test)
    if name == "digits":
        return DIGITS_SIZE, None
    return REMOTE_DATASETS[name].n_train, SUBSET_TEST_SIZE if subset else REMOTE_DATASETS[
        name
    ].n_test


def load_dataset(name: str, samples: int | None = None) -> Dataset:
    """Loads a dataset by name (cached per process).

    Args:
        name: ``"mnist"``, ``"fashion-mnist"``, ``"digits"`` or a path ending in ``.npz``.
        samples: How many training images are needed; for ``"mnist"`` more than 10,000 selects
            full MNIST (downloaded into the cache if it is not there), otherwise the shipped subset.

    Returns:
        The images as stored (uint8 or float, one row each) and int64 labels.

    Raises:
        ValueError: Unknown name, a missing or malformed file, or a needed download that fails.
    """
    return _load(_source(name, samples))


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, but got {value!r}")
    return int(value)


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
    samples = _positive_int("samples", samples)
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


def check_split(samples: int, val_ratio: float, batch_size: int | None = None) -> tuple[int, int]:
    """Refuses a split too small to measure anything; warns if one batch exceeds the training part.

    Args:
        samples: Images in the split.
        val_ratio: Share held out for validation.
        batch_size: Images per training step, if known.

    Returns:
        ``(n_train, n_val)``, as :func:`split_sizes`.

    Raises:
        ValueError: As :func:`split_sizes`, or ``batch_size`` not a positive integer.
    """
    n_train, n_val = split_sizes(samples, val_ratio)
    # Warned, not refused: full-batch descent is well defined, only rarely what was meant.
    if batch_size is not None and _positive_int("batch_size", batch_size) > n_train:
        warnings.warn(
            f"batch_size={batch_size} exceeds the {n_train} training images of samples={samples} "
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
    samples = _positive_int("samples", samples)
    source = _source(name, samples)
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


def _scaled(x: np.ndarray, dtype: str) -> np.ndarray:
    # Integer images are 0..255; float datasets are taken as already scaled.
    scale = 255.0 if np.issubdtype(x.dtype, np.integer) else 1.0
    return (x.astype(dtype) / np.asarray(scale, dtype=dtype)).astype(dtype)


def make_split(
    name: str, samples: int, val_ratio: float, seed: int, dtype: str = "float32"
) -> Split:
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
    samples = _positive_int("samples", samples)
    return _make_split(name, _source(name, samples), samples, val_ratio, seed, dtype)


@functools.lru_cache(maxsize=8)
def _make_split(
    name: str, source: tuple[str, Any], samples: int, val_ratio: float, seed: int, dtype: str
) -> Split:
    _, n_val = split_sizes(samples, val_ratio)
    _check_available(name, source, samples)
    data = _load(source)
    x = _scaled(data.x_train[:samples], dtype)
    t = data.y_train[:samples]
    order = rng_for(seed, *SPLIT).permutation(samples)
    val, train = order[:n_val], order[n_val:]
    return Split(x[train], t[train], x[val], t[val])


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
        ValueError: As :func:`load_dataset`, or ``samples`` not a positive integer.
    """
    return _load_test(_source(name, _positive_int("samples", samples)), dtype)


@functools.lru_cache(maxsize=2)
def _load_test(source: tuple[str, Any], dtype: str) -> tuple[np.ndarray, np.ndarray] | None:
    data = _load(source)
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
    return _sizes(_source(name, _positive_int("samples", samples)))[1]


test_size.__test__ = False  # type: ignore[attr-defined]  # pytest: a function to import, not a test
