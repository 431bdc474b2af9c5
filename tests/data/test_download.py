"""Downloads: mirrors, IDX files, checksums and the cache, against a local server (never the
internet)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
from _data_server import MNIST_FILES, FileServer, idx_gz, isolated_cache, shared_mnist  # noqa: F401 (an autouse fixture)

from hpsearch.builtin.config import TrainConfig
from hpsearch.builtin.objective import train_trial
from hpsearch.data import download as dl
from hpsearch.data import split as data
from hpsearch.data.download import (
    PARTS,
    REMOTE_DATASETS,
    cache_folder,
    download,
    load_remote,
    mirrors_for,
)
from hpsearch.data.split import check_dataset
from hpsearch.records import TrialState


@pytest.fixture
def mnist_gz():
    """Full MNIST's arrays and IDX gz files, made from ../shared/data/mnist.npz."""
    return shared_mnist()


@pytest.fixture
def server(mnist_gz):
    srv = FileServer(mnist_gz[1])
    yield srv
    srv.stop()


def _leftovers(folder: Path) -> list[str]:
    """Temporary files a write left behind in ``folder``."""
    return (
        sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))
        if folder.exists()
        else []
    )


def test_mnist_files_are_named_as_the_mirrors_name_them():
    assert REMOTE_DATASETS["mnist"].files == MNIST_FILES
    assert PARTS == ("x_train", "y_train", "x_test", "y_test")


def test_full_mnist_download_checksum_and_cache_hit(server, mnist_gz, tmp_path, monkeypatch):
    arrays = mnist_gz[0]
    cache = tmp_path / "cache"
    # The first mirror is dead; the second (the local server) answers.
    monkeypatch.setenv("HPSEARCH_MIRROR", f"http://127.0.0.1:9/ {server.url}")
    path = download("mnist")
    assert path == cache / "mnist.npz" and path.is_file()
    assert sorted(server.requests) == sorted("/" + f for f in MNIST_FILES.values())
    with np.load(path) as d:
        for k in PARTS:
            np.testing.assert_array_equal(d[k], arrays[k])
    assert _leftovers(cache) == []

    # Second call, and everything that needs full MNIST: served from the cache, no request.
    server.requests.clear()
    assert download("mnist") == path
    check_dataset("mnist", 20_000)
    result = train_trial(TrainConfig(samples=12_000, epochs=1, hidden=(20,)), {"lr": 0.1}, 0, 0)
    assert result.state is TrialState.COMPLETE, result.error
    assert server.requests == []


def test_load_remote_reads_the_cache_once_per_file_version(server, mnist_gz, monkeypatch):
    monkeypatch.setenv("HPSEARCH_MIRROR", server.url)
    first = load_remote("mnist")
    np.testing.assert_array_equal(first["y_test"], mnist_gz[0]["y_test"])
    assert all(not a.flags.writeable for a in first.values())  # shared by every caller
    second, third = load_remote("mnist"), load_remote("mnist")
    assert second is third  # the same arrays, not read and verified again
    assert len(server.requests) == 4
    # A forced download replaces the file: the next load reads the new version.
    download("mnist", force=True)
    assert len(server.requests) == 8
    fourth = load_remote("mnist")
    assert fourth is not second
    np.testing.assert_array_equal(fourth["x_train"], second["x_train"])


def test_automatic_download_when_a_study_needs_more_images(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HPSEARCH_MIRROR", server.url)
    check_dataset("mnist", 30_000)
    assert len(server.requests) == 4
    assert (tmp_path / "cache" / "mnist.npz").is_file()


def test_corrupt_download_refused_and_not_cached(server, mnist_gz, tmp_path, monkeypatch):
    arrays = mnist_gz[0]
    bad = arrays["x_train"].copy()
    bad[123, 14, 14] ^= 0xFF
    server.files[MNIST_FILES["x_train"]] = idx_gz(bad)
    monkeypatch.setenv("HPSEARCH_MIRROR", server.url)
    with pytest.raises(
        ValueError, match=r"checksum mismatch .*train-images-idx3-ubyte.gz.*expected sha256 741c98"
    ):
        download("mnist")
    assert not (tmp_path / "cache" / "mnist.npz").exists()
    # Not gzip at all: refused as well, in one line.
    server.files[MNIST_FILES["x_train"]] = b"<html>not found</html>"
    with pytest.raises(ValueError, match=r"expected a gzip file") as info:
        download("mnist")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "cache" / "mnist.npz").exists()


@pytest.mark.parametrize(
    "body, message",
    [
        (
            b"\x01\x02\x08\x01" + bytes(8),
            r"expected an IDX file \(magic 0x0000\), but got 01020801",
        ),
        (
            b"\0\0\x0d\x01\0\0\0\x02" + bytes(8),
            r"expected IDX type 0x08 \(unsigned byte\), but got 0x0d",
        ),
        (b"\0\0\x08\x03\0\0\0\x02", r"truncated IDX header \(8 bytes\)"),
        (
            b"\0\0\x08\x01\0\0\0\x05" + bytes(3),
            r"expected 5 bytes of data for shape \(5,\), but got 3",
        ),
    ],
)
def test_malformed_idx_files_refused(server, monkeypatch, body, message):
    server.files[MNIST_FILES["x_train"]] = gzip.compress(body)
    with pytest.raises(ValueError, match=message):
        download("mnist", mirrors=server.url)


def test_offline_with_no_cache_says_how_to_get_the_files(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HPSEARCH_MIRROR", server.url)
    server.stop()
    with pytest.raises(ValueError, match=r"hpsearch data download mnist") as info:
        download("mnist")
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "cache") in message
    with pytest.raises(ValueError, match=r"hpsearch data download mnist"):
        check_dataset("mnist", 20_000)
    # A trial never raises: it records the reason (built afresh, not an earlier test's split).
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
    np.testing.assert_array_equal(load_remote("mnist")["x_test"], mnist_gz[0]["x_test"])


def test_a_torn_or_foreign_cache_file_is_downloaded_again(server, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(b"PK\x03\x04 half a zip")
    path = download("mnist", mirrors=server.url)
    assert len(server.requests) == 4
    with np.load(path) as d:
        assert d["x_train"].shape == (60_000, 28, 28)


def test_a_failed_cache_write_keeps_the_old_cache_and_leaves_no_temporary_file(
    server, tmp_path, monkeypatch
):
    cache = tmp_path / "cache"
    path = download("mnist", mirrors=server.url)
    before = path.read_bytes()

    def disk_full(fh, **arrays):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dl.np, "savez_compressed", disk_full)
    with pytest.raises(
        ValueError, match=r"cannot write the mnist cache .*mnist.npz: No space left on device"
    ):
        download("mnist", mirrors=server.url, force=True)
    assert path.read_bytes() == before
    assert _leftovers(cache) == []


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
        server_files[MNIST_FILES[part]] = gz
        digests[part] = hashlib.md5(gz).hexdigest()
    remote = dataclasses.replace(
        REMOTE_DATASETS["fashion-mnist"], digests=digests, n_train=60, n_test=20
    )
    monkeypatch.setitem(REMOTE_DATASETS, "fashion-mnist", remote)
    return arrays


def test_fashion_mnist_checks_md5_of_the_gz_files(tmp_path, monkeypatch):
    assert REMOTE_DATASETS["fashion-mnist"].digests["x_train"] == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
    srv = FileServer({})
    try:
        arrays = _fake_fashion(monkeypatch, srv.files)
        good = dict(srv.files)
        srv.files[MNIST_FILES["y_test"]] = gzip.compress(
            b"\0\0\x08\x01" + b"\0\0\0\x14" + bytes(20)
        )
        with pytest.raises(ValueError, match=r"checksum mismatch .*t10k-labels.*expected md5"):
            download("fashion-mnist", mirrors=[srv.url])
        assert not (tmp_path / "cache" / "fashion-mnist.npz").exists()
        srv.files = good
        path = download("fashion-mnist", mirrors=srv.url)
        with np.load(path) as d:
            np.testing.assert_array_equal(d["x_test"], arrays["x_test"])
        srv.requests.clear()
        np.testing.assert_array_equal(load_remote("fashion-mnist")["y_train"], arrays["y_train"])
        assert srv.requests == []
    finally:
        srv.stop()


def test_download_refuses_unknown_name():
    with pytest.raises(ValueError, match=r"no download for dataset 'digits'; expected one of"):
        download("digits")


def test_mirror_urls_are_checked_before_any_request():
    srv = FileServer({})
    try:
        with pytest.raises(
            ValueError,
            match=r"expected a mirror URL starting with http://, https:// or file://, but got 'ftp://x/'",
        ):
            download("mnist", mirrors=[srv.url, "ftp://x/"])
        assert srv.requests == []
    finally:
        srv.stop()
    with pytest.raises(
        ValueError, match=r"expected at least one mirror URL for 'mnist', but got ' , '"
    ):
        mirrors_for("mnist", " , ")
    assert mirrors_for("mnist", "http://a, http://b/") == ["http://a/", "http://b/"]


def test_mirrors_and_cache_folder_precedence(tmp_path, monkeypatch):
    assert mirrors_for("mnist") == ["http://127.0.0.1:9/"]  # $HPSEARCH_MIRROR, set by the fixture
    monkeypatch.delenv("HPSEARCH_MIRROR")
    assert mirrors_for("mnist") == list(REMOTE_DATASETS["mnist"].mirrors)
    assert cache_folder() == tmp_path / "cache"
    assert cache_folder(tmp_path / "elsewhere") == tmp_path / "elsewhere"
    monkeypatch.delenv("HPSEARCH_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder() == tmp_path / "home" / ".cache" / "hpsearch"
