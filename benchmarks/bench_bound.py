"""The seed experiment's trial against its matrix-multiply bound, on one core.

Usage: python benchmarks/bench_bound.py [--repeats 5] [--epochs 50]

The bound is the time the trial's matrix products take alone: the same products at the same
shapes and dtype (float32), in the same number, with nothing else (no activations, softmax,
optimizer or Python per layer beyond the call). The trial is ``train_trial`` of the default
study (784-100x6-10, 400 training and 100 validation images, batches of 100). Both on one BLAS
thread, interleaved, medians of ``--repeats``; prints both and their ratio (bound / trial: the
share of the trial spent multiplying matrices).
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
from hpsearch.builtin.objective import train_trial


def _bound(sizes: list[int], n_train: int, n_val: int, batch: int, epochs: int) -> float:
    """Seconds for the products of ``epochs`` epochs: per step a forward (x @ W per layer) and a
    backward (a.T @ d per layer, d @ W.T per layer but the first); per epoch a forward of the
    validation images."""
    rng = np.random.default_rng(0)
    ws = [
        rng.standard_normal((a, b), dtype=np.float32)
        for a, b in zip(sizes, sizes[1:], strict=False)
    ]
    acts = [rng.standard_normal((batch, a), dtype=np.float32) for a in sizes]
    grads = [rng.standard_normal((batch, b), dtype=np.float32) for b in sizes[1:]]
    val = [rng.standard_normal((n_val, a), dtype=np.float32) for a in sizes]
    outs = [np.empty((batch, b), np.float32) for b in sizes[1:]]
    dws = [np.empty_like(w) for w in ws]
    dxs = [np.empty((batch, a), np.float32) for a in sizes[:-1]]
    vouts = [np.empty((n_val, b), np.float32) for b in sizes[1:]]
    steps = math.ceil(n_train / batch)
    start = time.perf_counter()
    for _ in range(epochs):
        for _ in range(steps):
            for i, w in enumerate(ws):
                np.matmul(acts[i], w, out=outs[i])
            for i in reversed(range(len(ws))):
                np.matmul(acts[i].T, grads[i], out=dws[i])
                if i:
                    np.matmul(grads[i], ws[i].T, out=dxs[i])
        for i, w in enumerate(ws):
            np.matmul(val[i], w, out=vouts[i])
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=50)
    args = ap.parse_args(argv)
    config = TrainConfig(epochs=args.epochs)
    params = {"lr": 0.005, "weight_decay": 1e-6}
    n_val = round(config.samples * config.val_ratio)
    n_train = config.samples - n_val
    sizes = [784, *config.hidden, 10]
    print(
        f"seed-experiment trial ({n_train} train, {n_val} validation images, 784-100x6-10, "
        f"{args.epochs} epochs, batch {config.batch_size}, float32), one BLAS thread; "
        f"{machine()}; {load_note()}"
    )
    bounds, trials = [], []
    with threadpool_limits(limits=1):
        train_trial(config, params, 0, 0)  # warm-up: data and caches
        _bound(sizes, n_train, n_val, config.batch_size, 1)
        for r in range(args.repeats):  # interleaved: a change of load hits both alike
            bounds.append(_bound(sizes, n_train, n_val, config.batch_size, args.epochs))
            t = time.perf_counter()
            train_trial(config, params, 0, r)
            trials.append(time.perf_counter() - t)
    bound, trial = statistics.median(bounds), statistics.median(trials)
    print(f"matrix-multiply bound : {bound:.3f} s (median of {args.repeats})")
    print(f"trial                 : {trial:.3f} s (median of {args.repeats})")
    print(f"bound / trial         : {bound / trial:.2f} (target >= 0.85)")
    emit("bound", bound_s=bound, trial_s=trial, ratio=bound / trial)


if __name__ == "__main__":
    main()
