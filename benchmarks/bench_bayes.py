"""Seconds the Bayesian strategy spends per suggested point, and its share of a real study.

Usage: python benchmarks/bench_bayes.py [--sizes 10,100,500,1000,5000] [--batch 4,32]
                                        [--skopt-sizes 10,100] [--study-trials 100] [--epochs 50]
                                        [--no-study] [--max-model-points N]

Part 1 (synthetic scores, a smooth function of log lr and log weight decay plus noise): for each
batch size, a strategy is driven through a study of max(sizes) trials, batch by batch (tell the
last batch, ask the next); each batch's tell+ask time divided by its points is recorded. At each size n we
report the batch asked with n trials told, and the median and mean over the batches asked with
0.8n..1.2n told (the mean includes the kernel refits, the median mostly not); the target is a
median of at most 10 ms per point at every size. The baseline is scikit-optimize's default
``Optimizer(space.to_skopt(), base_estimator="GP")`` told the same n-batch points, then timed on
``tell(last batch) + ask(batch, "cl_min")``, divided by the batch (its cost grows as n^3, hence
only at small sizes by default). Driving 5,000 trials takes about a minute per batch size.

Part 2: a real bayes study (n_jobs=2, no confirm stage), with the strategy's ask and tell wrapped
by timers.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time

import _common  # noqa: F401
import numpy as np
from _common import emit, load_note, machine

from hpsearch.builtin.config import TrainConfig
from hpsearch.space.search_space import default_space
from hpsearch.strategies.bayes import BayesStrategy
from hpsearch.records import TrialResult, TrialState

TARGET = 0.010  # seconds per suggested point, median over a window of batches, at every size


def synthetic(params: dict, rng: np.random.Generator) -> float:
    a, b = math.log10(params["lr"]), math.log10(params["weight_decay"])
    acc = 0.1 + 0.8 * math.exp(-((a + 2.5) ** 2) / 1.5 - ((b + 6.0) ** 2) / 8.0)
    return float(np.clip(acc + 0.01 * rng.standard_normal(), 0, 1))


def drive(n_max: int, batch: int, seed: int = 0, **options):
    space = default_space()
    strategy = BayesStrategy(space, seed, n_max, batch_size=batch, **options)
    rng = np.random.default_rng(seed)
    per_batch = []  # (told before the ask, seconds per point of tell-before + ask)
    told: list[TrialResult] = []
    pending: list[TrialResult] = []
    n = 0
    while n < n_max:
        numbers = list(range(n, n + batch))
        t = time.perf_counter()
        strategy.tell(pending)
        params = strategy.ask(numbers)
        per_batch.append((n, (time.perf_counter() - t) / batch))
        pending = [TrialResult(k, p, TrialState.COMPLETE, val_acc=synthetic(p, rng))
                   for k, p in zip(numbers, params)]
        told.extend(pending)
        n += batch
    return per_batch, told


def skopt_cost(told: list[TrialResult], n: int, batch: int, seed: int = 0) -> float:
    from skopt import Optimizer

    space = default_space()
    opt = Optimizer(space.to_skopt(), base_estimator="GP", random_state=seed)
    xs = [space.to_list(t.params) for t in told[:n]]
    ys = [-t.val_acc for t in told[:n]]
    opt.tell(xs[: n - batch], ys[: n - batch])
    t = time.perf_counter()
    opt.tell(xs[n - batch :], ys[n - batch :])
    opt.ask(n_points=batch, strategy="cl_min")
    return (time.perf_counter() - t) / batch


def study_share(trials: int, epochs: int, n_jobs: int) -> dict:
    from hpsearch import Study

    spent = {"ask": 0.0, "tell": 0.0, "asks": 0}
    with tempfile.TemporaryDirectory() as tmp:
        study = Study("bench-bayes", strategy="bayes", n_trials=trials, n_jobs=n_jobs, seed=0,
                      config=TrainConfig(epochs=epochs), directory=tmp, progress=False, figures=False,
                      confirm=0)
        strategy = study.strategy
        ask, tell = strategy.ask, strategy.tell

        def timed_ask(numbers):
            t = time.perf_counter()
            try:
                return ask(numbers)
            finally:
                spent["ask"] += time.perf_counter() - t
                spent["asks"] += 1

        def timed_tell(results):
            t = time.perf_counter()
            try:
                return tell(results)
            finally:
                spent["tell"] += time.perf_counter() - t

        strategy.ask, strategy.tell = timed_ask, timed_tell
        t = time.perf_counter()
        study.optimize()
        wall = time.perf_counter() - t
        best = study.best_trial.val_acc
    strategy_s = spent["ask"] + spent["tell"]
    return {"wall": wall, "strategy": strategy_s, "share": strategy_s / wall, "ask": spent["ask"],
            "tell": spent["tell"], "asks": spent["asks"], "best_val_acc": best}


def per_point(sizes: list[int], skopt_sizes: list[int], batch: int, **options) -> None:
    """Part 1 for one batch size: seconds per suggested point at each size."""
    print(f"bayes strategy cost per suggested point, batch {batch}, options {options or 'default'}; "
          f"{machine()}; {load_note()}", flush=True)
    per_batch, told = drive(max(sizes) + batch, batch, **options)
    costs = dict(per_batch)
    for n in sizes:
        at = min(costs, key=lambda k: abs(k - n))
        window = [c for k, c in per_batch if 0.8 * n <= k <= 1.2 * n] or [costs[at]]
        line = (f"n={n:4d}: hpsearch {costs[at]:.4f} s/point (batch at {at} told); "
                f"window {0.8 * n:.0f}..{1.2 * n:.0f}: median {statistics.median(window):.4f}, "
                f"mean {statistics.mean(window):.4f} (target: median <= {TARGET})")
        fields = dict(n=n, hpsearch=costs[at], hpsearch_window_median=statistics.median(window),
                      hpsearch_window_mean=statistics.mean(window), batch=batch)
        if n in skopt_sizes and n >= batch * 2:
            sk = skopt_cost(told, n, batch)
            line += f"; skopt Optimizer GP cl_min {sk:.4f} s/point; ratio {sk / statistics.median(window):.1f}x"
            fields.update(skopt=sk, ratio_skopt_over_hpsearch_median=sk / statistics.median(window))
        print(line, flush=True)
        emit("bayes", what="seconds_per_point", **fields)
    total = sum(c for _, c in per_batch) * batch
    print(f"whole synthetic run to {max(sizes) + batch} trials: {total:.2f} s in the strategy, "
          f"{total / (max(sizes) + batch):.4f} s/point amortised (kernel refits included)")
    emit("bayes", what="amortised_seconds_per_point", trials=max(sizes) + batch,
         total=total, per_point=total / (max(sizes) + batch))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10,100,500,1000,5000")
    ap.add_argument("--skopt-sizes", default="10,100", help="sizes for the scikit-optimize baseline ('' for none)")
    ap.add_argument("--batch", default="4,32", help="batch sizes, comma-separated")
    ap.add_argument("--study-trials", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-study", action="store_true")
    ap.add_argument("--max-model-points", type=int, default=None, help="the strategy's cap (default: its own)")
    args = ap.parse_args(argv)
    options = {} if args.max_model_points is None else {"max_model_points": args.max_model_points}
    sizes = [int(s) for s in args.sizes.split(",")]
    skopt_sizes = [int(s) for s in args.skopt_sizes.split(",") if s]
    for batch in [int(b) for b in args.batch.split(",")]:
        per_point(sizes, skopt_sizes, batch, **options)
    if not args.no_study:
        r = study_share(args.study_trials, args.epochs, args.jobs)
        print(f"real bayes study, {args.study_trials} trials, {args.epochs} epochs, n_jobs={args.jobs}: "
              f"wall {r['wall']:.1f} s, strategy {r['strategy']:.2f} s (ask {r['ask']:.2f}, tell "
              f"{r['tell']:.3f}, {r['asks']} asks) = {100 * r['share']:.1f}% of wall (target <= 15%); "
              f"best val_acc {r['best_val_acc']:.3f}")
        emit("bayes", what="study_share", trials=args.study_trials, epochs=args.epochs, jobs=args.jobs, **r)


if __name__ == "__main__":
    main()
