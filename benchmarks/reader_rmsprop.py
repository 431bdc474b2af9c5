"""A reader's RMSProp network, as the book's readers write it: their own layer classes, their
own RMSProp class, unseeded global ``np.random``, the book's one-hot labels. The function that
``bench_vs_optuna.py`` drives both with hpsearch and with Optuna."""

from __future__ import annotations

import numpy as np


class Affine:
    def __init__(self, W, b):  # noqa: ANN001
        self.W, self.b, self.x = W, b, None

    def forward(self, x):  # noqa: ANN001, ANN201
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):  # noqa: ANN001, ANN201
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.W.T


class Relu:
    def forward(self, x):  # noqa: ANN001, ANN201
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):  # noqa: ANN001, ANN201
        dout = dout.copy()
        dout[self.mask] = 0
        return dout


class SoftmaxWithLoss:
    def forward(self, x, t):  # noqa: ANN001, ANN201
        x = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        self.t = t
        return -np.sum(t * np.log(self.y + 1e-7)) / len(t)

    def backward(self):  # noqa: ANN201
        return (self.y - self.t) / len(self.t)


class RMSProp:
    def __init__(self, lr=0.01, decay_rate=0.99):  # noqa: ANN001
        self.lr, self.decay_rate, self.h = lr, decay_rate, None

    def update(self, params, grads):  # noqa: ANN001, ANN201
        if self.h is None:
            self.h = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            self.h[k] *= self.decay_rate
            self.h[k] += (1 - self.decay_rate) * grads[k] * grads[k]
            params[k] -= self.lr * grads[k] / (np.sqrt(self.h[k]) + 1e-7)


class Net:
    def __init__(self, n_in, hidden, n_out, weight_decay):  # noqa: ANN001
        self.params = {
            "W1": np.sqrt(2.0 / n_in) * np.random.randn(n_in, hidden),
            "b1": np.zeros(hidden),
            "W2": np.sqrt(2.0 / hidden) * np.random.randn(hidden, n_out),
            "b2": np.zeros(n_out),
        }
        self.weight_decay = weight_decay
        self.a1 = Affine(self.params["W1"], self.params["b1"])
        self.relu = Relu()
        self.a2 = Affine(self.params["W2"], self.params["b2"])
        self.last = SoftmaxWithLoss()

    def predict(self, x):  # noqa: ANN001, ANN201
        return self.a2.forward(self.relu.forward(self.a1.forward(x)))

    def loss(self, x, t):  # noqa: ANN001, ANN201
        wd = 0.5 * self.weight_decay * sum(np.sum(self.params[k] ** 2) for k in ("W1", "W2"))
        return self.last.forward(self.predict(x), t) + wd

    def gradient(self, x, t):  # noqa: ANN001, ANN201
        self.loss(x, t)
        dout = self.a2.backward(self.last.backward())
        self.a1.backward(self.relu.backward(dout))
        return {
            "W1": self.a1.dW + self.weight_decay * self.params["W1"],
            "b1": self.a1.db,
            "W2": self.a2.dW + self.weight_decay * self.params["W2"],
            "b2": self.a2.db,
        }

    def accuracy(self, x, t):  # noqa: ANN001, ANN201
        return float(np.mean(self.predict(x).argmax(axis=1) == t.argmax(axis=1)))


def objective(trial):  # noqa: ANN001, ANN201
    (x_train, t_train), (x_val, t_val) = trial.data.load_mnist(one_hot_label=True)
    net = Net(x_train.shape[1], 100, t_train.shape[1], trial.params["weight_decay"])
    optimizer = RMSProp(lr=trial.params["lr"])
    for epoch in range(1, trial.epochs + 1):
        for _ in range(max(len(x_train) // 100, 1)):
            batch = np.random.choice(len(x_train), 100)
            optimizer.update(net.params, net.gradient(x_train[batch], t_train[batch]))
        trial.report(
            epoch, train_acc=net.accuracy(x_train, t_train), val_acc=net.accuracy(x_val, t_val)
        )
    return net.accuracy(x_val, t_val)
