"""Optimizers: hand-computed two-step updates, in-place updates, state round trips, errors."""

from __future__ import annotations

from math import sqrt

import numpy as np
import pytest

from hpsearch.builtin.nn.optimizers import OPTIMIZERS, make_optimizer, optimizer_settings

# Every case starts from w0 = 1.0 with lr = 0.1 and takes the gradients g1 = 0.5, g2 = -1.0.
# The expected weights are worked out by hand from each rule; the arithmetic is left visible.
W0, G1, G2, LR = 1.0, 0.5, -1.0, 0.1

HAND = {
    # w -= lr g
    "sgd": (1.0 - 0.1 * 0.5, 0.95 + 0.1 * 1.0),  # 0.95, 1.05
    # v1 = -0.05, w1 = 0.95; v2 = 0.9 * -0.05 + 0.1 = 0.055, w2 = 0.95 + 0.055
    "momentum": (0.95, 1.005),
    # w' = w + mu^2 v - (1 + mu) lr g, then v' = mu v - lr g.
    # w1 = 1 + 0.81 * 0 - 1.9 * 0.05 = 0.905; v1 = -0.05
    # w2 = 0.905 + 0.81 * (-0.05) + 1.9 * 0.1 = 0.905 - 0.0405 + 0.19 = 1.0545
    "nesterov": (0.905, 1.0545),
    # h1 = 0.25, w1 = 1 - 0.1 * 0.5 / (0.5 + 1e-7); h2 = 1.25, w2 = w1 + 0.1 / (sqrt(1.25) + 1e-7)
    "adagrad": (
        1.0 - 0.05 / (0.5 + 1e-7),
        1.0 - 0.05 / (0.5 + 1e-7) + 0.1 / (sqrt(1.25) + 1e-7),
    ),
    # h1 = 0.01 * 0.25 = 0.0025; h2 = 0.99 * 0.0025 + 0.01 * 1 = 0.012475
    "rmsprop": (
        1.0 - 0.05 / (0.05 + 1e-7),
        1.0 - 0.05 / (0.05 + 1e-7) + 0.1 / (sqrt(0.012475) + 1e-7),
    ),
    # t=1: m = 0.05, v = 0.00025, lr_t = 0.1 sqrt(0.001) / 0.1
    # t=2: m = 0.05 + 0.1 (-1 - 0.05) = -0.055, v = 0.00025 + 0.001 (1 - 0.00025) = 0.00124975,
    #      lr_t = 0.1 sqrt(1 - 0.999^2) / (1 - 0.9^2) = 0.1 sqrt(0.001999) / 0.19
    "adam": (
        1.0 - sqrt(0.001) * 0.05 / (sqrt(0.00025) + 1e-7),
        1.0
        - sqrt(0.001) * 0.05 / (sqrt(0.00025) + 1e-7)
        + 0.1 * sqrt(0.001999) / 0.19 * 0.055 / (sqrt(0.00124975) + 1e-7),
    ),
}

# The same values rounded, as a check on the expressions above.
ROUNDED = {
    "sgd": (0.95, 1.05),
    "momentum": (0.95, 1.005),
    "nesterov": (0.905, 1.0545),
    "adagrad": (0.90000002, 0.98944273),
    "rmsprop": (0.000002, 0.89532416),
    "adam": (0.90000063, 0.93661088),
}


def test_every_optimizer_has_a_hand_example() -> None:
    assert set(HAND) == set(OPTIMIZERS) == set(ROUNDED)


@pytest.mark.parametrize("name", sorted(HAND))
def test_two_steps_match_hand_computation(name: str) -> None:
    opt = make_optimizer(name, LR)
    params = {"W": np.array([W0])}
    weights = params["W"]
    opt.update(params, {"W": np.array([G1])})
    # atol: rmsprop's w1 = 1 - 0.999998 keeps only ~10 of the 16 digits.
    np.testing.assert_allclose(params["W"], [HAND[name][0]], rtol=1e-12, atol=1e-14)
    opt.update(params, {"W": np.array([G2])})
    np.testing.assert_allclose(params["W"], [HAND[name][1]], rtol=1e-12)
    np.testing.assert_allclose(params["W"], [ROUNDED[name][1]], rtol=1e-7, atol=1e-8)
    assert params["W"] is weights, "the update must change the array in place, not rebind it"


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_keys_are_updated_independently(name: str) -> None:
    opt = make_optimizer(name, LR)
    params = {"W": np.array([W0, W0]), "b": np.array([W0])}
    for g in (G1, G2):
        opt.update(params, {"W": np.array([g, g]), "b": np.array([g])})
    np.testing.assert_allclose(params["W"], [HAND[name][1]] * 2, rtol=1e-12)
    np.testing.assert_allclose(params["b"], [HAND[name][1]], rtol=1e-12)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_float32_params_stay_float32(name: str) -> None:
    opt = make_optimizer(name, LR)
    params = {"W": np.ones(3, dtype=np.float32)}
    opt.update(params, {"W": np.full(3, 0.5, dtype=np.float32)})
    assert params["W"].dtype == np.float32
    assert all(
        v.dtype == np.float32 for v in opt.state_dict().values() if isinstance(v, np.ndarray)
    )


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_dict_round_trip_continues_exactly(name: str, tmp_path) -> None:
    rng = np.random.default_rng(3)
    shapes = {"W1": (3, 2), "b1": (2,), "W2": (2, 4)}
    grads = [{k: rng.standard_normal(s) for k, s in shapes.items()} for _ in range(5)]
    params = {k: rng.standard_normal(s) for k, s in shapes.items()}

    first = make_optimizer(name, 0.05)
    for g in grads[:3]:
        first.update(params, g)
    state = first.state_dict()
    assert all(isinstance(v, (np.ndarray, float, int)) for v in state.values())
    np.savez(tmp_path / "opt.npz", **state)
    resumed_params = {k: v.copy() for k, v in params.items()}

    second = make_optimizer(name, 0.05)
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as saved:
        second.load_state_dict(dict(saved))
    for g in grads[3:]:
        first.update(params, g)
        second.update(resumed_params, g)
    for key in shapes:
        np.testing.assert_array_equal(resumed_params[key], params[key])


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_state_dict_holds_copies_and_is_needed(name: str) -> None:
    # A fresh optimizer (no state) continues differently from a loaded one: the state matters.
    params = {"W": np.array([W0])}
    opt = make_optimizer(name, LR)
    opt.update(params, {"W": np.array([G1])})
    state = opt.state_dict()
    for value in state.values():
        if isinstance(value, np.ndarray):
            value[...] = 123.0  # must not reach the optimizer
    fresh_params = {"W": params["W"].copy()}
    opt.update(params, {"W": np.array([G2])})
    np.testing.assert_allclose(params["W"], [HAND[name][1]], rtol=1e-12)
    make_optimizer(name, LR).update(fresh_params, {"W": np.array([G2])})
    assert not np.allclose(fresh_params["W"], params["W"])


def test_state_dict_restores_hyperparameters() -> None:
    opt = make_optimizer("adam", 0.5, beta1=0.8)
    opt.update({"W": np.ones(1)}, {"W": np.ones(1)})
    other = make_optimizer("adam", 0.1)
    other.load_state_dict(opt.state_dict())
    assert (other.lr, other.beta1, other.beta2, other.iter) == (0.5, 0.8, 0.999, 1)


def test_load_state_dict_refuses_foreign_keys() -> None:
    with pytest.raises(ValueError, match="no entry 'x.W'"):
        make_optimizer("momentum", 0.1).load_state_dict(
            {"lr": 0.1, "momentum": 0.9, "x.W": np.ones(1)}
        )
    with pytest.raises(ValueError, match="lacks"):
        make_optimizer("adam", 0.1).load_state_dict({"lr": 0.1})


def test_settings_are_passed_and_none_ignored() -> None:
    assert make_optimizer("momentum", 0.1, momentum=0.5).momentum == 0.5
    assert make_optimizer("nesterov", 0.1).momentum == 0.9
    assert make_optimizer("rmsprop", 0.1).decay_rate == 0.99
    adam = make_optimizer("adam", 0.1, beta1=0.8, beta2=None)
    assert (adam.beta1, adam.beta2) == (0.8, 0.999)
    assert make_optimizer("sgd", 0.1, momentum=None).lr == 0.1
    assert optimizer_settings("adam") == ("beta1", "beta2")
    assert optimizer_settings("sgd") == ()


@pytest.mark.parametrize(
    ("name", "lr", "settings", "match"),
    [
        ("sgdx", 0.1, {}, "unknown optimizer 'sgdx'"),
        ("sgd", 0.1, {"momentum": 0.9}, "optimizer 'sgd' has no setting 'momentum'"),
        ("adam", 0.1, {"momentum": 0.9}, "optimizer 'adam' has no setting 'momentum'"),
        ("momentum", 0.1, {"momentum": 1.5}, "momentum must lie in"),
        ("rmsprop", 0.1, {"decay_rate": -0.1}, "decay_rate must lie in"),
        ("sgd", -1.0, {}, "lr must be a positive"),
        ("sgd", float("nan"), {}, "lr must be a positive"),
    ],
)
def test_bad_names_and_settings_raise_one_line(name, lr, settings, match) -> None:
    with pytest.raises(ValueError, match=match) as info:
        make_optimizer(name, lr, **settings)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_optimizer_lowers_a_loss(name: str) -> None:
    # f(w) = 0.5 |w - target|^2 has gradient w - target; 50 steps must get closer.
    target = np.array([1.0, -2.0, 3.0])
    params = {"w": np.zeros(3)}
    opt = make_optimizer(name, 0.2)
    for _ in range(50):
        opt.update(params, {"w": params["w"] - target})
    assert np.linalg.norm(params["w"] - target) < 0.5 * np.linalg.norm(target)
