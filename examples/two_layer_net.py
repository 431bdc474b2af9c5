"""A reader's own two-layer network, searched by hpsearch as a user objective.

Written as in chapter 5 of "Deep Learning from Scratch": layer classes with forward/backward,
backprop, plain SGD with L2 weight decay. hpsearch seeds the global ``np.random`` before each
call, so the unseeded ``np.random.randn`` and ``np.random.choice`` below give the same numbers
with any number of workers.

From the command line:

    python -m hpsearch random --trials 20 --objective examples/two_layer_net.py:objective

From Python:

    from hpsearch import Study, TrainConfig
    Study("two-layer", objective="examples/two_layer_net.py:objective", n_trials=20, n_jobs=2,
          config=TrainConfig(epochs=10)).optimize()
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hpsearch.trial import Trial


class Affine:
    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W, self.b = W, b
        self.x = self.dW = self.db = np.empty(0, dtype=W.dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class Relu:
    def __init__(self) -> None:
        self.mask = np.empty(0, dtype=bool)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x <= 0
        return np.where(self.mask, 0.0, x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return np.where(self.mask, 0.0, dout)


class SoftmaxWithLoss:
    """Softmax, then the cross-entropy error against integer labels ``t``."""

    def __init__(self) -> None:
        self.loss = 0.0
        self.y = self.t = np.empty(0)

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        e = np.exp(x - x.max(axis=1, keepdims=True))  # minus the row max: no overflow
        self.y, self.t = e / e.sum(axis=1, keepdims=True), t
        self.loss = float(-np.mean(np.log(self.y[np.arange(len(t)), t] + 1e-7)))
        return self.loss

    def backward(self) -> np.ndarray:
        dx = self.y.copy()
        dx[np.arange(len(self.t)), self.t] -= 1
        return dx / len(self.t)


class TwoLayerNet:
    def __init__(
        self, input_size: int, hidden_size: int, output_size: int, weight_init_std: float = 0.01
    ) -> None:
        # The global generator, as in the book: hpsearch has seeded it for this trial.
        self.params = {
            "W1": (weight_init_std * np.random.randn(input_size, hidden_size)).astype(np.float32),
            "b1": np.zeros(hidden_size, dtype=np.float32),
            "W2": (weight_init_std * np.random.randn(hidden_size, output_size)).astype(np.float32),
            "b2": np.zeros(output_size, dtype=np.float32),
        }
        self.affine1 = Affine(self.params["W1"], self.params["b1"])
        self.relu = Relu()
        self.affine2 = Affine(self.params["W2"], self.params["b2"])
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.affine2.forward(self.relu.forward(self.affine1.forward(x)))

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        return self.last_layer.forward(self.predict(x), t)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        return float(np.mean(self.predict(x).argmax(axis=1) == t))

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        self.loss(x, t)  # the forward pass; the batch loss stays in self.last_layer.loss
        dout = self.affine2.backward(self.last_layer.backward())
        self.affine1.backward(self.relu.backward(dout))
        return {"W1": self.affine1.dW, "b1": self.affine1.db,
                "W2": self.affine2.dW, "b2": self.affine2.db}  # fmt: skip


def objective(trial: Trial) -> dict[str, float]:
    """Trains ``TwoLayerNet(784, 50, 10)`` for ``trial.epochs`` epochs of SGD on mini-batches of
    100, reports the accuracies and mean loss each epoch, and returns the final accuracies."""
    data = trial.data
    lr = trial.params["lr"]
    weight_decay = trial.params.get("weight_decay", 0.0)
    train_size, batch_size = len(data.x_train), 100
    net = TwoLayerNet(784, 50, 10)

    for epoch in range(1, trial.epochs + 1):
        losses = []
        for _ in range(math.ceil(train_size / batch_size)):
            batch = np.random.choice(train_size, min(batch_size, train_size))
            grads = net.gradient(data.x_train[batch], data.t_train[batch])
            losses.append(net.last_layer.loss)
            for key, grad in grads.items():
                if key.startswith("W"):
                    grad = grad + weight_decay * net.params[key]  # L2 weight decay
                net.params[key] -= lr * grad  # in place: the Affine layers hold these arrays
        scores = {"train_acc": net.accuracy(data.x_train, data.t_train)}
        if len(data.x_val):  # a refit run (trial.refit) trains on the validation images too
            scores["val_acc"] = net.accuracy(data.x_val, data.t_val)
        trial.report(epoch, loss=float(np.mean(losses)), **scores)

    result = {"train_acc": net.accuracy(data.x_train, data.t_train)}
    if len(data.x_val):
        result["val_acc"] = net.accuracy(data.x_val, data.t_val)
    if data.x_test is not None and data.t_test is not None:
        result["test_acc"] = net.accuracy(data.x_test, data.t_test)
    return result
