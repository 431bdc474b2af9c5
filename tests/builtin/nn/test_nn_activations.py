"""Activations: values against closed forms, backward against numerical gradients, large inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from hpsearch.builtin.nn.activations import ACTIVATIONS, activation_options, make_activation
from hpsearch.builtin.nn.net import numerical_gradient

# (name, options): every activation, and hswish at a second width.
CASES = [(name, {}) for name in sorted(ACTIVATIONS)] + [("hswish", {"n": 4.0})]


def _inputs(name: str, options: dict) -> np.ndarray:
    """Small float64 inputs spread over [-4, 4], kept 0.05 away from every kink."""
    x = np.random.default_rng(0).uniform(-4, 4, size=(4, 5))
    kinks = [0.0] if name == "relu" else []
    if name == "hswish":
        half = options.get("n", 6.0) / 2
        kinks = [-half, half]
        x[0, :3] = [-half - 0.5, half + 0.5, 0.3 - half]  # all three pieces are visited
    for k in kinks:
        near = np.abs(x - k) < 0.05
        x[near] = k + 0.1
    return x


def _check_backward(layer, x: np.ndarray, dout: np.ndarray) -> None:
    layer.forward(x, train_flg=True)
    analytic = layer.backward(dout.copy())  # backward may write into its dout

    def f() -> float:
        return float(np.sum(layer.forward(x, train_flg=True) * dout))

    numeric = numerical_gradient(f, x, h=1e-5)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("name", "options"), CASES)
def test_backward_matches_numerical_gradient(name: str, options: dict) -> None:
    layer = make_activation(name, **options)
    x = _inputs(name, options)
    dout = np.random.default_rng(1).standard_normal(x.shape)
    _check_backward(layer, x, dout)


def test_gradient_check_covers_every_activation() -> None:
    assert {name for name, _ in CASES} == set(ACTIVATIONS)


def _sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# Reference values from the definitions, one scalar at a time with the math module.
REFERENCE = {
    "relu": lambda v: max(v, 0.0),
    "sigmoid": _sig,
    "tanh": math.tanh,
    "swish": lambda v: v * _sig(v),
    "mish": lambda v: v * math.tanh(math.log1p(math.exp(v))),
    "hswish": lambda v: v * min(max(v + 3.0, 0.0), 6.0) / 6.0,  # x ReLU6(x + 3) / 6
    "tanhexp": lambda v: v * math.tanh(math.exp(v)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_forward_matches_definition(name: str) -> None:
    xs = [-7.0, -3.5, -1.0, -0.2, 0.0, 0.4, 1.5, 3.2, 8.0]
    out = make_activation(name).forward(np.array(xs))
    np.testing.assert_allclose(out, [REFERENCE[name](v) for v in xs], rtol=1e-12, atol=1e-15)


def test_hswish_width_pieces_by_hand() -> None:
    # n = 4: x above 2, x (x + 2) / 4 between -2 and 2, 0 below -2.
    layer = make_activation("hswish", n=4.0)
    out = layer.forward(np.array([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0]))
    np.testing.assert_allclose(out, [0.0, 0.0, -0.25, 0.0, 0.75, 2.0, 5.0])
    grad = layer.backward(np.ones(7))
    # 0 below, (2x + 2) / 4 between, 1 above.
    np.testing.assert_allclose(grad[[0, 2, 3, 4, 6]], [0.0, 0.0, 0.5, 1.0, 1.0])


LARGE = np.array(
    [-1e4, -1000.0, -100.0, -50.0, -20.0, 20.0, 50.0, 88.0, 89.0, 100.0, 710.0, 1000.0, 1e4]
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "options"), CASES)
def test_large_inputs_finite_without_warnings(name: str, options: dict, dtype) -> None:
    layer = make_activation(name, **options)
    x = LARGE.astype(dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out = layer.forward(x)
        grad = layer.backward(np.ones_like(x))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))
    assert out.dtype == dtype and grad.dtype == dtype


def test_tanhexp_finite_and_right_up_to_100_and_beyond() -> None:
    layer = make_activation("tanhexp")
    x = np.linspace(-100.0, 100.0, 2001)
    out = layer.forward(x)
    grad = layer.backward(np.ones_like(x))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))
    # Far right the function is x and its slope 1; far left both vanish.
    np.testing.assert_allclose(out[-1], 100.0)
    np.testing.assert_allclose(grad[x > 5], 1.0, atol=1e-12)
    np.testing.assert_allclose(grad[x < -40], 0.0, atol=1e-12)
    # The slope at 1 from the definition: tanh(e) + e (1 - tanh(e)^2).
    at_one = make_activation("tanhexp")
    at_one.forward(np.array([1.0]))
    e = math.e
    np.testing.assert_allclose(
        at_one.backward(np.ones(1)), [math.tanh(e) + e * (1 - math.tanh(e) ** 2)]
    )


def test_unknown_name_and_option_raise() -> None:
    with pytest.raises(ValueError, match="unknown activation 'relu6'"):
        make_activation("relu6")
    with pytest.raises(ValueError, match="activation 'relu' has no option 'n'"):
        make_activation("relu", n=4.0)
    with pytest.raises(ValueError, match="positive"):
        make_activation("hswish", n=0.0)
    assert make_activation("relu", n=None) is not None
    assert make_activation("hswish", n=None).n == 6.0
    assert activation_options("hswish") == ("n",)
    assert activation_options("mish") == ()


def test_numerical_gradient_helper_is_right() -> None:
    # d/dx sum(x^3) = 3 x^2; the helper also restores x.
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    before = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * before**2, rtol=1e-7)
    np.testing.assert_array_equal(x, before)
