"""Several seed-experiment trials trained in lock step: does it make a trial cheaper here?

Usage: python benchmarks/bench_lockstep.py [--ks 1,4,8,16] [--epochs 50] [--repeats 5]

K trials of the seed experiment (784-100x6-10, ReLU, plain SGD, weight decay; each its own lr,
weight decay and generator) train together: their weights are the rows of one array, each layer
is one batched product (the very BLAS call of each slice) and one element-wise pass for all K,
and each trial keeps its own batches, its own optimizer step and its own stop (a trial that
diverges leaves the stack). The script first checks that every trial's history is bit for bit
the one :class:`hpsearch.builtin.training.Trainer` gives it alone, then prints the time per
trial at each K, on one BLAS thread, medians of ``--repeats``, against K=1 in the same run.
(Not part of the package: on a 2-core machine with 2 MB of L2 per core it measured slower
per trial as K grew, which is why the trainer trains one trial at a time.)
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import _common  # noqa: F401  (puts benchmarks/ on sys.path)
import numpy as np
from _common import emit, load_note, machine
from threadpoolctl import threadpool_limits

from hpsearch.builtin.config import TrainConfig
from hpsearch.builtin.nn.activations import Relu
from hpsearch.builtin.training import History, Trainer, build_optimizer, net_for
from hpsearch.data.split import make_split
from hpsearch.records import TrialState


class Stack:
    """The trainers' networks as one: params and gradients in the rows of two arrays."""

    def __init__(self, trainers: list[Trainer]) -> None:
        self.trainers = trainers
        nets = [tr.net for tr in trainers]
        self.P = np.stack([n.param_vector for n in nets])
        self.G = np.zeros_like(self.P)
        for k, net in enumerate(nets):
            net.param_vector, net.grad_vector = self.P[k], self.G[k]
            net._bind_views()
        layout, k = nets[0]._layout, len(nets)
        n_layers = len(nets[0].affine_layers)
        self.W = [self._rows(layout[f"W{i}"], self.P, k) for i in range(1, n_layers + 1)]
        self.b = [
            self._rows(layout[f"b{i}"], self.P, k)[:, None, :] for i in range(1, n_layers + 1)
        ]
        self.dW = [self._rows(layout[f"W{i}"], self.G, k) for i in range(1, n_layers + 1)]
        self.db = [self._rows(layout[f"b{i}"], self.G, k) for i in range(1, n_layers + 1)]
        self.acts = [Relu() for _ in range(n_layers - 1)]

    @staticmethod
    def _rows(entry: tuple[slice, tuple[int, ...]], vectors: np.ndarray, k: int) -> np.ndarray:
        part, shape = entry
        view = vectors[:, part].reshape(k, *shape)
        assert np.shares_memory(view, vectors)
        return view

    def predict(self, x: np.ndarray, keep: list[np.ndarray] | None = None) -> np.ndarray:
        for i, (W, b) in enumerate(zip(self.W, self.b, strict=True)):
            if keep is not None:
                keep.append(x)
            x = x @ W
            x += b
            if i < len(self.acts):
                x = self.acts[i].forward(x)
        return x

    def step(self, x: np.ndarray, t: np.ndarray) -> tuple[list[float], np.ndarray]:
        inputs: list[np.ndarray] = []
        scores = self.predict(x, inputs)
        y = scores - scores.max(axis=-1, keepdims=True)
        np.exp(y, out=y)
        y /= y.sum(axis=-1, keepdims=True)
        n = t.shape[-1]
        picked = np.take_along_axis(y, t[..., None], axis=-1)[..., 0]
        ce = -np.mean(np.log(picked + 1e-7), axis=-1)
        nets = [tr.net for tr in self.trainers]
        losses = [float(ce[k]) + net.weight_decay_loss() for k, net in enumerate(nets)]
        d = y.copy()
        d[np.arange(len(nets))[:, None], np.arange(n), t] -= 1
        d *= 1.0 / n
        for i in reversed(range(len(self.W))):
            if i < len(self.acts):
                d = self.acts[i].backward(d)
            np.matmul(inputs[i].swapaxes(-1, -2), d, out=self.dW[i])
            np.sum(d, axis=-2, out=self.db[i])
            if i:
                d = d @ self.W[i].swapaxes(-1, -2)
        for net in nets:
            if net.weight_decay_lambda:
                net._weight_grads += net.weight_decay_lambda * net._weights
        return losses, y


def train_together(trainers: list[Trainer]) -> list[History]:
    """Each trainer's whole training, all in lock step (the seed experiment's settings)."""
    first = trainers[0]
    x, t = first.split.x_train, first.split.t_train
    size, n = first.batch_size, first.n_train
    steps = -(-n // size)
    active = list(trainers)
    stack = Stack(active)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        while active:
            orders = np.stack([tr.rng.permutation(n) for tr in active])
            totals, hits = [0.0] * len(active), np.zeros(len(active), dtype=np.int64)
            for s in range(steps):
                idx = orders[:, s * size : (s + 1) * size]
                losses, y = stack.step(x[idx], t[idx])
                hits += np.count_nonzero(y.argmax(axis=-1) == t[idx], axis=-1)
                gone = [k for k, loss in enumerate(losses) if not math.isfinite(loss)]
                for k, tr in enumerate(active):
                    if k in gone:
                        tr.history.state = TrialState.DIVERGED
                        tr.history.error = (
                            f"loss became {losses[k]} at epoch {len(tr.history.loss) + 1}"
                        )
                        continue
                    tr.optimizer.update({"all": tr.net.param_vector}, {"all": tr.net.grad_vector})
                    totals[k] += losses[k]
                if gone:
                    keep = [k for k in range(len(active)) if k not in gone]
                    active = [active[k] for k in keep]
                    orders, hits, totals = orders[keep], hits[keep], [totals[k] for k in keep]
                    if not active:
                        break
                    stack = Stack(active)
            if not active:
                break
            val = stack.predict(first.split.x_val).argmax(axis=-1) == first.split.t_val
            val_hits = np.count_nonzero(val, axis=-1)
            for k, tr in enumerate(active):
                tr.history.train_acc.append(int(hits[k]) / n)
                tr.history.val_acc.append(int(val_hits[k]) / len(first.split.t_val))
                tr.history.loss.append(totals[k] / steps)
            done = [tr for tr in active if len(tr.history.loss) >= tr.epochs]
            if done:
                active = [tr for tr in active if tr not in done]
                if active:
                    stack = Stack(active)
    return [tr.history for tr in trainers]


def trainers(config: TrainConfig, params: list[dict], split) -> list[Trainer]:
    out = []
    for i, p in enumerate(params):
        c = config.with_params(p)
        rng = np.random.default_rng(1000 + i)
        net = net_for(c, split.input_size, 10, rng)
        out.append(
            Trainer(
                net, build_optimizer(c), split, epochs=c.epochs, batch_size=c.batch_size, rng=rng
            )
        )
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ks", default="1,4,8,16")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    ks = [int(k) for k in args.ks.split(",")]
    config = TrainConfig(epochs=args.epochs)
    split = make_split(config.dataset, config.samples, config.val_ratio, 0, config.dtype)
    rng = np.random.default_rng(5)
    params = [
        {"lr": float(10 ** rng.uniform(-3, -1.3)), "weight_decay": float(10 ** rng.uniform(-8, -4))}
        for _ in range(max(ks))
    ]
    print(f"seed-experiment trials in lock step, {args.epochs} epochs; {machine()}; {load_note()}")
    with threadpool_limits(limits=1):
        alone = [tr.train() for tr in trainers(config, params, split)]
        together = train_together(trainers(config, params, split))
        same = all(a == b for a, b in zip(alone, together, strict=True))
        print(f"every trial's history the same as trained alone: {same}")
        times: dict[int, list[float]] = {k: [] for k in ks}
        for _ in range(args.repeats):
            for k in ks:  # interleaved: a change of load hits every K alike
                group = trainers(config, params[:k], split)
                start = time.perf_counter()
                train_together(group)
                times[k].append((time.perf_counter() - start) / k)
    base = statistics.median(times[ks[0]])
    for k in ks:
        per = statistics.median(times[k])
        print(f"K={k:2d}: {per:.4f} s per trial, {per / base:.2f}x K={ks[0]}")
        emit("lockstep", k=k, per_trial_s=per, ratio=per / base, identical=same)


if __name__ == "__main__":
    main()
