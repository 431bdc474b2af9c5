"""BatchNormalization and Dropout layers on their own."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.builtin.nn.layers import Affine, BatchNormalization, Dropout, SoftmaxWithLoss
from hpsearch.builtin.nn.net import numerical_gradient


def _bn(features: int = 4, seed: int = 0) -> BatchNormalization:
    rng = np.random.default_rng(seed)
    return BatchNormalization(rng.uniform(0.5, 1.5, features), rng.standard_normal(features))


def test_batchnorm_backward_matches_numerical_gradient() -> None:
    rng = np.random.default_rng(1)
    layer = _bn()
    x = rng.standard_normal((6, 4)) * 3 + 1
    dout = rng.standard_normal((6, 4))
    layer.forward(x, train_flg=True)
    dx = layer.backward(dout.copy())

    def f() -> float:
        return float(np.sum(layer.forward(x, train_flg=True) * dout))

    np.testing.assert_allclose(dx, numerical_gradient(f, x, h=1e-5), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        layer.dgamma, numerical_gradient(f, layer.gamma, h=1e-5), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        layer.dbeta, numerical_gradient(f, layer.beta, h=1e-5), rtol=1e-6, atol=1e-8
    )


def test_batchnorm_normalises_in_training_and_uses_running_stats_in_inference() -> None:
    layer = BatchNormalization(np.ones(2), np.zeros(2))
    x = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 30.0]])
    out = layer.forward(x, train_flg=True)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(
        out.var(axis=0), [8 / 3 / (8 / 3 + 1e-6), 200 / 3 / (200 / 3 + 1e-6)]
    )
    # One step from mean 0, var 1 with momentum 0.9: 0.1 * batch mean, 0.9 + 0.1 * batch var.
    np.testing.assert_allclose(layer.running_mean, [0.3, 2.0])
    np.testing.assert_allclose(layer.running_var, [0.9 + 0.1 * 8 / 3, 0.9 + 0.1 * 200 / 3])
    inference = layer.forward(x, train_flg=False)
    expected = (x - [0.3, 2.0]) / np.sqrt(np.array([0.9 + 0.8 / 3, 0.9 + 20 / 3]) + 1e-6)
    np.testing.assert_allclose(inference, expected)
    np.testing.assert_allclose(layer.running_mean, [0.3, 2.0])  # inference leaves them alone


def test_dropout_fixed_mask_forward_and_backward() -> None:
    layer = Dropout(0.25, np.random.default_rng(0))
    keep = np.array([[True, False, True], [False, True, True]])
    layer.fix_mask(keep)
    x = np.arange(1.0, 7.0).reshape(2, 3)
    out = layer.forward(x, train_flg=True)
    np.testing.assert_allclose(out, np.where(keep, x / 0.75, 0.0))
    np.testing.assert_allclose(layer.backward(np.ones((2, 3))), np.where(keep, 1 / 0.75, 0.0))
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), x)


def test_dropout_draws_from_its_generator() -> None:
    x = np.ones((200, 50), dtype=np.float32)
    a = Dropout(0.3, np.random.default_rng(5)).forward(x, train_flg=True)
    b = Dropout(0.3, np.random.default_rng(5)).forward(x, train_flg=True)
    c = Dropout(0.3, np.random.default_rng(6)).forward(x, train_flg=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32
    assert abs(np.mean(a == 0) - 0.3) < 0.02
    # Inverted dropout keeps the expected value: kept units are scaled by 1 / 0.7.
    np.testing.assert_allclose(a[a != 0], 1 / 0.7, rtol=1e-6)
    assert abs(a.mean() - 1.0) < 0.03


def test_dropout_ratio_is_checked() -> None:
    with pytest.raises(ValueError, match="dropout_ratio"):
        Dropout(1.0, np.random.default_rng(0))


def test_affine_and_softmax_backward_match_numerical_gradient() -> None:
    rng = np.random.default_rng(2)
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    x, t = rng.standard_normal((5, 4)), np.array([0, 2, 1, 2, 0])
    affine, last = Affine(W, b), SoftmaxWithLoss()

    def f() -> float:
        return last.forward(affine.forward(x), t)

    f()
    dx = affine.backward(last.backward(1.0))
    # rtol 1e-4: the book's loss is -log(p + 1e-7), whose slope differs from y - t by ~1e-7 / p.
    np.testing.assert_allclose(dx, numerical_gradient(f, x), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(affine.dW, numerical_gradient(f, W), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(affine.db, numerical_gradient(f, b), rtol=1e-4, atol=1e-9)
