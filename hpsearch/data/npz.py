"""A user's .npz file, read and checked whole before any trial trains on it.

The file must hold ``x_train`` and ``y_train`` (optional ``x_test``, ``y_test``). Images are
flattened to one row each; integer images must be bytes 0..255, floats finite; labels are class
numbers in ``[0, MAX_CLASSES)``. Every refusal is a one-line ValueError naming the file and
the array. Nothing is unpickled: an array of Python objects is refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpsearch.exceptions import first_line

__all__ = ["MAX_CLASSES", "read_user_npz"]

# The output layer has one unit per class up to the largest label, so a label is a size: this
# bound (ImageNet has 1,000 classes) refuses ids such as 10**6 that would ask for terabytes.
MAX_CLASSES = 1_000
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # how a zip archive (an .npz) begins
NPY_MAGIC = b"\x93NUMPY"  # how a single array saved by np.save begins


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
        detail = first_line(exc)
        if "pickle" in detail:
            detail = "an array could not be read"
        raise ValueError(f"{p} is a damaged .npz archive: {detail}") from None
    if objects is not None:
        raise ValueError(
            f"{p}: expected {objects} as an array of numbers, but it holds Python objects "
            "(dtype object)"
        )
    return arrays


def read_user_npz(
    p: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The checked ``x_train``, ``y_train``, ``x_test``, ``y_test`` of the .npz at ``p`` (the
    last two None when the file has no test part).

    Raises:
        ValueError: A file that is not an .npz archive, a missing array, or malformed images or
            labels.
    """
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
        return x_train, y_train, None, None
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
    return x_train, y_train, x_test, y_test
