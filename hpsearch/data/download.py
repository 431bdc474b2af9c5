"""Downloading full MNIST and Fashion-MNIST: the mirrors, fetching over HTTP, the cache folder.

Only the datasets that do not ship with the package come through here. Each is published as
four IDX gz files; :func:`download` fetches them from the first mirror that answers, has
:mod:`hpsearch.data.idx` decode and check them, and caches the decoded arrays as one compressed
.npz in the cache folder (``$HPSEARCH_DATA`` or ``~/.cache/hpsearch``). :func:`load_remote`
gives the arrays, downloading first if needed. Each mirror is named on stderr as it is tried;
one that does not answer within :data:`TIMEOUT` seconds is skipped, and a download whose
mirrors all stay silent fails within :data:`PATIENCE`.

``HPSEARCH_MIRROR`` (one base URL, or several separated by commas or spaces) replaces the list
of mirrors. A machine with no internet access can copy the four gz files into
``<cache>/<name>/`` (for example ``~/.cache/hpsearch/mnist/train-images-idx3-ubyte.gz``): they
are checked and used in place of a download.
"""

from __future__ import annotations

import functools
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hpsearch.data.idx import array_sha256, decode_and_check
from hpsearch.storage.files import replacing

__all__ = [
    "PARTS",
    "REMOTE_DATASETS",
    "Remote",
    "cache_folder",
    "download",
    "load_remote",
    "mirrors_for",
]

DATA_ENV = "HPSEARCH_DATA"
MIRROR_ENV = "HPSEARCH_MIRROR"
# Seconds a mirror may take to answer (to connect, then each read); one that does not is skipped.
TIMEOUT = 6.0
# Seconds in all that a download waits on mirrors that do not answer before it gives up: a
# network that takes connections and never answers fails within this, whatever the mirrors.
PATIENCE = 20.0
PARTS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Remote:
    """A dataset published as four IDX gz files on one or more mirrors.

    Attributes:
        name: The dataset name.
        files: Array name (one of :data:`PARTS`) to file name on the mirror.
        mirrors: Base URLs tried in order.
        digests: Array name to expected hex digest.
        check: ``"sha256-array"`` (SHA-256 of the decoded array's raw bytes, independent of how
            the gz file was compressed) or ``"md5-gz"`` (MD5 of the gz file as published).
        n_train: Training images.
        n_test: Test images.
    """

    name: str
    files: Mapping[str, str]
    mirrors: tuple[str, ...]
    digests: Mapping[str, str]
    check: Literal["sha256-array", "md5-gz"]
    n_train: int
    n_test: int


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
        10_000,
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
        10_000,
    ),
}


# --------------------------------------------------------------------------- where from, where to
def cache_folder(path: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``path`` if given, else ``$HPSEARCH_DATA``, else ``~/.cache/hpsearch``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hpsearch"


def mirrors_for(name: str, mirrors: str | Sequence[str] | None = None) -> list[str]:
    """The base URLs to try for ``name``: ``mirrors``, else ``$HPSEARCH_MIRROR``, else the defaults.

    Args:
        name: A key of :data:`REMOTE_DATASETS`.
        mirrors: One string of URLs separated by commas or spaces, or a sequence of URLs.

    Returns:
        The URLs, each ending in ``/``.

    Raises:
        ValueError: Unknown dataset, no URL at all, or a URL that is not http(s):// or file://.
    """
    remote = _remote(name)
    if mirrors is None:
        mirrors = os.environ.get(MIRROR_ENV) or None
    if mirrors is None:
        return list(remote.mirrors)
    given = mirrors.replace(",", " ").split() if isinstance(mirrors, str) else list(mirrors)
    if not given:
        raise ValueError(f"expected at least one mirror URL for {name!r}, but got {mirrors!r}")
    for url in given:
        # Checked here, before any request, so that a typo is not found after a long download.
        if not url.startswith(("http://", "https://", "file://")):
            raise ValueError(
                f"expected a mirror URL starting with http://, https:// or file://, but got {url!r}"
            )
    return [url if url.endswith("/") else url + "/" for url in given]


def _remote(name: str) -> Remote:
    try:
        return REMOTE_DATASETS[name]
    except KeyError:
        raise ValueError(
            f"no download for dataset {name!r}; expected one of {sorted(REMOTE_DATASETS)}"
        ) from None


# --------------------------------------------------------------------------- one file
@dataclass
class _Patience:
    """Seconds still to be spent on mirrors that do not answer, over one download."""

    left: float


def _get_part(
    remote: Remote, part: str, local: Path, mirrors: list[str], patience: _Patience
) -> tuple[np.ndarray, str | None]:
    """One verified array, and the mirror it came from (None: a gz file the user put in
    ``local``): from that file, else from the first mirror that works.

    Each mirror is named on stderr as it is tried. A mirror waits at most :data:`TIMEOUT` seconds
    for an answer, and the time spent on mirrors that failed comes out of ``patience``: once it
    is spent, the mirrors left are not tried.
    """
    filename = remote.files[part]
    manual = local / filename
    if manual.is_file():
        gz = manual.read_bytes()
        return decode_and_check(gz, str(manual), remote.check, remote.digests[part]), None
    failures: list[str] = []
    corrupt: ValueError | None = None
    for base in mirrors:
        url = base + filename
        if patience.left <= 0:
            failures.append(
                f"{url}: not tried, {PATIENCE:g} s already spent on mirrors that did not answer"
            )
            continue
        wait = min(TIMEOUT, patience.left)
        print(
            f"hpsearch: downloading {remote.name}: {filename} from {base} "
            f"(up to {wait:.3g} s for an answer)",
            file=sys.stderr,
            flush=True,
        )
        start = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=wait) as response:  # noqa: S310 (schemes checked)
                gz = response.read()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            patience.left -= time.monotonic() - start
            failures.append(f"{url}: {getattr(exc, 'reason', exc)}")
            continue
        try:
            return decode_and_check(gz, url, remote.check, remote.digests[part]), base
        except ValueError as exc:
            corrupt = exc  # try the next mirror; refuse if none has a good copy
    if corrupt is not None:
        raise corrupt
    files = ", ".join(remote.files.values())
    raise ValueError(
        f"{remote.name} is not in the cache {local.parent} and no mirror could be reached "
        f"({'; '.join(failures)}); run `hpsearch data download {remote.name}` when online (or copy "
        f"the {remote.name}.npz it makes into {local.parent}/), "
        f"or put the IDX files {files} in {local}/"
    )


# --------------------------------------------------------------------------- the cache
def _version(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is replaced (inode, mtime, size); None when there is no file."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=2)
def _read_cache(
    name: str, path: str, version: tuple[int, int, int]
) -> dict[str, np.ndarray] | None:
    """The four arrays in a cache file if it is whole and matches ``name``; else None.

    Cached per file version and process: a study checks its dataset, then every trial of a
    worker loads it, and the file is read and verified once. The arrays are read-only, since
    every caller shares them.
    """
    remote = _remote(name)
    try:
        with np.load(path, allow_pickle=False) as d:
            arrays = {part: d[part] for part in PARTS}
    except Exception:  # a torn or foreign file is no cache: it is downloaded again
        return None
    if remote.check == "sha256-array":
        if any(array_sha256(arrays[p]) != remote.digests[p] for p in PARTS):
            return None
    # The MD5 digests are of the gz files, which are not kept: the sizes are what can be checked.
    elif not (
        len(arrays["x_train"]) == len(arrays["y_train"]) == remote.n_train
        and len(arrays["x_test"]) == len(arrays["y_test"]) == remote.n_test
    ):
        return None
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


def _cached(name: str, path: Path) -> dict[str, np.ndarray] | None:
    version = _version(path)
    return None if version is None else _read_cache(name, str(path.resolve()), version)


def _fetch_all(
    name: str, folder: Path, mirrors: str | Sequence[str] | None, force: bool
) -> tuple[Path, dict[str, np.ndarray]]:
    """The cache file of ``name`` in ``folder`` and its verified arrays, downloaded if needed."""
    path = folder / f"{name}.npz"
    arrays = None if force else _cached(name, path)
    if arrays is not None:
        return path, arrays
    remote = _remote(name)
    urls = mirrors_for(name, mirrors)
    patience = _Patience(PATIENCE)
    arrays = {}
    for part in PARTS:
        arrays[part], served = _get_part(remote, part, folder / name, urls, patience)
        if served is not None:  # the next files are asked of the mirror that answered first
            urls = [served, *(url for url in urls if url != served)]
    n_train, n_test = len(arrays["x_train"]), len(arrays["x_test"])
    if len(arrays["y_train"]) != n_train or len(arrays["y_test"]) != n_test:
        raise ValueError(
            f"{name}: expected as many labels as images, but got {n_train} train images with "
            f"{len(arrays['y_train'])} labels and {n_test} test images with {len(arrays['y_test'])}"
        )
    # Under a temporary name, then renamed: a reader (another worker) never sees half a file,
    # and concurrent downloads of the same dataset each write a whole one.
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with replacing(path) as tmp, open(tmp, "wb") as fh:
            # A file object, not the path: np.savez_compressed would append ".npz" to the name.
            # Any, not ndarray: its keyword ``allow_pickle`` is a bool, and mypy cannot tell
            # that no array is named so (they are the PARTS).
            parts: dict[str, Any] = arrays
            np.savez_compressed(fh, **parts)
    except OSError as exc:
        raise ValueError(f"cannot write the {name} cache {path}: {exc.strerror or exc}") from None
    for array in arrays.values():
        array.flags.writeable = False  # as when read from the cache: one rule for every caller
    return path, arrays


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
            fails its checksum or is not an IDX gz file; a cache that cannot be written.

    Example:
        >>> download("mnist")  # doctest: +SKIP
        PosixPath('/home/me/.cache/hpsearch/mnist.npz')
    """
    _remote(name)  # an unknown name is refused before the cache folder is looked at
    return _fetch_all(name, cache_folder(cache_dir), mirrors, force)[0]


def load_remote(name: str) -> dict[str, np.ndarray]:
    """The verified arrays of a downloadable dataset, from the cache, downloaded first if needed.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.

    Returns:
        ``x_train``, ``y_train``, ``x_test``, ``y_test`` as the IDX files hold them (uint8,
        images 3-d), read-only: callers share them through the per-process cache.

    Raises:
        ValueError: As :func:`download`.
    """
    _remote(name)
    return _fetch_all(name, cache_folder(), None, False)[1]
