"""Datasets: the shipped subset, full MNIST downloaded from a local server, digits, a user .npz."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from _data_server import FileServer, idx_gz
from hpsearch import data
from hpsearch.data import check_dataset, download, load_dataset, make_split
from hpsearch.config import TrainConfig
from hpsearch.training import train_trial
from hpsearch.trial import TrialState

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
FILES = data.REMOTE_DATASETS["mnist"].files


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Never the user's ~/.cache, never the internet: an empty cache and a dead mirror by default."""
    monkeypatch.setenv("HPSEARCH_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("HPSEARCH_MIRROR", "http://127.0.0.1:9/")  # discard port: refused at once


@pytest.fixture(scope="module")
def mnist_gz():
    """The four IDX gz files of MNIST, made from ../shared/data/mnist.npz."""
    if not SHARED_MNIST.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED_MNIST} is missing; CI needs it beside the clone")
        pytest.skip(f"{SHARED_MNIST} not found")
    with np.load(SHARED_MNIST) as d:
        arrays = {k: d[k] for k in data.PARTS}
    return arrays, {FILES[k]: idx_gz(v) for k, v in arrays.items()}


@pytest.fixture
def server(mnist_gz):
    srv = FileServer(mnist_gz[1])
    yield srv
    srv.stop()


def test_shipped_subset_needs_no_download():
    check_dataset("mnist", 10_000)
    d = load_dataset("mnist", 10_000)
    assert d.n_train == 10_000 and d.x_train.shape[1] == 784 and d.x_train.dtype == np.uint8
    split = make_split("mnist", 500, 0.2, 0)
    assert split.x_train.shape == (400, 784) and split.x_val.shape == (100, 784)
    assert 0.0 <= split.x_train.min() and split.x_train.max() <= 1.0


def test_unknown_dataset_and_too_many_samples_refused_without_network(tmp_path, monkeypatch):
    srv = FileServer({})
    try:
        monkeypatch.setenv("HPSEARCH_MIRROR", srv.url)
        with pytest.raises(ValueError, match=r"unknown --dataset 'cifar'; expected one of \['digits', 'fashion-mnist', 'mnist'\] or a path"):
            check_dataset("cifar", 10)
        with pytest.raises(ValueError, match=r"--samples 70000 .* holds \(60000\)"):
            check_dataset("mnist", 70_000)
        with pytest.raises(ValueError, match=r"--samples 2000 .* holds \(1797\)"):
            check_dataset("digits", 2000)
        with pytest.raises(ValueError, match=r"expected a .npz file at .*nothing.npz"):
            check_dataset(str(tmp_path / "nothing.npz"), 10)
        assert srv.requests == []
    finally:
        srv.stop()
    assert not (tmp_path / "cache").exists()


def test_full_mnist_download_checksum_and_cache_hit(server, mnist_gz, tmp_path, monkeypatch):
    arrays = mnist_gz[0]
    cache = tmp_path / "cache"
    # The first mirror is dead; the second (the local server) answers.
    monkeypatch.setenv("HPSEARCH_MIRROR", f"http://127.0.0.1:9/ {server.url}")
    path = download("mnist")
    assert path == cache / "mnist.npz" and path.is_file()
    assert sorted(server.requests) == sorted("/" + f for f in FILES.values())
    with np.load(path) as d:
        for k in data.PARTS:
            np.testing.assert_array_equal(d[k], arrays[k])

    # Second call, and everything that needs full MNIST: served from the cache, no request.
    server.requests.clear()
    assert download("mnist") == path
    check_dataset("mnist", 20_000)
    full = load_dataset("mnist", 20_000)
    assert server.requests == []
    assert full.n_train == 60_000
    # The shipped subset is the first 10,000 images: splits up to that size do not change.
    subset = load_dataset("mnist")
    np.testing.assert_array_equal(full.x_train[:10_000], subset.x_train)
    np.testing.assert_array_equal(full.y_train[:10_000], subset.y_train)

    result = train_trial(TrainConfig(samples=12_000, epochs=1, hidden=(20,)), {"lr": 0.1}, 0, 0)
    assert result.state is TrialState.COMPLETE, result.error
    assert server.requests == []


def test_automatic_download_when_a_study_needs_more_images(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HPSEARCH_MIRROR", server.url)
    check_dataset("mnist", 30_000)
    assert len(server.requests) == 4
    assert (tmp_path / "cache" / "mnist.npz").is_file()


def test_corrupt_download_refused_and_not_cached(server, mnist_gz, tmp_path, monkeypatch):
    arrays = mnist_gz[0]
    bad = arrays["x_train"].copy()
    bad[123, 14, 14] ^= 0xFF
    server.files[FILES["x_train"]] = idx_gz(bad)
    monkeypatch.setenv("HPSEARCH_MIRROR", server.url)
    with pytest.raises(ValueError, match=r"checksum mismatch .*train-images-idx3-ubyte.gz.*expected sha256 741c98"):
        download("mnist")
    assert not (tmp_path / "cache" / "mnist.npz").exists()
    # Not gzip at all: refused as well, in one line.
    server.files[FILES["x_train"]] = b"<html>not found</html>"
    with pytest.raises(ValueError, match=r"expected a gzip file") as info:
        download("mnist")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "cache" / "mnist.npz").exists()


def test_offline_with_no_cache_says_how_to_get_the_files(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HPSEARCH_MIRROR", server.url)
    server.stop()
    with pytest.raises(ValueError, match=r"hpsearch data download mnist") as info:
        download("mnist")
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "cache") in message
    with pytest.raises(ValueError, match=r"hpsearch data download mnist"):
        check_dataset("mnist", 20_000)
    # A trial never raises: it records the reason.
    data._make_split.cache_clear()
    result = train_trial(TrainConfig(samples=20_000, epochs=1, hidden=(5,)), {}, 0, 0)
    assert result.state is TrialState.FAILED and "hpsearch data download mnist" in result.error
    assert not (tmp_path / "cache" / "mnist.npz").exists()


def test_gz_files_put_in_the_cache_by_hand_are_used_offline(mnist_gz, tmp_path):
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    for name, body in mnist_gz[1].items():
        (folder / name).write_bytes(body)
    path = download("mnist")  # the mirror is dead: only the local files can serve
    assert path.is_file()


def _fake_fashion(monkeypatch, server_files: dict[str, bytes]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 60, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 20, dtype=np.uint8),
    }
    digests = {}
    for part, array in arrays.items():
        gz = idx_gz(array)
        server_files[FILES[part]] = gz
        digests[part] = hashlib.md5(gz).hexdigest()
    remote = dataclasses.replace(data.REMOTE_DATASETS["fashion-mnist"], digests=digests, n_train=60)
    monkeypatch.setitem(data.REMOTE_DATASETS, "fashion-mnist", remote)
    return arrays


def test_fashion_mnist_checks_md5_of_the_gz_files(tmp_path, monkeypatch):
    assert data.REMOTE_DATASETS["fashion-mnist"].digests["x_train"] == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
    srv = FileServer({})
    try:
        arrays = _fake_fashion(monkeypatch, srv.files)
        good = dict(srv.files)
        srv.files[FILES["y_test"]] = gzip.compress(b"\0\0\x08\x01" + b"\0\0\0\x14" + bytes(20))
        with pytest.raises(ValueError, match=r"checksum mismatch .*t10k-labels.*expected md5"):
            download("fashion-mnist", mirrors=[srv.url])
        assert not (tmp_path / "cache" / "fashion-mnist.npz").exists()
        srv.files = good
        path = download("fashion-mnist", mirrors=srv.url)
        with np.load(path) as d:
            np.testing.assert_array_equal(d["x_test"], arrays["x_test"])
        srv.requests.clear()
        d = load_dataset("fashion-mnist")
        assert d.x_train.shape == (60, 784) and srv.requests == []
    finally:
        srv.stop()


def test_download_refuses_unknown_name():
    with pytest.raises(ValueError, match=r"no download for dataset 'digits'; expected one of"):
        download("digits")


def test_digits_end_to_end():
    d = load_dataset("digits")
    assert d.x_train.shape == (1797, 64) and d.x_train.dtype.kind == "f"
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    check_dataset("digits", 1797)
    result = train_trial(
        TrainConfig(dataset="digits", samples=1000, epochs=2, hidden=(20,)), {"lr": 0.1}, 0, 0
    )
    assert result.state is TrialState.COMPLETE, result.error
    assert result.epochs == 2 and result.val_acc > 0.3


def test_user_npz_end_to_end(tmp_path):
    rng = np.random.default_rng(1)
    # Two separable classes of 6x6 uint8 images: bright on the left or on the right.
    y = rng.integers(0, 2, 300)
    x = rng.integers(0, 60, (300, 6, 6)).astype(np.uint8)
    x[y == 0, :, :3] += 180
    x[y == 1, :, 3:] += 180
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    d = load_dataset(str(path))
    assert d.x_train.shape == (300, 36) and d.x_test.shape == (10, 36)
    split = make_split(str(path), 200, 0.25, 0)
    assert split.x_train.max() <= 1.0 and split.n_classes == 2 and split.input_size == 36
    result = train_trial(
        TrainConfig(dataset=str(path), samples=300, epochs=2, hidden=(20,), batch_size=20),
        {"lr": 0.1}, 0, 0,
    )
    assert result.state is TrialState.COMPLETE, result.error
    assert result.val_acc > 0.8
    with pytest.raises(ValueError, match=r"holds \(300\)"):
        check_dataset(str(path), 301)

    floats = tmp_path / "floats.npz"
    np.savez(floats, x_train=np.linspace(0, 0.5, 40).reshape(10, 4), y_train=np.arange(10) % 2)
    split = make_split(str(floats), 10, 0.2, 0)
    assert split.x_train.max() <= 0.5 + 1e-6  # floats are taken as they are, not divided by 255


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.zeros((3, 4))}, r"expected arrays x_train and y_train, but got \['x'\]"),
        ({"x_train": np.zeros((3, 4)), "y_train": np.zeros(2)}, r"expected y_train as 3 integer labels, but got shape \(2,\)"),
        ({"x_train": np.full((3, 4), 300), "y_train": np.zeros(3, int)}, r"bytes 0..255 .* values from 300 to 300"),
        ({"x_train": np.zeros((3, 4)), "y_train": np.zeros(3, int), "x_test": np.zeros((1, 4))}, r"both x_test and y_test"),
    ],
)
def test_user_npz_errors(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=message) as info:
        check_dataset(str(path), 1)
    assert "\n" not in str(info.value)
