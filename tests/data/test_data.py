"""Datasets, the split and the test part: the shipped subset, full MNIST (local server), digits,
a user .npz."""

from __future__ import annotations

import hashlib
import re
import warnings

import numpy as np
import pytest
from _data_server import FileServer, isolated_cache, shared_mnist  # noqa: F401 (an autouse fixture)

from hpsearch.builtin.config import TrainConfig
from hpsearch.builtin.objective import train_trial
from hpsearch.data import split as data
from hpsearch.data.datasets import load_source, source_key
from hpsearch.data.split import (
    check_dataset,
    check_split,
    load_test,
    make_split,
    split_sizes,
)
from hpsearch.records import TrialState
from hpsearch.trial import TrialData


@pytest.fixture
def server():
    srv = FileServer(shared_mnist()[1])
    yield srv
    srv.stop()


def _load_dataset(name, samples=None):
    """A dataset as a trial's split reads it (the shipped subset, full MNIST, digits, a file)."""
    return load_source(source_key(name, samples))


def _digest(split: TrialData) -> str:
    h = hashlib.sha256()
    for a in (split.x_train, split.t_train, split.x_val, split.t_val):
        h.update(str((a.shape, a.dtype)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _npz(tmp_path, name="mine.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def test_names_other_modules_import_are_still_here():
    from hpsearch.data.datasets import DATASETS, SUBSET_SIZE, Dataset  # noqa: F401

    assert SUBSET_SIZE == 10_000 and sorted(DATASETS) == ["digits", "fashion-mnist", "mnist"]


def test_shipped_subset_needs_no_download():
    check_dataset("mnist", 10_000)
    d = _load_dataset("mnist", 10_000)
    assert d.n_train == 10_000 and d.x_train.shape[1] == 784 and d.x_train.dtype == np.uint8
    split = make_split("mnist", 500, 0.2, 0)
    assert split.x_train.shape == (400, 784) and split.x_val.shape == (100, 784)
    assert 0.0 <= split.x_train.min() and split.x_train.max() <= 1.0


def test_the_split_is_the_same_as_before_byte_for_byte():
    # Digests of the splits hpsearch made before data.py was divided: same seed, same split.
    assert (
        _digest(make_split("mnist", 500, 0.2, 0))
        == "450b69f5d18b70948e0856c72f0ab0c9c3881e1cfde8d0617b0faf7e2fefae16"
    )
    assert _digest(make_split("mnist", 10_000, 0.3, 5, "float64")) == (
        "c9a0239a16188f09b4ab79e462a9d3b3e21f943ca96da56a437508832c6d9dbf"
    )
    assert (
        _digest(make_split("digits", 1000, 0.2, 3))
        == "b53b98302639c74cdb00e95065faf850e9a05b064bcad882d40c3a565013c55f"
    )


def test_unknown_dataset_and_too_many_samples_refused_without_network(tmp_path, monkeypatch):
    srv = FileServer({})
    try:
        monkeypatch.setenv("HPSEARCH_MIRROR", srv.url)
        with pytest.raises(
            ValueError,
            match=r"unknown dataset 'cifar'; expected one of "
            r"\['digits', 'fashion-mnist', 'mnist'\] or a path",
        ):
            check_dataset("cifar", 10)
        with pytest.raises(ValueError, match=r"samples=70000 .* holds \(60000\)"):
            check_dataset("mnist", 70_000)
        with pytest.raises(ValueError, match=r"samples=2000 .* holds \(1797\)"):
            check_dataset("digits", 2000)
        with pytest.raises(ValueError, match=r"expected a .npz file at .*nothing.npz"):
            check_dataset(str(tmp_path / "nothing.npz"), 10)
        with pytest.raises(ValueError, match=r"samples=70000 .* holds \(60000\)"):
            make_split("mnist", 70_000, 0.2, 0)
        assert srv.requests == []
    finally:
        srv.stop()
    assert not (tmp_path / "cache").exists()


def test_full_mnist_from_the_cache_starts_with_the_shipped_subset(server, monkeypatch):
    arrays = shared_mnist()[0]
    monkeypatch.setenv("HPSEARCH_MIRROR", server.url)
    check_dataset("mnist", 20_000)  # downloads
    server.requests.clear()
    full = _load_dataset("mnist", 20_000)
    assert server.requests == []
    assert full.n_train == 60_000
    # The shipped subset is the first 10,000 images: splits up to that size do not change.
    subset = _load_dataset("mnist")
    np.testing.assert_array_equal(full.x_train[:10_000], subset.x_train)
    np.testing.assert_array_equal(full.y_train[:10_000], subset.y_train)

    # Its test part: all 10,000 test images, of which the subset ships the first 2,000.
    x, t = load_test("mnist", 20_000)
    assert x.shape == (10_000, 784) and x.dtype == np.float32 and t.dtype == np.int64
    np.testing.assert_array_equal(
        x, arrays["x_test"].reshape(10_000, 784).astype(np.float32) / np.float32(255)
    )
    np.testing.assert_array_equal(t, arrays["y_test"])
    np.testing.assert_array_equal(load_test("mnist", 10_000)[0], x[:2_000])
    assert data.test_size("mnist", 20_000) == 10_000
    assert server.requests == []


def test_digits_end_to_end():
    d = _load_dataset("digits")
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
    path = _npz(tmp_path, x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    d = _load_dataset(path)
    assert d.x_train.shape == (300, 36) and d.x_test.shape == (10, 36)
    split = make_split(path, 200, 0.25, 0)
    assert split.x_train.max() <= 1.0 and split.n_classes == 2 and split.input_size == 36
    result = train_trial(
        TrainConfig(dataset=path, samples=300, epochs=2, hidden=(20,), batch_size=20),
        {"lr": 0.1},
        0,
        0,
    )
    assert result.state is TrialState.COMPLETE, result.error
    assert result.val_acc > 0.8
    with pytest.raises(ValueError, match=r"holds \(300\)"):
        check_dataset(path, 301)

    floats = _npz(
        tmp_path,
        "floats.npz",
        x_train=np.linspace(0, 0.5, 200).reshape(50, 4),
        y_train=np.arange(50) % 2,
    )
    split = make_split(floats, 50, 0.2, 0)
    assert split.x_train.max() <= 0.5 + 1e-6  # floats are taken as they are, not divided by 255


X3 = np.zeros((3, 4))
Y3 = np.zeros(3, int)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": X3}, r"expected arrays x_train and y_train, but got \['x'\]"),
        (
            {"x_train": X3, "y_train": np.zeros(2)},
            r"expected y_train as 3 integer labels, but got shape \(2,\)",
        ),
        (
            {"x_train": np.full((3, 4), 300), "y_train": Y3},
            r"bytes 0..255 .* values from 300 to 300",
        ),
        ({"x_train": X3, "y_train": Y3, "x_test": np.zeros((1, 4))}, r"both x_test and y_test"),
        # Labels are sizes (one output unit per class up to the largest): ids are refused.
        (
            {"x_train": X3, "y_train": np.array([0, 1, 10**6])},
            r"expected y_train as class numbers in \[0, 1000\), but got values from 0 to 1000000",
        ),
        (
            {"x_train": X3, "y_train": np.array([0, 2**40, 1])},
            r"in \[0, 1000\), but got values from 0 to 1099511627776",
        ),
        (
            {"x_train": X3, "y_train": np.array([0.0, 1e30, 1.0])},
            r"in \[0, 1000\), but got values from 0 to 1000000000000000019884624838656",
        ),
        (
            {"x_train": X3, "y_train": np.array([0, -1, 1])},
            r"in \[0, 1000\), but got values from -1 to 1",
        ),
        (
            {"x_train": X3, "y_train": np.array([0.0, 0.5, 1.0])},
            r"expected y_train as integer labels, but got float64 values such as 0.5",
        ),
        (
            {"x_train": X3, "y_train": np.array([True, False, True])},
            r"expected y_train as integer labels, but got dtype bool",
        ),
        (
            {"x_train": np.zeros((3, 0)), "y_train": Y3},
            r"at least one value each\), but got shape \(3, 0\)",
        ),
        (
            {"x_train": np.zeros((3, 0, 5), np.uint8), "y_train": Y3},
            r"at least one value each\), but got shape \(3, 0, 5\)",
        ),
        # The test part, when present, passes the same checks and matches the training images.
        (
            {"x_train": X3, "y_train": Y3, "x_test": np.zeros((2, 5)), "y_test": np.zeros(2, int)},
            r"expected x_test images of 4 values like x_train, but got 5",
        ),
        (
            {
                "x_train": X3,
                "y_train": Y3,
                "x_test": np.zeros((2, 4), np.uint8),
                "y_test": np.zeros(2, int),
            },
            r"expected x_test stored like x_train \(both bytes 0..255 or both floats\), "
            r"but got uint8 and float64",
        ),
        (
            {
                "x_train": X3,
                "y_train": Y3,
                "x_test": np.zeros((2, 4)),
                "y_test": np.array([0, 5000]),
            },
            r"expected y_test as class numbers in \[0, 1000\), but got values from 0 to 5000",
        ),
        (
            {"x_train": X3, "y_train": Y3, "x_test": np.zeros((2, 4)), "y_test": np.zeros(3, int)},
            r"expected y_test as 2 integer labels, but got shape \(3,\)",
        ),
        (
            {"x_train": X3, "y_train": Y3, "x_test": np.zeros((0, 4)), "y_test": np.zeros(0, int)},
            r"expected x_test as images .* but got shape \(0, 4\)",
        ),
        (
            {
                "x_train": X3,
                "y_train": Y3,
                "x_test": np.full((1, 4), np.nan),
                "y_test": np.zeros(1, int),
            },
            r"expected finite values in x_test",
        ),
    ],
)
def test_user_npz_errors(tmp_path, arrays, message):
    path = _npz(tmp_path, "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message) as info:
        check_dataset(path, 1)
    assert "\n" not in str(info.value)


def test_huge_labels_are_refused_up_front_and_a_trial_says_why(tmp_path):
    # Before: every trial failed trying to allocate an output layer of 2**40 units (204 TiB).
    path = _npz(tmp_path, x_train=np.zeros((100, 4)), y_train=np.arange(100) * 2**34)
    with pytest.raises(ValueError, match=r"class numbers in \[0, 1000\)"):
        check_dataset(path, 100)
    result = train_trial(TrainConfig(dataset=path, samples=100, epochs=1, hidden=(5,)), {}, 0, 0)
    assert result.state is TrialState.FAILED and "class numbers in [0, 1000)" in result.error


@pytest.mark.parametrize(
    "samples, val_ratio, message",
    [
        (
            5,
            0.2,
            r"samples=5 with val_ratio=0.2 holds out 1 validation images; "
            r"expected at least 10 \(samples >= 48 at this val_ratio\)",
        ),
        (
            5,
            0.1,
            r"samples=5 with val_ratio=0.1 holds out 0 validation images; "
            r"expected at least 10 \(samples >= 95 ",
        ),
        (1, 0.2, r"samples=1 with val_ratio=0.2 holds out 0 validation images"),
        (
            20,
            0.99,
            r"samples=20 with val_ratio=0.99 holds out all 20 images for validation; "
            r"expected at least one training image",
        ),
        (500, 1.5, r"val_ratio must lie in \(0, 1\), but got 1.5"),
        (500, 0, r"val_ratio must lie in \(0, 1\), but got 0"),
        (0, 0.2, r"samples must be a positive integer, but got 0"),
    ],
)
def test_splits_too_small_to_measure_are_refused(samples, val_ratio, message):
    for refuse in (
        lambda: split_sizes(samples, val_ratio),
        lambda: make_split("mnist", samples, val_ratio, 0),
        lambda: check_dataset("mnist", samples, val_ratio=val_ratio),
    ):
        with pytest.raises(ValueError, match=message) as info:
            refuse()
        message_text = str(info.value)
        assert "\n" not in message_text and "--" not in message_text  # Python names, not CLI flags


def test_too_few_samples_for_any_ratio_refused_by_check_dataset():
    with pytest.raises(
        ValueError, match=r"samples=5 cannot hold out 10 validation images .*expected samples > 10"
    ):
        check_dataset("mnist", 5)
    with pytest.raises(ValueError, match=r"samples=10 cannot hold out"):
        check_dataset("digits", 10)
    check_dataset("mnist", 11)  # 11 is enough at some ratio (val_ratio 0.9: 10 + 1)
    assert split_sizes(11, 0.9) == (1, 10)


@pytest.mark.parametrize("val_ratio", [0.01, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 0.9, 0.95, 0.99])
def test_the_suggested_samples_are_the_least_that_work(val_ratio):
    with pytest.raises(ValueError) as info:
        split_sizes(1, val_ratio)
    least = int(re.search(r"samples >= (\d+)", str(info.value)).group(1))
    split_sizes(least, val_ratio)
    with pytest.raises(ValueError):
        split_sizes(least - 1, val_ratio)


def test_split_sizes_is_the_rule_make_split_follows():
    assert split_sizes(500, 0.2) == (400, 100)
    for samples, val_ratio in [(500, 0.2), (333, 0.3), (1000, 0.125), (62, 0.25), (1797, 0.1)]:
        n_train, n_val = split_sizes(samples, val_ratio)
        split = make_split("digits", samples, val_ratio, 1)
        assert (len(split.x_train), len(split.x_val)) == (n_train, n_val)
        assert n_val == int(round(samples * val_ratio)) and n_train + n_val == samples


def test_a_batch_larger_than_the_training_part_is_a_one_line_warning():
    with pytest.warns(
        UserWarning,
        match=r"batch_size=500 exceeds the 160 training images of samples=200 with val_ratio=0.2",
    ) as caught:
        assert check_split(200, 0.2, 500) == (160, 40)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    with pytest.warns(UserWarning, match=r"batch_size=100 exceeds the 40 training"):
        check_dataset("mnist", 50, val_ratio=0.2, batch_size=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_split(200, 0.2, 160)  # exactly one batch: nothing to say
        check_dataset("mnist", 500, val_ratio=0.2, batch_size=100)
    with pytest.raises(ValueError, match=r"batch_size must be a positive integer, but got 0"):
        check_split(200, 0.2, 0)


def test_test_part_of_the_shipped_subset():
    x, t = load_test("mnist", 500)
    assert (
        x.shape == (2_000, 784)
        and x.dtype == np.float32
        and t.shape == (2_000,)
        and t.dtype == np.int64
    )
    subset = _load_dataset("mnist")
    np.testing.assert_array_equal(x, subset.x_test.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(t, subset.y_test)
    assert set(np.unique(t)) == set(range(10)) and 0.0 == x.min() and x.max() == 1.0
    assert data.test_size("mnist", 500) == data.test_size("mnist", 10_000) == 2_000
    # Cached per process, and read-only since every trial of a worker shares it.
    assert load_test("mnist", 500) is load_test("mnist", 9_000)
    assert not x.flags.writeable and not t.flags.writeable
    assert load_test("mnist", 500, "float64")[0].dtype == np.float64


def test_test_images_are_scaled_exactly_like_training_images(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (300, 5, 5), dtype=np.uint8)
    # Labels 0..299 name each image, so a split row can be found among the test rows.
    path = _npz(tmp_path, x_train=x, y_train=np.arange(300), x_test=x, y_test=np.arange(300))
    floats = _npz(
        tmp_path,
        "floats.npz",
        x_train=x / 7.0,
        y_train=np.arange(300),
        x_test=x / 7.0,
        y_test=np.arange(300),
    )
    for name in (path, floats):
        for dtype in ("float32", "float64"):
            split = make_split(name, 300, 0.2, 4, dtype)
            x_test, t_test = load_test(name, 300, dtype)
            np.testing.assert_array_equal(t_test, np.arange(300))
            assert x_test.dtype == split.x_train.dtype
            assert x_test[split.t_train].tobytes() == split.x_train.tobytes()
            assert x_test[split.t_val].tobytes() == split.x_val.tobytes()


def test_datasets_without_a_test_part(tmp_path):
    assert load_test("digits", 1000) is None and data.test_size("digits", 1000) is None
    path = _npz(tmp_path, x_train=np.zeros((30, 4), np.uint8), y_train=np.arange(30) % 3)
    assert load_test(path, 30) is None and data.test_size(path, 30) is None
    with_test = _npz(
        tmp_path,
        "with.npz",
        x_train=np.zeros((30, 4), np.uint8),
        y_train=np.arange(30) % 3,
        x_test=np.full((7, 2, 2), 51, np.uint8),
        y_test=np.arange(7),
    )
    x, t = load_test(with_test, 30)
    assert x.shape == (7, 4) and np.all(x == np.float32(0.2)) and list(t) == list(range(7))
    assert data.test_size(with_test, 30) == 7


def test_a_changed_npz_is_read_again(tmp_path):
    path = _npz(tmp_path, x_train=np.zeros((30, 4), np.uint8), y_train=np.arange(30) % 3)
    assert load_test(path, 30) is None
    np.savez(
        path,
        x_train=np.zeros((30, 4), np.uint8),
        y_train=np.arange(30) % 3,
        x_test=np.zeros((5, 4), np.uint8),
        y_test=np.zeros(5, int),
    )
    assert load_test(path, 30)[0].shape == (5, 4)


def test_test_size_of_downloads_needs_no_download(tmp_path):
    # The mirror is dead (fixture): a download would raise, and the cache folder would appear.
    assert data.test_size("fashion-mnist", 100) == 10_000
    assert data.test_size("mnist", 10_001) == 10_000
    assert not (tmp_path / "cache").exists()
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar'"):
        data.test_size("cifar", 10)
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar'"):
        load_test("cifar", 10)
