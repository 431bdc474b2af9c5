"""A tiny HTTP server on 127.0.0.1 for the download tests: serves bytes from a dict, logs requests.

Also the MNIST arrays the tests serve, made from ``../shared/data/mnist.npz`` beside the clone.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import os
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Never the user's ~/.cache, never the internet: an empty cache and a dead mirror by default.

    Autouse in every test module that imports it (test_data, test_download).
    """
    monkeypatch.setenv("HPSEARCH_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("HPSEARCH_MIRROR", "http://127.0.0.1:9/")  # discard port: refused at once


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` (uint8) in the IDX format: magic 0x0000, type 0x08, ndim, big-endian dims, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.tobytes()


def idx_gz(array: np.ndarray) -> bytes:
    # Level 1: the checksums are of the decoded arrays, so compression level does not matter.
    return gzip.compress(idx_bytes(array), compresslevel=1, mtime=0)


def shared_mnist() -> tuple[dict[str, np.ndarray], dict[str, bytes]]:
    """Full MNIST's four arrays and their IDX gz files (file name -> bytes); skips without them.

    On CI the file must be there: a missing one fails instead of skipping the download tests.
    """
    if not SHARED_MNIST.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED_MNIST} is missing; CI needs it beside the clone")
        pytest.skip(f"{SHARED_MNIST} not found")
    return _shared_mnist()


@functools.lru_cache(maxsize=1)
def _shared_mnist() -> tuple[dict[str, np.ndarray], dict[str, bytes]]:
    # Made once per session: compressing 60,000 images takes a while, and tests never change them.
    with np.load(SHARED_MNIST) as d:
        arrays = {k: d[k] for k in MNIST_FILES}
    for array in arrays.values():
        array.flags.writeable = False  # shared by every test: a test that changes one copies it
    return arrays, {MNIST_FILES[k]: idx_gz(v) for k, v in arrays.items()}


class FileServer:
    """Serves ``files`` (path without the leading slash -> bytes) on an ephemeral port.

    Attributes:
        requests: Every path asked for, in order.
        files: What is served; tests may swap it.
    """

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = dict(files)
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests.append(self.path)
                body = owner.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.thread.join(5)
        self.httpd.server_close()
