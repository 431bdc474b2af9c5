"""The data path tells one story: a download says which mirror it tries and gives up within a
bound on a network that never answers, and a file that is not an .npz archive is called so, with
no advice about pickles (issue 28, points 9, 10). Never the internet: servers on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import socket
import types
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest
from _data_server import MNIST_FILES, FileServer, idx_gz, isolated_cache  # noqa: F401 (an autouse fixture)

from hpsearch.cli.main import main
from hpsearch.data import download as dl
from hpsearch.data.download import REMOTE_DATASETS, download
from hpsearch.data.split import check_dataset


# ---------------------------------------------------------------------- a silent network (9)
@pytest.fixture
def silent() -> Iterator[str]:
    """The base URL of a server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0), backlog=64)  # the kernel accepts; no one reads
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the download gives the mirrors, in order. Its clock is made to move by exactly
    each wait a mirror stays silent for (the real wait happens too), so what it has spent is
    the same on a fast machine and on a loaded one."""
    given: list[float] = []
    now = [0.0]
    real_urlopen = urllib.request.urlopen

    def urlopen(url: str, timeout: float) -> object:
        given.append(timeout)
        try:
            return real_urlopen(url, timeout=timeout)
        except OSError:
            now[0] += timeout
            raise

    monkeypatch.setattr(dl.urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(dl, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    return given


def _tried(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("hpsearch: downloading ")]


def test_the_default_wait_on_silent_mirrors_is_bounded_near_20_s() -> None:
    # Each default mirror gets its whole wait, and all of them together stay within the bound.
    longest = max(len(r.mirrors) for r in REMOTE_DATASETS.values())
    assert dl.PATIENCE <= 20
    assert dl.TIMEOUT * longest <= dl.PATIENCE


def test_each_mirror_is_named_as_it_is_tried_and_silence_ends_within_the_bound(
    silent: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    waits: list[float],
) -> None:
    monkeypatch.setattr(dl, "TIMEOUT", 0.4)  # 6 s and 20 s in a download
    monkeypatch.setattr(dl, "PATIENCE", 1.0)
    mirrors = [f"{silent}/{where}/" for where in ("a", "b", "c", "d")]
    with pytest.raises(ValueError) as info:
        download("mnist", mirrors=mirrors)
    # 1 s of patience in all, not 4 x 0.4 s per file and not 30 s per mirror.
    assert waits == pytest.approx([0.4, 0.4, 0.2])
    tried = _tried(capsys.readouterr().err)
    # a and b get their 0.4 s, c what is left of the second; d is not tried.
    assert tried[:2] == [
        f"hpsearch: downloading mnist: train-images-idx3-ubyte.gz from {mirrors[0]} "
        "(up to 0.4 s for an answer)",
        f"hpsearch: downloading mnist: train-images-idx3-ubyte.gz from {mirrors[1]} "
        "(up to 0.4 s for an answer)",
    ]
    assert len(tried) == 3 and tried[2].endswith(f" from {mirrors[2]} (up to 0.2 s for an answer)")
    message = str(info.value)
    assert "\n" not in message
    assert f"{mirrors[0]}train-images-idx3-ubyte.gz: timed out" in message
    assert f"{mirrors[3]}train-images-idx3-ubyte.gz: not tried, 1 s already spent" in message
    assert "hpsearch data download mnist" in message


def test_the_command_line_says_each_mirror_then_one_error_line(
    silent: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    waits: list[float],
) -> None:
    monkeypatch.setattr(dl, "TIMEOUT", 0.3)
    monkeypatch.setattr(dl, "PATIENCE", 0.9)
    mirrors = " ".join(f"{silent}/{where}/" for where in ("a", "b", "c"))
    assert main(["data", "download", "mnist", "--mirror", mirrors]) == 2
    assert waits == pytest.approx([0.3, 0.3, 0.3])  # the last one gets what is left: 0.3 s
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 4 and len(_tried(captured.err)) == 3, captured.err
    assert [line.split(" from ")[1].split(" ")[0] for line in lines[:3]] == mirrors.split()
    assert lines[3].startswith("hpsearch: error: mnist is not in the cache")
    assert captured.out == ""


def test_a_silent_mirror_is_waited_on_once_not_once_per_file(
    silent: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a mirror has served a file, the next files are asked of it first."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 60, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 20, dtype=np.uint8),
    }
    files = {MNIST_FILES[part]: idx_gz(array) for part, array in arrays.items()}
    digests = {part: hashlib.md5(files[MNIST_FILES[part]]).hexdigest() for part in arrays}
    fake = dataclasses.replace(
        REMOTE_DATASETS["fashion-mnist"], digests=digests, n_train=60, n_test=20
    )
    monkeypatch.setitem(REMOTE_DATASETS, "fashion-mnist", fake)
    monkeypatch.setattr(dl, "TIMEOUT", 0.3)
    server = FileServer(files)
    try:
        path = download("fashion-mnist", mirrors=[f"{silent}/", server.url])
    finally:
        server.stop()
    with np.load(path) as d:
        np.testing.assert_array_equal(d["x_test"], arrays["x_test"])
    tried = _tried(capsys.readouterr().err)
    assert [line.split(" from ")[1].split(" ")[0] for line in tried] == [
        f"{silent}/",
        server.url,
        server.url,
        server.url,
        server.url,
    ]


# ---------------------------------------------------------------------- not an .npz (10)
def _refusal(path, capsys: pytest.CaptureFixture[str], tmp_path) -> str:
    """The one line `--dataset PATH` answers with; nothing written."""
    out = tmp_path / "studies"
    code = main(
        ["random", "--trials", "2", "--epochs", "1", "--dataset", str(path)] + ["--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not out.exists()
    line = err.strip()
    assert "pickle" not in line.replace(str(path), "PATH").lower()
    return line


def test_a_text_file_named_npz_is_said_not_to_be_an_npz_archive(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.npz"
    notes.write_text("lr 0.01 looked best\nweight decay: try 1e-6\n")
    assert _refusal(notes, capsys, tmp_path) == (
        f"hpsearch: error: {notes} is not an .npz archive (np.savez writes one: a zip of named "
        "arrays)"
    )


@pytest.mark.parametrize(
    "kind, said",
    [
        ("pickle", "is not an .npz archive (np.savez writes one: a zip of named arrays)"),
        ("empty", "is not an .npz archive: the file is empty"),
        ("npy", "is not an .npz archive: it holds one array saved by np.save; save x_train"),
        ("torn", "is a damaged .npz archive: "),
        ("objects", ": expected x_train as an array of numbers, but it holds Python objects"),
    ],
)
def test_other_files_that_are_no_npz_of_numbers_are_one_line_without_pickle_advice(
    tmp_path, capsys: pytest.CaptureFixture[str], kind: str, said: str
) -> None:
    path = tmp_path / f"{kind}.npz"
    if kind == "pickle":
        path.write_bytes(pickle.dumps({"x_train": [[0.0]], "y_train": [0]}))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "npy":
        with open(path, "wb") as fh:
            np.save(fh, np.zeros((10, 4)))
    elif kind == "objects":
        np.savez(path, x_train=np.array([{"a": 1}] * 20, dtype=object), y_train=np.zeros(20))
    else:
        np.savez(path, x_train=np.zeros((20, 4)), y_train=np.zeros(20))
        path.write_bytes(path.read_bytes()[:60])
    line = _refusal(path, capsys, tmp_path)
    assert line.startswith(f"hpsearch: error: {path}")
    assert said in line
    # The same from Python: a ValueError of one line.
    with pytest.raises(ValueError) as info:
        check_dataset(str(path), 10)
    message = str(info.value)
    assert "\n" not in message and "pickle" not in message.replace(str(path), "PATH").lower()
