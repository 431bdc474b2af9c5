"""Datasets and the train/validation split.

Where the images come from, by the ``dataset`` name:

* ``"mnist"``: the first 10,000 training and 2,000 test images ship inside the package (uint8,
  compressed); asking for more than 10,000 samples uses full MNIST, downloaded once into the
  cache folder (``$HPSEARCH_DATA`` or ``~/.cache/hpsearch``) from public mirrors of the IDX gz
  files, checked against the SHA-256 of the decoded arrays. The first 10,000 images of both are
  the same, so a split of up to 10,000 samples does not depend on which one is used.
* ``"fashion-mnist"``: Zalando's Fashion-MNIST, downloaded and cached the same way, checked
  against the published MD5 of its gz files.
* ``"digits"``: scikit-learn's bundled 8x8 digits (1,797 images, values 0..16 scaled to [0, 1]).
* a path ending in ``.npz``: the user's arrays ``x_train``, ``y_train`` (optional ``x_test``,
  ``y_test``); images are flattened, uint8 are scaled by 1/255, floats taken as they are.

``HPSEARCH_MIRROR`` (one base URL, or several separated by commas or spaces) replaces the list
of mirrors. A machine with no internet access can copy the four gz files into
``<cache>/<name>/`` (for example ``~/.cache/hpsearch/mnist/train-images-idx3-ubyte.gz``): they
are checked and used in place of a download.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from hpsearch.seeding import SPLIT, rng_for

__all__ = [
    "Dataset",
    "Split",
    "DATASETS",
    "REMOTE_DATASETS",
    "SUBSET_SIZE",
    "load_dataset",
    "make_split",
    "check_dataset",
    "download",
    "cache_dir",
    "cached_path",
    "is_cached",
    "mirrors_for",
]

MNIST_SUBSET = "mnist_subset.npz"
SUBSET_SIZE = 10_000
DATA_ENV = "HPSEARCH_DATA"
MIRROR_ENV = "HPSEARCH_MIRROR"
TIMEOUT = 30.0  # seconds per connection attempt; a mirror that hangs is skipped


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


# --------------------------------------------------------------------------- remote datasets
PARTS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Remote:
    """A dataset published as four IDX gz files on one or more mirrors.

    Attributes:
        name: The dataset name.
        files: Array name to file name on the mirror.
        mirrors: Base URLs tried in order.
        digests: Array name to expected hex digest.
        check: ``"sha256-array"`` (SHA-256 of the decoded array's raw bytes, independent of how
            the gz file was compressed) or ``"md5-gz"`` (MD5 of the gz file as published).
        n_train: Training images.
    """

    name: str
    files: dict[str, str]
    mirrors: tuple[str, ...]
    digests: dict[str, str]
    check: str
    n_train: int


_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

REMOTE_DATASETS: dict[str, Remote] = {
    "mnist": Remote(
        "mnist",
        _IDX_FILES,
        (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        {
            "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
            "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
            "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
            "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
        },
        "sha256-array",
        60_000,
    ),
    "fashion-mnist": Remote(
        "fashion-mnist",
        _IDX_FILES,
        (
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        {
            "x_train": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "y_train": "25c81989df183df01b3e8a0aad5dffbe",
            "x_test": "bef4ecab320f06d8554ea6380940ec79",
            "y_test": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        "md5-gz",
        60_000,
    ),
}


def cache_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``path`` if given, else ``$HPSEARCH_DATA``, else ``~/.cache/hpsearch``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hpsearch"


def cached_path(name: str, cache: str | os.PathLike[str] | None = None) -> Path:
    """Where the decoded arrays of remote dataset ``name`` are cached (a compressed .npz)."""
    return cache_dir(cache) / f"{name}.npz"


def mirrors_for(name: str, mirrors: str | Sequence[str] | None = None) -> list[str]:
    """The base URLs to try for ``name``: ``mirrors``, else ``$HPSEARCH_MIRROR``, else the defaults."""
    if mirrors is None:
        mirrors = os.environ.get(MIRROR_ENV) or None
    if mirrors is None:
        return list(_remote(name).mirrors)
    if isinstance(mirrors, str):
        mirrors = mirrors.replace(",", " ").split()
    out = [m if m.endswith("/") else m + "/" for m in mirrors]
    if not out:
        raise ValueError(f"expected at least one mirror URL for {name!r}, but got {mirrors!r}")
    return out


def _remote(name: str) -> Remote:
    try:
        return REMOTE_DATASETS[name]
    except KeyError:
        raise ValueError(
            f"no download for dataset {name!r}; expected one of {sorted(REMOTE_DATASETS)}"
        ) from None


def _parse_idx(raw: bytes, what: str) -> np.ndarray:
    """Decodes an IDX file (big-endian header, then the array) of unsigned bytes."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{what}: expected an IDX file (magic 0x0000), but got {raw[:4].hex() or 'nothing'}")
    if raw[2] != 0x08:
        raise ValueError(f"{what}: expected IDX type 0x08 (unsigned byte), but got 0x{raw[2]:02x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{what}: truncated IDX header ({len(raw)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != size:
        raise ValueError(
            f"{what}: expected {size} bytes of data for shape {shape}, but got {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def _digest(remote: Remote, part: str, gz: bytes, array: np.ndarray) -> str:
    if remote.check == "md5-gz":
        return hashlib.md5(gz).hexdigest()
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _decode_and_check(remote: Remote, part: str, gz: bytes, source: str) -> np.ndarray:
    """The verified array in ``gz``; a ValueError naming the checksum if it does not match."""
    expected = remote.digests[part]
    if remote.check == "md5-gz":
        got = hashlib.md5(gz).hexdigest()
        if got != expected:
            raise ValueError(
                f"checksum mismatch for {source}: expected md5 {expected}, but got {got} (corrupt download)"
            )
    try:
        raw = gzip.decompress(gz)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(f"{source}: expected a gzip file, but it could not be read ({exc})") from None
    array = _parse_idx(raw, source)
    if remote.check == "sha256-array":
        got = hashlib.sha256(array.tobytes()).hexdigest()
        if got != expected:
            raise ValueError(
                f"checksum mismatch for {source}: expected sha256 {expected} of the decoded "
                f"array, but got {got} (corrupt download)"
            )
    return array


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310 (http(s) only)
        return response.read()


def _get_part(remote: Remote, part: str, local: Path, mirrors: list[str]) -> np.ndarray:
    """One verified array: from a gz file the user put in ``local``, else from the first mirror that works."""
    filename = remote.files[part]
    manual = local / filename
    if manual.is_file():
        return _decode_and_check(remote, part, manual.read_bytes(), str(manual))
    failures: list[str] = []
    corrupt: ValueError | None = None
    for base in mirrors:
        url = base + filename
        if not url.startswith(("http://", "https://", "file://")):
            raise ValueError(f"expected a mirror URL starting with http://, https:// or file://, but got {base!r}")
        try:
            gz = _fetch(url)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            failures.append(f"{url}: {reason}")
            continue
        try:
            return _decode_and_check(remote, part, gz, url)
        except ValueError as exc:
            corrupt = exc  # try the next mirror; refuse if none has a good copy
    if corrupt is not None:
        raise corrupt
    raise _OfflineError(remote.name, local, "; ".join(failures))


class _OfflineError(ValueError):
    def __init__(self, name: str, local: Path, reasons: str) -> None:
        files = ", ".join(_IDX_FILES.values())
        super().__init__(
            f"{name} is not in the cache {local.parent} and no mirror could be reached ({reasons}); "
            f"run `hpsearch data download {name}` when online (or copy the {name}.npz it makes "
            f"into {local.parent}/), or put the IDX files {files} in {local}/"
        )


_VALIDATED: set[tuple[str, int]] = set()


def _valid_cache(remote: Remote, path: Path) -> bool:
    """Whether ``path`` holds the four arrays (and, for MNIST, their known checksums).

    Checked once per file version and process: a study checks its dataset, then every trial
    of a worker loads it.
    """
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key in _VALIDATED:
        return True
    if _check_cache(remote, path):
        _VALIDATED.add(key)
        return True
    return False


def _check_cache(remote: Remote, path: Path) -> bool:
    try:
        with np.load(path) as d:
            arrays = {part: d[part] for part in PARTS}
    except Exception:  # a torn or foreign file is no cache: it is downloaded again
        return False
    if remote.check == "sha256-array":
        return all(
            hashlib.sha256(np.ascontiguousarray(arrays[p]).tobytes()).hexdigest() == remote.digests[p]
            for p in PARTS
        )
    return arrays["x_train"].shape[0] == arrays["y_train"].shape[0] == remote.n_train


def download(
    name: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    mirrors: str | Sequence[str] | None = None,
    force: bool = False,
) -> Path:
    """Downloads a dataset's IDX gz files, checks them, and caches the arrays as a compressed .npz.

    Does nothing but return the path when a valid cache already exists (unless ``force``).
    Nothing is written unless all four files arrive and match their checksums.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        cache_dir: The cache folder (default ``$HPSEARCH_DATA`` or ``~/.cache/hpsearch``).
        mirrors: Base URLs to try in order (default ``$HPSEARCH_MIRROR`` or the public mirrors).
        force: Download again even if cached.

    Returns:
        The path of the cached .npz.

    Raises:
        ValueError: Unknown dataset; no mirror reachable and no cache (offline); a file that
            fails its checksum or is not an IDX gz file.

    Example:
        >>> download("mnist")  # doctest: +SKIP
        PosixPath('/home/me/.cache/hpsearch/mnist.npz')
    """
    remote = _remote(name)
    folder = _cache_folder(cache_dir)
    path = folder / f"{name}.npz"
    if path.is_file() and not force and _valid_cache(remote, path):
        return path
    urls = mirrors_for(name, mirrors)
    arrays = {part: _get_part(remote, part, folder / name, urls) for part in PARTS}
    n_train, n_test = len(arrays["x_train"]), len(arrays["x_test"])
    if len(arrays["y_train"]) != n_train or len(arrays["y_test"]) != n_test:
        raise ValueError(
            f"{name}: expected as many labels as images, but got {n_train} train images with "
            f"{len(arrays['y_train'])} labels and {n_test} test images with {len(arrays['y_test'])}"
        )
    # Written under a temporary name and renamed: a reader (another worker) never sees half a
    # file, and concurrent downloads of the same dataset each write a whole one.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    except OSError as exc:
        raise ValueError(f"cannot write the {name} cache {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    _load_remote.cache_clear()
    return path


def _cache_folder(path: str | os.PathLike[str] | None) -> Path:
    # Named apart from the public ``cache_dir`` because ``download`` shadows it with its argument.
    return cache_dir(path)


def is_cached(name: str, cache: str | os.PathLike[str] | None = None) -> bool:
    """Whether remote dataset ``name`` is in the cache folder (not checked against its digests)."""
    return cached_path(name, cache).is_file()


@functools.lru_cache(maxsize=2)
def _load_remote(name: str, path: str, mtime_ns: int) -> Dataset:
    with np.load(path) as d:
        x_train, y_train, x_test, y_test = (d[p] for p in PARTS)
    return Dataset(
        name,
        x_train.reshape(len(x_train), -1),
        y_train.astype(np.int64),
        x_test.reshape(len(x_test), -1),
        y_test.astype(np.int64),
    )


def _load_remote_dataset(name: str) -> Dataset:
    """A remote dataset from the cache, downloaded first if it is not there."""
    path = download(name)
    return _load_remote(name, str(path), path.stat().st_mtime_ns)


# --------------------------------------------------------------------------- local datasets
@functools.lru_cache(maxsize=1)
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


@functools.lru_cache(maxsize=1)
def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel values are counts 0..16; dividing gives floats in [0, 1], which make_split keeps.
    x = (bunch.data / 16.0).astype(np.float32)
    return Dataset("digits", x, bunch.target.astype(np.int64))


def _labels(value: np.ndarray, key: str, path: Path, n: int) -> np.ndarray:
    y = np.asarray(value)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{path}: expected {key} as {n} integer labels, but got shape {y.shape}")
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu" or (n and y.min() < 0):
        raise ValueError(f"{path}: expected {key} as integer labels >= 0, but got dtype {y.dtype}"
                         + (f" with min {y.min()}" if n and y.dtype.kind in 'iu' else ""))
    return y.astype(np.int64)


def _images(value: np.ndarray, key: str, path: Path) -> np.ndarray:
    x = np.asarray(value)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"{path}: expected {key} as images (at least 2-d, one row per image), but got shape {x.shape}")
    x = x.reshape(len(x), -1)
    if x.dtype.kind in "iu" and x.dtype != np.uint8:
        low, high = int(x.min()), int(x.max())
        if low < 0 or high > 255:
            raise ValueError(
                f"{path}: expected integer {key} as bytes 0..255 (or floats already scaled), "
                f"but got values from {low} to {high}"
            )
        x = x.astype(np.uint8)
    elif x.dtype.kind == "f":
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{path}: expected finite values in {key}, but got NaN or infinity")
    elif x.dtype != np.uint8:
        raise ValueError(f"{path}: expected {key} as uint8 or float images, but got dtype {x.dtype}")
    return x


@functools.lru_cache(maxsize=2)
def _load_npz(path: str, mtime_ns: int) -> Dataset:
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as d:
            arrays = {k: d[k] for k in d.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"expected a NumPy .npz file at {p}, but it could not be read ({exc})") from None
    missing = [k for k in ("x_train", "y_train") if k not in arrays]
    if missing:
        raise ValueError(f"{p}: expected arrays x_train and y_train, but got {sorted(arrays)}")
    x_train = _images(arrays["x_train"], "x_train", p)
    y_train = _labels(arrays["y_train"], "y_train", p, len(x_train))
    x_test = y_test = None
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise ValueError(f"{p}: expected both x_test and y_test or neither, but got {sorted(arrays)}")
    if "x_test" in arrays:
        x_test = _images(arrays["x_test"], "x_test", p)
        y_test = _labels(arrays["y_test"], "y_test", p, len(x_test))
        if x_test.shape[1] != x_train.shape[1]:
            raise ValueError(
                f"{p}: expected x_test images of {x_train.shape[1]} values like x_train, "
                f"but got {x_test.shape[1]}"
            )
    return Dataset(str(p), x_train, y_train, x_test, y_test)


def _npz_key(name: str) -> tuple[str, int]:
    path = Path(name).expanduser()
    try:
        stat = path.stat()
    except OSError:
        raise ValueError(f"--dataset {name!r}: expected a .npz file at {str(path)!r}, but there is none") from None
    return str(path.resolve()), stat.st_mtime_ns


def _is_npz(name: str) -> bool:
    return isinstance(name, str) and name.lower().endswith(".npz")


# Each loader returns raw uint8 (or float) images; scaling happens in make_split.
DATASETS: dict[str, Callable[[], Dataset]] = {
    "mnist": _load_mnist_subset,
    "fashion-mnist": lambda: _load_remote_dataset("fashion-mnist"),
    "digits": _load_digits,
}
# How many training images each named dataset holds, known without loading it.
_SIZES = {"mnist": REMOTE_DATASETS["mnist"].n_train, "fashion-mnist": 60_000, "digits": 1797}


def _known() -> str:
    return f"one of {sorted(DATASETS)} or a path ending in .npz"


def load_dataset(name: str, samples: int | None = None) -> Dataset:
    """Loads a dataset by name (cached per process).

    Args:
        name: ``"mnist"``, ``"fashion-mnist"``, ``"digits"`` or a path ending in ``.npz``.
        samples: How many training images are needed; for ``"mnist"`` more than 10,000 selects
            full MNIST (downloaded into the cache if it is not there), otherwise the shipped subset.

    Raises:
        ValueError: The name is unknown, a file is missing or malformed, or a download is
            needed and fails.
    """
    if _is_npz(name):
        return _load_npz(*_npz_key(name))
    if name not in DATASETS:
        raise ValueError(f"unknown --dataset {name!r}; expected {_known()}")
    if name == "mnist" and samples is not None and samples > SUBSET_SIZE:
        return _load_remote_dataset("mnist")
    return DATASETS[name]()


def check_dataset(name: str, samples: int) -> None:
    """Refuses, before anything runs, a dataset that does not exist or is too small.

    Names and sizes are checked without loading or downloading anything; then a dataset that
    must come from the network (full MNIST beyond the shipped 10,000 images, Fashion-MNIST) is
    downloaded into the cache if it is not there yet, so that a study fails here, not in every
    trial, when the machine is offline.

    Raises:
        ValueError: Unknown dataset, more samples asked for than it holds, or a needed download
            that fails.
    """
    if _is_npz(name):
        available = load_dataset(name).n_train
    elif name not in DATASETS:
        raise ValueError(f"unknown --dataset {name!r}; expected {_known()}")
    else:
        available = _SIZES[name]
    if samples > available:
        raise ValueError(
            f"--samples {samples} asks for more images than dataset {name!r} holds ({available})"
        )
    if name == "fashion-mnist" or (name == "mnist" and samples > SUBSET_SIZE):
        download(name)


def make_split(name: str, samples: int, val_ratio: float, seed: int, dtype: str = "float32") -> Split:
    """The first ``samples`` training images, scaled to [0, 1], shuffled, split train/validation.

    The shuffle depends on ``seed`` alone, so every trial of a study sees the same split, on
    any worker. Cached per process: a worker builds it once, not once per trial (a user's .npz
    is read again when the file changes).

    Args:
        name: Dataset name or .npz path.
        samples: How many of the first training images to use.
        val_ratio: Share held out for validation, in (0, 1).
        seed: The study seed.
        dtype: Floating type of the features.

    Raises:
        ValueError: Bad ratio, too many samples, or a split that leaves a side empty.
    """
    version = _npz_key(name) if _is_npz(name) else None
    return _make_split(name, version, samples, val_ratio, seed, dtype)


@functools.lru_cache(maxsize=8)
def _make_split(
    name: str, version: tuple[str, int] | None, samples: int, val_ratio: float, seed: int, dtype: str
) -> Split:
    if not 0 < val_ratio < 1:
        raise ValueError(f"--val-ratio must lie in (0, 1), but got {val_ratio!r}")
    check_dataset(name, samples)
    data = load_dataset(name, samples)
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


make_split.cache_clear = _make_split.cache_clear  # type: ignore[attr-defined]
