"""``trial.data.load_mnist``: the split in the shapes the book's ``load_mnist`` gives.

A reader's code is written for the book's ``(x_train, t_train), (x_test, t_test)`` with
one-hot labels and 0..1 or 0..255 images; they change only their ``load_mnist`` line. The
objectives here are written as the book writes them (chapter 4's ``TwoLayerNet``, the one-hot
``cross_entropy_error``, accuracy by ``np.argmax(t, axis=1)``, unseeded ``np.random``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from hpsearch import LogUniform, Settings, Study
from hpsearch.data.split import load_test, make_split
from hpsearch.trial import TrialData


def _split(name: str = "mnist", samples: int = 200) -> TrialData:
    return make_split(name, samples, 0.2, seed=5)


def _refit(d: TrialData) -> TrialData:
    """A refit run's data: validation images trained on, validation arrays empty."""
    x = np.concatenate([d.x_train, d.x_val])
    t = np.concatenate([d.t_train, d.t_val])
    return TrialData(x, t, d.x_val[:0], d.t_val[:0])


def _byte_npz(tmp_path: Path, n: int = 60) -> tuple[str, np.ndarray]:
    """A .npz of 3x3 byte images whose first pixel is the image's index: rows can be found."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(n, 3, 3), dtype=np.uint8)
    x[:, 0, 0] = np.arange(n)
    path = tmp_path / "bytes.npz"
    np.savez(path, x_train=x, y_train=np.arange(n) % 4)
    return str(path), x


def test_by_default_the_images_are_flat_floats_in_0_1_and_the_labels_integers():
    d = _split()
    (x_train, t_train), (x_val, t_val) = d.load_mnist()
    assert x_train.shape == (160, 784) and x_val.shape == (40, 784)
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert x_train.max() > 0.9  # scaled, not all dark
    assert t_train.shape == (160,) and np.issubdtype(t_train.dtype, np.integer)
    np.testing.assert_array_equal(x_train, d.x_train)
    np.testing.assert_array_equal(t_val, d.t_val)


def test_one_hot_labels_have_a_column_per_class_and_argmax_gives_the_labels_back():
    for d in (_split("mnist"), _split("digits")):
        (x_train, t_train), (x_val, t_val) = d.load_mnist(one_hot_label=True)
        assert t_train.shape == (len(d.t_train), 10) and t_val.shape == (len(d.t_val), 10)
        assert t_train.dtype.kind == "f"
        np.testing.assert_array_equal(np.argmax(t_train, axis=1), d.t_train)
        np.testing.assert_array_equal(np.argmax(t_val, axis=1), d.t_val)
        assert set(np.unique(t_train)) == {0.0, 1.0} and (t_train.sum(axis=1) == 1).all()


def test_flatten_false_gives_one_channel_square_images_for_mnist_and_the_8x8_digits():
    for name, side in (("mnist", 28), ("digits", 8)):
        d = _split(name)
        (x_train, _), (x_val, _) = d.load_mnist(flatten=False)
        assert x_train.shape == (len(d.x_train), 1, side, side)
        assert x_val.shape == (len(d.x_val), 1, side, side)
        np.testing.assert_array_equal(x_train.reshape(len(x_train), -1), d.x_train)


def test_images_that_are_not_square_are_refused_in_one_line_for_flatten_false(tmp_path):
    path = tmp_path / "wide.npz"
    np.savez(path, x_train=np.zeros((50, 2, 3), dtype=np.uint8), y_train=np.arange(50) % 2)
    d = make_split(str(path), 50, 0.2, seed=0)
    with pytest.raises(ValueError, match="6 values") as info:
        d.load_mnist(flatten=False)
    assert "\n" not in str(info.value)
    assert d.load_mnist(flatten=True)[0][0].shape == (40, 6)


def test_normalize_false_gives_the_bytes_0_255_of_byte_images(tmp_path):
    path, stored = _byte_npz(tmp_path)
    d = make_split(path, 60, 0.2, seed=1)
    (x_train, t_train), (x_val, _) = d.load_mnist(normalize=False)
    assert x_train.dtype == np.uint8 and x_val.dtype == np.uint8
    for x in (x_train, x_val):
        np.testing.assert_array_equal(x, stored[x[:, 0]].reshape(len(x), -1))
    np.testing.assert_array_equal(t_train, x_train[:, 0] % 4)
    (mnist, _), _ = _split("mnist").load_mnist(normalize=False, flatten=False)
    assert mnist.dtype == np.uint8 and mnist.max() == 255 and mnist.shape[1:] == (1, 28, 28)


def test_normalize_false_puts_the_digits_counts_0_16_on_the_0_255_scale():
    d = _split("digits", 300)
    (x_train, _), _ = d.load_mnist(normalize=False)
    assert x_train.dtype.kind == "f" and 0.0 <= x_train.min() and x_train.max() == 255.0
    back = x_train * 16 / 255  # the bundle's own counts 0..16, if on the 0..255 scale
    np.testing.assert_allclose(back, np.rint(back), atol=1e-4)
    counts = {tuple(row) for row in load_digits().data[:300].astype(int)}
    assert {tuple(row) for row in np.rint(back).astype(int)} <= counts


def test_float_images_not_in_0_1_are_as_given_and_have_no_0_255_form(tmp_path):
    path = tmp_path / "floats.npz"
    x = np.random.default_rng(2).normal(size=(50, 4)) * 3
    np.savez(path, x_train=x, y_train=np.arange(50) % 3)
    d = make_split(str(path), 50, 0.2, seed=0)
    (x_train, _), _ = d.load_mnist()
    np.testing.assert_array_equal(x_train, d.x_train)
    with pytest.raises(ValueError, match="normalize=True") as info:
        d.load_mnist(normalize=False)
    assert "\n" not in str(info.value)


def test_the_book_positional_order_and_new_arrays_that_leave_the_split_unchanged():
    d = _split()
    before = [a.copy() for a in (d.x_train, d.t_train, d.x_val, d.t_val)]
    (x_train, t_train), (x_val, t_val) = d.load_mnist(True, False, True)  # as the book orders
    assert x_train.shape == (160, 1, 28, 28) and t_train.shape == (160, 10)
    for got in (x_train, t_train, x_val, t_val):
        got *= 0  # a reader's in-place change
    (again, _), _ = d.load_mnist()
    again[:] = 7
    for kept, now in zip(before, (d.x_train, d.t_train, d.x_val, d.t_val), strict=True):
        np.testing.assert_array_equal(kept, now)


def test_a_refit_runs_empty_validation_part_comes_back_empty_in_every_format():
    d = _refit(_split())
    (x_train, t_train), (x_val, t_val) = d.load_mnist(flatten=False, one_hot_label=True)
    assert x_train.shape == (200, 1, 28, 28) and t_train.shape == (200, 10)
    assert x_val.shape == (0, 1, 28, 28) and t_val.shape == (0, 10)
    (_, t), (_, t_val) = d.load_mnist(normalize=False)
    assert t_val.shape == (0,) and len(t) == 200


def test_the_test_part_stands_where_the_books_stood_in_confirm_runs_only():
    d = _split()
    with pytest.raises(ValueError, match="confirm") as info:
        d.load_mnist(test=True)
    assert "\n" not in str(info.value)
    test = load_test("mnist", 200)
    assert test is not None
    confirm = TrialData(d.x_train, d.t_train, d.x_val, d.t_val, *test)
    (x_train, t_train), (x_test, t_test) = confirm.load_mnist(one_hot_label=True, test=True)
    np.testing.assert_array_equal(x_train, d.x_train)
    assert x_test.shape == (len(test[0]), 784) and t_test.shape == (len(test[0]), 10)
    np.testing.assert_array_equal(np.argmax(t_test, axis=1), test[1])
    _, (bytes_test, _) = confirm.load_mnist(normalize=False, test=True)
    assert bytes_test.dtype == np.uint8


BOOK_NET = """
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    batch_size = y.shape[0]
    return -np.sum(t * np.log(y + 1e-7)) / batch_size


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {}
        self.params["W1"] = weight_init_std * np.random.randn(input_size, hidden_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = weight_init_std * np.random.randn(hidden_size, output_size)
        self.params["b2"] = np.zeros(output_size)

    def predict(self, x):
        z1 = sigmoid(np.dot(x, self.params["W1"]) + self.params["b1"])
        return softmax(np.dot(z1, self.params["W2"]) + self.params["b2"])

    def loss(self, x, t):
        return cross_entropy_error(self.predict(x), t)

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x), axis=1)
        t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def gradient(self, x, t):
        W1, W2 = self.params["W1"], self.params["W2"]
        a1 = np.dot(x, W1) + self.params["b1"]
        z1 = sigmoid(a1)
        y = softmax(np.dot(z1, W2) + self.params["b2"])
        dy = (y - t) / x.shape[0]
        grads = {"W2": np.dot(z1.T, dy), "b2": np.sum(dy, axis=0)}
        dz1 = np.dot(dy, W2.T) * (1.0 - z1) * z1
        grads["W1"] = np.dot(x.T, dz1)
        grads["b1"] = np.sum(dz1, axis=0)
        return grads


def objective(trial):
    (x_train, t_train), (x_test, t_test) = trial.data.load_mnist(normalize=True, one_hot_label=True)
    network = TwoLayerNet(input_size=x_train.shape[1], hidden_size=30, output_size=t_train.shape[1])
    batch_size = 20
    for epoch in range(trial.epochs):
        for i in range(max(x_train.shape[0] // batch_size, 1)):
            batch_mask = np.random.choice(x_train.shape[0], batch_size)
            grad = network.gradient(x_train[batch_mask], t_train[batch_mask])
            for key in ("W1", "b1", "W2", "b2"):
                network.params[key] -= trial.params["lr"] * grad[key]
        train_acc = network.accuracy(x_train, t_train)
        trial.report(epoch, train_acc=train_acc, loss=network.loss(x_train, t_train))
    out = {"train_acc": train_acc}
    if not trial.refit:
        out["val_acc"] = network.accuracy(x_test, t_test)
    if trial.data.x_test is not None:
        _, (x_test, t_test) = trial.data.load_mnist(one_hot_label=True, test=True)
        out["test_acc"] = network.accuracy(x_test, t_test)
    return out
"""


def _book_study(tmp_path: Path, name: str, dataset: str, **options: object) -> Study:
    path = tmp_path / "book_net.py"
    path.write_text(textwrap.dedent(BOOK_NET))
    return Study(
        name,
        objective=f"{path}:objective",
        space={"lr": LogUniform(1.0, 5.0)},
        config=Settings(dataset=dataset, samples=300, epochs=8),
        n_trials=3,
        n_jobs=1,
        seed=4,
        progress=False,
        directory=tmp_path / "studies",
        **options,  # type: ignore[arg-type]
    )


def test_a_readers_book_network_with_one_hot_labels_is_searched_on_digits(tmp_path):
    study = _book_study(tmp_path, "book", "digits", confirm=0)
    study.optimize()
    ranking = pd.read_csv(tmp_path / "studies" / "book" / "ranking.csv")
    assert (ranking["state"] == "COMPLETE").all(), ranking.get("error")
    assert ranking["val_acc"].max() > 0.5  # it learned from the book-shaped data


def test_a_refit_confirm_run_scores_the_test_part_in_the_books_shape(tmp_path):
    study = _book_study(tmp_path, "refit", "mnist", confirm=1, repeats=1, refit=True)
    study.optimize()
    table = pd.read_csv(tmp_path / "studies" / "refit" / "confirmed.csv")
    assert len(table) == 1 and table["test_mean"].notna().all()
    assert (table["n_test"] > 0).all() and table["test_mean"].iloc[0] > 0.15  # guessing: 0.1


CENTRING = """
import numpy as np

LOG = {log!r}


def objective(trial):
    with open(LOG, "a") as fh:
        fh.write(f"{{trial.data.x_train.sum()!r}}\\n")
    (x_own, _), _ = trial.data.load_mnist()
    x_own -= x_own.mean(axis=0)  # a copy of the reader's own: theirs to change
    trial.data.x_train -= trial.data.x_train.mean(axis=0)  # the shared split: refused
    return 0.5
"""


def test_a_trial_that_changes_the_split_in_place_fails_and_leaves_it_to_the_next(tmp_path):
    log = tmp_path / "sums.txt"
    path = tmp_path / "centring.py"
    path.write_text(textwrap.dedent(CENTRING.format(log=str(log))))
    study = Study(
        "centred",
        objective=f"{path}:objective",
        space={"lr": LogUniform(0.1, 1.0)},
        config=Settings(dataset="digits", samples=200, epochs=1),
        n_trials=3,
        n_jobs=1,
        progress=False,
        confirm=0,
        directory=tmp_path / "studies",
    )
    study.optimize()
    sums = log.read_text().split()
    assert len(sums) == 3 and len(set(sums)) == 1  # every trial saw the same images
    assert all("read-only" in (t.error or "") for t in study.trials)
    # The line says what to do: change a copy.
    assert all("copy()" in (t.error or "") for t in study.trials)
