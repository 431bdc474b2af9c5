"""``MultiLayerNet``: the fully connected network of "Deep Learning from Scratch".

The interface is the book's (``params`` with ``W1``, ``b1``, ...; ``predict``, ``loss``,
``accuracy``, ``numerical_gradient``, ``gradient``), with its known traps fixed: every random
draw takes a :class:`numpy.random.Generator`, no mutable default arguments, and a ``dtype``
(float32 by default, which halves memory traffic and doubles BLAS speed on a CPU).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hpsearch.nn.activations import make_activation
from hpsearch.nn.layers import Affine, SoftmaxWithLoss

__all__ = ["MultiLayerNet", "init_std", "numerical_gradient"]


def init_std(weight_init_std: str | float, fan_in: int) -> float:
    """The standard deviation of a layer's initial weights.

    Args:
        weight_init_std: ``"relu"``/``"he"`` for sqrt(2 / fan_in), ``"sigmoid"``/``"xavier"``
            for sqrt(1 / fan_in), or a float used as it is.
        fan_in: The number of inputs of the layer.

    Raises:
        ValueError: An unknown name or a non-positive float.
    """
    if isinstance(weight_init_std, str):
        key = weight_init_std.lower()
        if key in ("relu", "he"):
            return float(np.sqrt(2.0 / fan_in))
        if key in ("sigmoid", "xavier"):
            return float(np.sqrt(1.0 / fan_in))
        raise ValueError(
            f"weight_init_std must be 'relu', 'he', 'sigmoid', 'xavier' or a positive float, "
            f"but got {weight_init_std!r}"
        )
    if not weight_init_std > 0:
        raise ValueError(f"weight_init_std must be positive, but got {weight_init_std!r}")
    return float(weight_init_std)


class MultiLayerNet:
    """A fully connected network: (Affine, activation) x hidden layers, Affine, softmax.

    Args:
        input_size: Number of input features (784 for MNIST).
        hidden_size_list: Units of each hidden layer, e.g. ``[100] * 6``.
        output_size: Number of classes.
        activation: Name of the hidden layers' activation (``"relu"``, ``"sigmoid"``, ...).
        weight_init_std: ``"relu"``/``"he"``, ``"sigmoid"``/``"xavier"`` or a float.
        weight_decay_lambda: L2 weight decay: the loss gains ``0.5 * lambda * sum(W**2)``.
        rng: The generator for the initial weights (a fresh unseeded one if None).
        dtype: Floating type of the weights and of the computation.

    Example:
        >>> net = MultiLayerNet(784, [100, 100], 10, rng=np.random.default_rng(0))
        >>> sorted(net.params)
        ['W1', 'W2', 'W3', 'b1', 'b2', 'b3']
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Sequence[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: str | float = "relu",
        weight_decay_lambda: float = 0.0,
        *,
        rng: np.random.Generator | None = None,
        dtype: type | str = np.float32,
    ) -> None:
        self.input_size = input_size
        self.hidden_size_list = list(hidden_size_list)
        self.output_size = output_size
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.dtype = np.dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng()

        self.params: dict[str, np.ndarray] = {}
        sizes = [input_size, *self.hidden_size_list, output_size]
        for idx in range(1, len(sizes)):
            scale = init_std(weight_init_std, sizes[idx - 1])
            W = scale * rng.standard_normal((sizes[idx - 1], sizes[idx]))
            self.params[f"W{idx}"] = W.astype(self.dtype)
            self.params[f"b{idx}"] = np.zeros(sizes[idx], dtype=self.dtype)

        # An ordered list of layers, as in the book; Affine layers share the params' arrays.
        self.layers: list[tuple[str, object]] = []
        for idx in range(1, len(sizes)):
            self.layers.append(
                (f"Affine{idx}", Affine(self.params[f"W{idx}"], self.params[f"b{idx}"], need_dx=idx > 1))
            )
            if idx < len(sizes) - 1:
                self.layers.append((f"Activation_function{idx}", make_activation(activation)))
        self.last_layer = SoftmaxWithLoss()

    @property
    def affine_layers(self) -> list[tuple[int, Affine]]:
        return [(int(name[6:]), layer) for name, layer in self.layers if isinstance(layer, Affine)]

    def predict(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        """Class scores (before softmax) for a batch ``x``."""
        x = np.asarray(x, dtype=self.dtype)
        for _, layer in self.layers:
            x = layer.forward(x, train_flg)
        return x

    def weight_decay_loss(self) -> float:
        """``0.5 * lambda * sum(W**2)`` over every weight matrix (0 when lambda is 0)."""
        if not self.weight_decay_lambda:
            return 0.0
        total = sum(float(np.vdot(W, W)) for key, W in self.params.items() if key[0] == "W")
        return 0.5 * self.weight_decay_lambda * total

    def loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool = False) -> float:
        """Cross-entropy plus weight decay for the batch ``(x, t)``."""
        scores = self.predict(x, train_flg)
        return self.last_layer.forward(scores, t) + self.weight_decay_loss()

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """Share of rows whose highest score is the label (``t`` as indices or one-hot)."""
        y = self.predict(x).argmax(axis=1)
        labels = t.argmax(axis=1) if t.ndim != 1 else t
        return float(np.mean(y == labels))

    def loss_and_gradient(self, x: np.ndarray, t: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """One forward and one backward pass: the loss and the gradient of every param.

        The trainer calls this once per step, so the loss it records costs no second forward.
        """
        loss = self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1.0)
        for _, layer in reversed(self.layers):
            dout = layer.backward(dout)

        grads: dict[str, np.ndarray] = {}
        lam = self.weight_decay_lambda
        for idx, layer in self.affine_layers:
            if lam:
                layer.dW += lam * layer.W
            grads[f"W{idx}"] = layer.dW
            grads[f"b{idx}"] = layer.db
        return loss, grads

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """The gradient of :meth:`loss` by backpropagation, keyed as :attr:`params`."""
        return self.loss_and_gradient(x, t)[1]

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """The gradient of :meth:`loss` by central differences (slow; for checking)."""
        return {key: numerical_gradient(lambda: self.loss(x, t, train_flg=True), param)
                for key, param in self.params.items()}


def numerical_gradient(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x``, changed in place.

    Args:
        f: A function of no arguments whose value depends on ``x``.
        x: The array to differentiate by; restored after each probe.
        h: The step; 1e-4 suits float64 (use float64 nets when checking gradients).
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        keep = x[idx].copy()
        x[idx] = keep + h
        fxh1 = f()
        x[idx] = keep - h
        fxh2 = f()
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = keep
    return grad
