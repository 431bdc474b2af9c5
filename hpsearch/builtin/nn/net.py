"""``MultiLayerNet``: the fully connected network of "Deep Learning from Scratch".

The interface is the book's (``params`` with ``W1``, ``b1``, ...; ``predict``, ``loss``,
``accuracy``, ``numerical_gradient``, ``gradient``), with its known traps fixed: every random
draw takes a :class:`numpy.random.Generator`, no mutable default arguments, and a ``dtype``
(float32 by default, which halves memory traffic and doubles BLAS speed on a CPU).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hpsearch.builtin.nn.activations import make_activation
from hpsearch.builtin.nn.layers import (
    Affine,
    BatchNormalization,
    Dropout,
    Layer,
    SoftmaxWithLoss,
)

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


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class MultiLayerNet:
    """A fully connected network:
    (Affine, [BatchNorm], activation, [Dropout]) x hidden, Affine, softmax.

    The book's ``MultiLayerNet`` and ``MultiLayerNetExtend`` in one class: without batch norm
    and dropout (the defaults) it is the former.

    Args:
        input_size: Number of input features (784 for MNIST).
        hidden_size_list: Units of each hidden layer, e.g. ``[100] * 6``.
        output_size: Number of classes.
        activation: Name of the hidden layers' activation: relu, sigmoid, tanh, swish, mish,
            hswish or tanhexp (see :func:`~hpsearch.builtin.nn.activations.make_activation`).
        weight_init_std: ``"relu"``/``"he"``, ``"sigmoid"``/``"xavier"`` or a float.
        weight_decay_lambda: L2 weight decay: the loss gains ``0.5 * lambda * sum(W**2)``.
        activation_options: The activation's own options, e.g. ``{"n": 4.0}`` for hswish's
            width; None values are ignored.
        use_batchnorm: Put a :class:`BatchNormalization` between each hidden Affine and its
            activation; its ``gamma1``, ``beta1``, ... join :attr:`params`.
        dropout_ratio: If positive, a :class:`Dropout` after each hidden activation, dropping
            units with this probability in training. Its masks are drawn from ``rng``.
        flooding: The Flooding level ``b`` (Ishida et al. 2020), or None for none. The training
            loss ``E`` (cross-entropy plus weight decay) becomes ``|E - b| + b``: above ``b``
            nothing changes, below it the gradient's sign flips and the step climbs back up.
            :meth:`loss` and :meth:`loss_and_gradient` return this flooded value.
        rng: The generator for the initial weights and the dropout masks (a fresh unseeded
            one if None).
        dtype: Floating type of the weights and of the computation.

    Attributes:
        params: The book's dict of parameter arrays (``W1``, ``b1``, ...), updated in place.
        grads: The gradients of the last :meth:`loss_and_gradient`, keyed as ``params``.
        param_vector, grad_vector: All params, and all gradients, as one 1-D array each;
            ``params`` and ``grads`` hold views of them. Elementwise optimizers (all of the
            book's) give the same result on ``{"all": param_vector}`` as on ``params``, in
            one NumPy operation per formula term instead of one per array.

    Raises:
        ValueError: An option out of range, an unknown activation or init name.

    Example:
        >>> net = MultiLayerNet(784, [100, 100], 10, rng=np.random.default_rng(0))
        >>> sorted(net.params)
        ['W1', 'W2', 'W3', 'b1', 'b2', 'b3']
        >>> net.params["W2"].base is net.param_vector, net.param_vector.size
        (True, 89610)
        >>> net = MultiLayerNet(4, [3], 2, "hswish", activation_options={"n": 4.0},
        ...                     use_batchnorm=True, dropout_ratio=0.5, rng=np.random.default_rng(0))
        >>> [name for name, _ in net.layers]
        ['Affine1', 'BatchNorm1', 'Activation_function1', 'Dropout1', 'Affine2']
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
        activation_options: Mapping[str, Any] | None = None,
        use_batchnorm: bool = False,
        dropout_ratio: float = 0.0,
        flooding: float | None = None,
        rng: np.random.Generator | None = None,
        dtype: type | str = np.float32,
    ) -> None:
        if not (_is_real(weight_decay_lambda) and 0 <= weight_decay_lambda < float("inf")):
            raise ValueError(
                f"weight_decay_lambda must be a number >= 0, but got {weight_decay_lambda!r}"
            )
        if not (_is_real(dropout_ratio) and 0 <= dropout_ratio < 1):
            raise ValueError(f"dropout_ratio must lie in [0, 1), but got {dropout_ratio!r}")
        if flooding is not None and not (_is_real(flooding) and 0 <= flooding < float("inf")):
            raise ValueError(f"flooding must be None or a finite number >= 0, but got {flooding!r}")
        self.input_size = input_size
        self.hidden_size_list = list(hidden_size_list)
        self.output_size = output_size
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.use_batchnorm = bool(use_batchnorm)
        self.dropout_ratio = float(dropout_ratio)
        self.flooding = None if flooding is None else float(flooding)
        self.dtype = np.dtype(dtype)
        self.rng = rng if rng is not None else np.random.default_rng()
        options = dict(activation_options or {})
        make_activation(activation, **options)  # fail here, before drawing any weight

        # Every param lives in one vector, and every gradient in another: ``params["W1"]`` and
        # ``grads["W1"]`` are views of their parts. An optimizer step over all params, or the
        # weight decay over all weights, is then one NumPy operation per term instead of one per
        # array. The weights come first in both vectors, so that the decay's part is one slice.
        sizes = [input_size, *self.hidden_size_list, output_size]
        n_layers = len(sizes) - 1
        shapes: dict[str, tuple[int, ...]] = {
            f"W{i}": (sizes[i - 1], sizes[i]) for i in range(1, n_layers + 1)
        }
        shapes.update({f"b{i}": (sizes[i],) for i in range(1, n_layers + 1)})
        if self.use_batchnorm:
            shapes.update(
                {
                    f"{name}{i}": (sizes[i],)
                    for i in range(1, n_layers)
                    for name in ("gamma", "beta")
                }
            )
        parts: dict[str, slice] = {}
        offset = 0
        for key, shape in shapes.items():
            parts[key] = slice(offset, offset + int(np.prod(shape)))
            offset = parts[key].stop
        # Each key's part of the vectors and shape, in the book's order of keys: W1, b1, ...,
        # Wn, bn, then gamma1, beta1, ... (MultiLayerNetExtend).
        order = [f"{name}{i}" for i in range(1, n_layers + 1) for name in ("W", "b")]
        order += [key for key in shapes if key not in order]
        self._layout: dict[str, tuple[slice, tuple[int, ...]]] = {
            key: (parts[key], shapes[key]) for key in order
        }
        self._n_weights = parts[f"W{n_layers}"].stop
        self.param_vector = np.zeros(offset, dtype=self.dtype)
        self.grad_vector = np.zeros(offset, dtype=self.dtype)
        self.affine_layers: list[tuple[int, Affine]] = []
        self.batchnorm_layers: list[tuple[int, BatchNormalization]] = []
        self._bind_views()
        for idx in range(1, n_layers + 1):  # the book's order of random draws
            scale = init_std(weight_init_std, sizes[idx - 1])
            self.params[f"W{idx}"][...] = scale * self.rng.standard_normal(shapes[f"W{idx}"])
        for idx in range(1, n_layers if self.use_batchnorm else 1):
            self.params[f"gamma{idx}"][...] = 1

        # An ordered list of layers, as in the book; Affine and BatchNorm layers share the
        # params' arrays, which the optimizers update in place, and write their gradients
        # into the grads' arrays. The (index, layer) lists below spare each step a search
        # of ``layers``.
        self.layers: list[tuple[str, Layer]] = []
        self.dropout_layers: list[tuple[int, Dropout]] = []
        for idx in range(1, n_layers + 1):
            affine = Affine(
                self.params[f"W{idx}"],
                self.params[f"b{idx}"],
                need_dx=idx > 1,
                dW=self.grads[f"W{idx}"],
                db=self.grads[f"b{idx}"],
            )
            self.layers.append((f"Affine{idx}", affine))
            self.affine_layers.append((idx, affine))
            if idx == n_layers:
                break
            if self.use_batchnorm:
                bn = BatchNormalization(
                    self.params[f"gamma{idx}"],
                    self.params[f"beta{idx}"],
                    dgamma=self.grads[f"gamma{idx}"],
                    dbeta=self.grads[f"beta{idx}"],
                )
                self.layers.append((f"BatchNorm{idx}", bn))
                self.batchnorm_layers.append((idx, bn))
            self.layers.append(
                (f"Activation_function{idx}", make_activation(activation, **options))
            )
            if self.dropout_ratio > 0:
                dropout = Dropout(self.dropout_ratio, self.rng)
                self.layers.append((f"Dropout{idx}", dropout))
                self.dropout_layers.append((idx, dropout))
        self.last_layer = SoftmaxWithLoss()

    def _bind_views(self) -> None:
        """Points ``params``, ``grads``, the weights' slices and the layers at the two vectors."""
        self.params = {
            key: self.param_vector[part].reshape(shape)
            for key, (part, shape) in self._layout.items()
        }
        self.grads = {
            key: self.grad_vector[part].reshape(shape)
            for key, (part, shape) in self._layout.items()
        }
        self._weights = self.param_vector[: self._n_weights]
        self._weight_grads = self.grad_vector[: self._n_weights]
        for idx, affine in self.affine_layers:
            affine.W, affine.b = self.params[f"W{idx}"], self.params[f"b{idx}"]
            affine.dW, affine.db = self.grads[f"W{idx}"], self.grads[f"b{idx}"]
        for idx, bn in self.batchnorm_layers:
            bn.gamma, bn.beta = self.params[f"gamma{idx}"], self.params[f"beta{idx}"]
            bn.dgamma, bn.dbeta = self.grads[f"gamma{idx}"], self.grads[f"beta{idx}"]

    def pack(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """One new vector laid out as :attr:`param_vector`,
        from arrays keyed and shaped as :attr:`params`.

        Raises:
            ValueError: The keys are not the params' keys.
        """
        if set(arrays) != set(self._layout):
            raise ValueError(
                f"keys {sorted(arrays)} are not the network's params {sorted(self._layout)}"
            )
        vector = np.empty_like(self.param_vector)
        for key, (part, _) in self._layout.items():
            vector[part] = np.asarray(arrays[key]).reshape(-1)
        return vector

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A copy or an unpickled net gets each view as an array of its own: tie them to the
        # copied vectors again, or an optimizer stepping the vector would move nothing.
        self.__dict__.update(state)
        self._bind_views()

    def predict(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        """Class scores (before softmax) for a batch ``x``.

        ``train_flg=True`` uses batch statistics and draws dropout masks; False (inference)
        uses the running statistics and keeps every unit.
        """
        x = np.asarray(x, dtype=self.dtype)
        for _, layer in self.layers:
            x = layer.forward(x, train_flg)
        return x

    def weight_decay_loss(self) -> float:
        """``0.5 * lambda * sum(W**2)`` over every weight matrix (0 when lambda is 0)."""
        if not self.weight_decay_lambda:
            return 0.0
        return 0.5 * self.weight_decay_lambda * float(np.vdot(self._weights, self._weights))

    def _flooded(self, loss: float) -> tuple[float, float]:
        """``(|E - b| + b, sign)``: the flooded loss and the factor its gradient takes."""
        b = self.flooding
        if b is None or loss >= b:
            return loss, 1.0
        return 2.0 * b - loss, -1.0

    def loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool = False) -> float:
        """Cross-entropy plus weight decay for the batch ``(x, t)``,
        flooded if ``flooding`` is set.
        """
        scores = self.predict(x, train_flg)
        return self._flooded(self.last_layer.forward(scores, t) + self.weight_decay_loss())[0]

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """Share of rows whose highest score is the label (``t`` as indices or one-hot);
        inference mode.
        """
        y = self.predict(x, train_flg=False).argmax(axis=1)
        labels = t.argmax(axis=1) if t.ndim != 1 else t
        return float(np.mean(y == labels))

    def loss_and_gradient(
        self, x: np.ndarray, t: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray]]:
        """One training-mode forward and one backward pass: the loss and every param's gradient.

        The trainer calls this once per step, so the loss it records costs no second forward.

        Returns:
            The (flooded) loss, and the gradients keyed as :attr:`params`: a new dict of the
            views in :attr:`grads`, whose values the next call overwrites (copy them to keep).
        """
        scores = self.predict(x, train_flg=True)
        loss, sign = self._flooded(self.last_layer.forward(scores, t) + self.weight_decay_loss())
        dout: np.ndarray | None = self.last_layer.backward(sign)
        for name, layer in reversed(self.layers):
            if dout is None:  # only the first Affine, last in this loop, skips its input gradient
                raise RuntimeError(f"the layer after {name} returned no input gradient")
            dout = layer.backward(dout)
        lam = sign * self.weight_decay_lambda
        if lam:
            self._weight_grads += lam * self._weights
        return loss, dict(self.grads)

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """The gradient of :meth:`loss` (training mode) by backpropagation, keyed as :attr:`params`.

        New arrays, as the book's ``gradient`` returns (:meth:`loss_and_gradient` does not copy).
        """
        return {key: g.copy() for key, g in self.loss_and_gradient(x, t)[1].items()}

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """The gradient of :meth:`loss` (training mode) by central differences (slow; for checking).

        With dropout, fix the masks first (:meth:`Dropout.fix_mask`), or every probe draws anew.
        """
        return {
            key: numerical_gradient(lambda: self.loss(x, t, train_flg=True), param)
            for key, param in self.params.items()
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the params and the batch-norm running statistics (``running_mean1``, ...).

        Plain arrays only, for ``np.savez``; with the optimizer's state dict, enough to pause a
        trial and continue it exactly (the generator's state is the caller's to keep).
        """
        d = {key: val.copy() for key, val in self.params.items()}
        for idx, layer in self.batchnorm_layers:
            d[f"running_mean{idx}"] = layer.running_mean.copy()
            d[f"running_var{idx}"] = layer.running_var.copy()
        return d

    def load_state_dict(self, d: Mapping[str, np.ndarray]) -> None:
        """Copies what :meth:`state_dict` returned into this net's arrays, in place.

        Raises:
            ValueError: A key is missing or unexpected, or a shape differs.
        """
        targets = dict(self.params)
        for idx, layer in self.batchnorm_layers:
            targets[f"running_mean{idx}"] = layer.running_mean
            targets[f"running_var{idx}"] = layer.running_var
        if set(d) != set(targets):
            raise ValueError(f"state keys {sorted(d)} do not match the network's {sorted(targets)}")
        for key, arr in targets.items():
            value = np.asarray(d[key])
            if value.shape != arr.shape:
                raise ValueError(
                    f"state {key!r} has shape {value.shape}, but the network's is {arr.shape}"
                )
            arr[...] = value


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
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
