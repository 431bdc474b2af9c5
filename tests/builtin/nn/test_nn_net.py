"""MultiLayerNet: gradient checks with batch norm, dropout, Flooding and weight decay; init;
state."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.builtin.nn.activations import ACTIVATIONS, HSwish
from hpsearch.builtin.nn.layers import Affine, BatchNormalization
from hpsearch.builtin.nn.net import MultiLayerNet, init_std
from hpsearch.builtin.nn.optimizers import OPTIMIZERS, make_optimizer

BATCH, IN, HIDDEN, OUT = 6, 5, [4, 3], 3
# rtol 1e-4: the book's loss is -log(p + 1e-7), whose slope differs from y - t by ~1e-7 / p.
TOL = dict(rtol=1e-4, atol=1e-7)


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((BATCH, IN)), rng.integers(0, OUT, BATCH)


def _net(activation: str = "tanh", seed: int = 0, **kwargs) -> MultiLayerNet:
    kwargs.setdefault("weight_init_std", 0.8)
    return MultiLayerNet(
        IN, HIDDEN, OUT, activation, rng=np.random.default_rng(seed), dtype=np.float64, **kwargs
    )


def _assert_gradient_matches(
    net: MultiLayerNet, x: np.ndarray, t: np.ndarray
) -> dict[str, np.ndarray]:
    grads = net.gradient(x, t)
    grads = {k: v.copy() for k, v in grads.items()}  # the numerical probes must not touch them
    numeric = net.numerical_gradient(x, t)
    assert set(grads) == set(net.params) == set(numeric)
    for key in net.params:
        np.testing.assert_allclose(grads[key], numeric[key], err_msg=key, **TOL)
    return grads


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_gradient_check_every_activation_in_a_net(activation: str) -> None:
    x, t = _data()
    # Seed 3 keeps every ReLU / h-swish pre-activation clear of its kinks for this batch.
    _assert_gradient_matches(_net(activation, seed=3), x, t)


@pytest.mark.parametrize("use_batchnorm", [False, True])
def test_gradient_check_weight_decay(use_batchnorm: bool) -> None:
    x, t = _data()
    plain, decayed = (
        _net(use_batchnorm=use_batchnorm),
        _net(weight_decay_lambda=0.3, use_batchnorm=use_batchnorm),
    )
    biases = np.random.default_rng(1).standard_normal(3)
    for net in (plain, decayed):  # non-zero biases, so that decaying them would show
        for i in (1, 2, 3):
            net.params[f"b{i}"][...] = biases[i - 1]
    sum_w2 = sum(float(np.sum(plain.params[f"W{i}"] ** 2)) for i in (1, 2, 3))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + 0.5 * 0.3 * sum_w2, rel=1e-12)
    grads = _assert_gradient_matches(decayed, x, t)
    plain_grads = plain.gradient(x, t)
    for key in plain.params:  # weights only: every other param's gradient is the plain one
        decay = 0.3 * plain.params[key] if key[0] == "W" else 0
        np.testing.assert_allclose(grads[key], plain_grads[key] + decay, rtol=1e-12)


def test_gradient_check_batchnorm() -> None:
    x, t = _data()
    net = _net(use_batchnorm=True)
    assert {"gamma1", "beta1", "gamma2", "beta2"} <= set(net.params)
    assert "gamma3" not in net.params  # none after the output layer
    # Move gamma and beta away from 1 and 0 so that their gradients are not special.
    rng = np.random.default_rng(9)
    for key in ("gamma1", "beta1", "gamma2", "beta2"):
        net.params[key] += rng.uniform(-0.5, 0.5, net.params[key].shape)
    _assert_gradient_matches(net, x, t)


def test_gradient_check_dropout_with_fixed_masks() -> None:
    x, t = _data()
    net = _net(dropout_ratio=0.4)
    rng = np.random.default_rng(4)
    masks = {}
    for idx, layer in net.dropout_layers:
        masks[idx] = rng.random((BATCH, HIDDEN[idx - 1])) >= 0.4
        layer.fix_mask(masks[idx])
    assert len(masks) == 2 and not all(m.all() for m in masks.values())
    grads = _assert_gradient_matches(net, x, t)
    # A unit dropped for every row of the batch gets no gradient for its incoming weights.
    net2 = _net(dropout_ratio=0.4)
    for idx, layer in net2.dropout_layers:
        keep = np.ones((BATCH, HIDDEN[idx - 1]), dtype=bool)
        keep[:, 0] = False
        layer.fix_mask(keep)
    g2 = net2.gradient(x, t)
    np.testing.assert_array_equal(g2["W1"][:, 0], 0.0)
    assert np.any(grads["W1"][:, 0] != 0.0)


def test_gradient_check_batchnorm_and_dropout_together() -> None:
    x, t = _data(1)
    net = _net("relu", seed=2, use_batchnorm=True, dropout_ratio=0.3)
    names = [name for name, _ in net.layers]
    assert names == [
        "Affine1",
        "BatchNorm1",
        "Activation_function1",
        "Dropout1",
        "Affine2",
        "BatchNorm2",
        "Activation_function2",
        "Dropout2",
        "Affine3",
    ]
    rng = np.random.default_rng(0)
    for idx, layer in net.dropout_layers:
        layer.fix_mask(rng.random((BATCH, HIDDEN[idx - 1])) >= 0.3)
    _assert_gradient_matches(net, x, t)


@pytest.mark.parametrize("side", ["loss above b", "loss below b"])
def test_gradient_check_flooding_both_sides(side: str) -> None:
    x, t = _data()
    plain = _net(weight_decay_lambda=0.05)
    raw = plain.loss(x, t, train_flg=True)
    b = raw - 0.4 if side == "loss above b" else raw + 0.4
    assert b > 0
    flooded = _net(weight_decay_lambda=0.05, flooding=b)
    grads = _assert_gradient_matches(flooded, x, t)
    loss, _ = flooded.loss_and_gradient(x, t)
    plain_grads = plain.gradient(x, t)
    if side == "loss above b":
        assert loss == pytest.approx(raw, rel=1e-12)
        sign = 1.0
    else:
        assert loss == pytest.approx(abs(raw - b) + b, rel=1e-12)
        assert loss == pytest.approx(b + 0.4, rel=1e-12)
        sign = -1.0
    for key in plain.params:  # weight decay's share flips too: the whole training loss is flooded
        np.testing.assert_allclose(grads[key], sign * plain_grads[key], rtol=1e-12, atol=1e-15)


def test_flooding_zero_changes_nothing() -> None:
    x, t = _data()
    loss, grads = _net(flooding=0.0).loss_and_gradient(x, t)
    plain_loss, plain_grads = _net().loss_and_gradient(x, t)
    assert loss == plain_loss
    for key in grads:
        np.testing.assert_array_equal(grads[key], plain_grads[key])


def test_init_std_values() -> None:
    assert init_std("relu", 50) == pytest.approx(np.sqrt(2 / 50))
    assert init_std("he", 784) == pytest.approx(np.sqrt(2 / 784))
    assert init_std("sigmoid", 50) == pytest.approx(np.sqrt(1 / 50))
    assert init_std("Xavier", 100) == pytest.approx(0.1)
    assert init_std(0.01, 100) == 0.01
    for bad in ("gauss", -0.1, 0.0):
        with pytest.raises(ValueError, match="weight_init_std"):
            init_std(bad, 10)


@pytest.mark.parametrize(
    ("init", "expected"), [("he", np.sqrt(2 / 784)), ("xavier", np.sqrt(1 / 784)), (0.05, 0.05)]
)
def test_initial_weights_have_that_std(init, expected) -> None:
    net = MultiLayerNet(784, [100, 100], 10, weight_init_std=init, rng=np.random.default_rng(0))
    assert net.params["W1"].dtype == np.float32
    assert np.std(net.params["W1"]) == pytest.approx(expected, rel=0.02)  # 78400 draws: ~0.3% noise
    second = {"he": np.sqrt(2 / 100), "xavier": np.sqrt(1 / 100)}.get(init, 0.05)
    assert np.std(net.params["W2"]) == pytest.approx(second, rel=0.05)
    assert not np.any(net.params["b1"])


def test_same_generator_seed_same_net() -> None:
    a, b, c = (_net(seed=s, dropout_ratio=0.5) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    x, t = _data()
    np.testing.assert_array_equal(a.gradient(x, t)["W1"], b.gradient(x, t)["W1"])  # same masks too


def test_inference_mode_has_no_dropout_and_uses_running_stats() -> None:
    x, t = _data()
    with_dropout = _net(dropout_ratio=0.5)
    without = _net()
    np.testing.assert_array_equal(with_dropout.predict(x), without.predict(x))
    assert not np.array_equal(with_dropout.predict(x, train_flg=True), without.predict(x))
    assert with_dropout.accuracy(x, t) == without.accuracy(x, t)

    bn = _net(use_batchnorm=True)
    first = bn.predict(x[:1])  # inference works on one row and is deterministic
    np.testing.assert_array_equal(bn.predict(x[:1]), first)
    bn.predict(x, train_flg=True)  # a training pass moves the running statistics
    assert not np.array_equal(bn.predict(x[:1]), first)


def test_activation_options_reach_every_layer() -> None:
    net = _net("hswish", activation_options={"n": 4.0})
    widths = [layer.n for _, layer in net.layers if isinstance(layer, HSwish)]
    assert widths == [4.0, 4.0]
    _net("relu", activation_options={"n": None})  # None means "not set"
    with pytest.raises(ValueError, match="activation 'relu' has no option 'n'"):
        _net("relu", activation_options={"n": 4.0})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"activation": "gelu"}, "unknown activation 'gelu'"),
        ({"weight_init_std": "uniform"}, "weight_init_std"),
        ({"dropout_ratio": 1.0}, "dropout_ratio"),
        ({"dropout_ratio": -0.1}, "dropout_ratio"),
        ({"flooding": -0.5}, "flooding"),
        ({"flooding": float("nan")}, "flooding"),
        ({"weight_decay_lambda": -1.0}, "weight_decay_lambda"),
    ],
)
def test_bad_options_raise(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        MultiLayerNet(IN, HIDDEN, OUT, rng=np.random.default_rng(0), **kwargs)


def test_updates_in_place_reach_the_layers() -> None:
    net = _net(use_batchnorm=True)
    for name, layer in net.layers:
        if isinstance(layer, Affine):
            idx = name[len("Affine") :]
            assert layer.W is net.params[f"W{idx}"] and layer.b is net.params[f"b{idx}"]
        if isinstance(layer, BatchNormalization):
            idx = name[len("BatchNorm") :]
            assert (
                layer.gamma is net.params[f"gamma{idx}"] and layer.beta is net.params[f"beta{idx}"]
            )


def test_params_and_grads_are_views_of_the_two_vectors() -> None:
    net = _net(use_batchnorm=True)
    # The book's MultiLayerNetExtend order: every W and b, then every gamma and beta.
    assert list(net.params) == [
        "W1",
        "b1",
        "W2",
        "b2",
        "W3",
        "b3",
        "gamma1",
        "beta1",
        "gamma2",
        "beta2",
    ]
    assert net.param_vector.size == sum(p.size for p in net.params.values()) == net.grad_vector.size
    for key in net.params:
        assert np.shares_memory(net.params[key], net.param_vector)
        assert np.shares_memory(net.grads[key], net.grad_vector)
    net.param_vector[:] = 0.5  # writes through the vector reach the layers' arrays
    assert np.all(net.params["W2"] == 0.5) and np.all(net.layers[0][1].W == 0.5)
    x, t = _data()
    _, grads = net.loss_and_gradient(x, t)
    assert grads is not net.grads and all(grads[key] is net.grads[key] for key in net.grads)
    assert np.all(net.grad_vector == np.concatenate([g.ravel() for g in _in_vector_order(grads)]))


def _in_vector_order(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    return sorted(arrays.values(), key=lambda a: a.ctypes.data)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_net_trains_through_its_own_vector(how: str) -> None:
    import copy
    import pickle

    net = _net(use_batchnorm=True)
    other = copy.deepcopy(net) if how == "deepcopy" else pickle.loads(pickle.dumps(net))
    for key in other.params:
        assert np.shares_memory(other.params[key], other.param_vector)
        assert np.shares_memory(other.grads[key], other.grad_vector)
        assert not np.shares_memory(other.params[key], net.param_vector)
    assert other.layers[0][1].W is other.params["W1"] and other.layers[0][1].dW is other.grads["W1"]
    assert other.batchnorm_layers[0][1].gamma is other.params["gamma1"]
    x, t = _data()
    before = net.loss(x, t)
    other.loss_and_gradient(x, t)
    other.param_vector -= 0.1 * other.grad_vector  # what the Trainer's optimizer does
    assert other.loss(x, t) < before
    assert net.loss(x, t) == before  # the original is untouched


def test_gradient_returns_copies_that_later_calls_leave_alone() -> None:
    net = _net(weight_decay_lambda=0.1)
    x, t = _data(0)
    first = net.gradient(x, t)
    kept = {k: v.copy() for k, v in first.items()}
    net.gradient(*_data(1))
    for key in kept:
        np.testing.assert_array_equal(first[key], kept[key])
        assert not np.shares_memory(first[key], net.grad_vector)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_stepping_the_vector_equals_stepping_each_param(name: str) -> None:
    """What the Trainer does (one update of the whole vector) is bit for bit the book's
    per-param update."""
    x, t = _data()
    nets = [_net("relu", weight_decay_lambda=0.01, use_batchnorm=True) for _ in range(2)]
    opts = [make_optimizer(name, 0.05) for _ in range(2)]
    for _ in range(3):
        _, grads = nets[0].loss_and_gradient(x, t)
        opts[0].update(nets[0].params, grads)
        nets[1].loss_and_gradient(x, t)
        opts[1].update({"all": nets[1].param_vector}, {"all": nets[1].grad_vector})
    assert not np.array_equal(nets[0].params["W1"], _net("relu").params["W1"])  # it did move
    for key in nets[0].params:
        np.testing.assert_array_equal(nets[0].params[key], nets[1].params[key])


def test_state_dict_round_trip(tmp_path) -> None:
    x, t = _data()
    net = _net(use_batchnorm=True, seed=1)
    net.loss_and_gradient(x, t)  # running statistics move away from their start
    np.savez(tmp_path / "net.npz", **net.state_dict())
    other = _net(use_batchnorm=True, seed=2)
    W1 = other.params["W1"]
    with np.load(tmp_path / "net.npz", allow_pickle=False) as saved:
        other.load_state_dict(dict(saved))
    assert other.params["W1"] is W1  # loaded in place: the layers still see the params
    np.testing.assert_array_equal(other.predict(x), net.predict(x))
    np.testing.assert_array_equal(other.gradient(x, t)["W1"], net.gradient(x, t)["W1"])
    with pytest.raises(ValueError, match="do not match"):
        _net().load_state_dict(net.state_dict())


def test_default_net_trains_in_float32() -> None:
    rng = np.random.default_rng(0)
    net = MultiLayerNet(20, [16, 16], 3, rng=rng)
    x = rng.standard_normal((60, 20)).astype(np.float32)
    t = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    first, _ = net.loss_and_gradient(x, t)
    for _ in range(100):
        loss, grads = net.loss_and_gradient(x, t)
        assert all(g.dtype == np.float32 for g in grads.values())
        for key, g in grads.items():
            net.params[key] -= 0.1 * g
    assert loss < 0.5 * first
    assert net.accuracy(x, t) > 0.8
    assert net.dropout_layers == [] and net.batchnorm_layers == []
