"""The tail of a study: does a worker sit idle while another still has trials queued?

Usage: python benchmarks/bench_tail.py [--workers 2,4,8] [--trials 100] [--scale 0.05] [--seed 0]

Runs the study's real :class:`hpsearch.execution.pool.Pool` (its queue, its tasks-ahead rule,
with ``n_jobs=-1`` as ``--jobs -1`` gives it) on threads whose tasks sleep for the length of a
trial instead of training, so that 8 workers can be measured on a 2-core machine (the core
count the pool sees is set to the largest ``--workers``). Trial lengths are those of the seed
study: most trials about 0.19 s, the ones that diverge (about one in six) end early, at a
uniform share of that; ``--scale`` shrinks them all alike to keep the run short.

For each worker count it prints:

* waiting-while-queued: worker-seconds a worker was idle while a trial had not started yet
  (the point of the measurement: should be 0 up to the time a thread takes to pick a task up);
* the tail: worker-seconds idle after each worker's last trial until the study's last trial
  ended, and the study's length against its lower bound max(total / W, longest trial).
"""

from __future__ import annotations

import argparse
import threading
import time

import _common  # noqa: F401  (puts benchmarks/ on sys.path)
import numpy as np
from _common import emit, load_note, machine

import hpsearch.execution.pool as pool_module
from hpsearch.execution.pool import Pool
from hpsearch.execution.workers import Task
from hpsearch.settings import Settings


def lengths(trials: int, seed: int, scale: float) -> list[float]:
    """Trial lengths like the seed study's, times ``scale``."""
    rng = np.random.default_rng(seed)
    full = rng.normal(0.19, 0.01, trials).clip(0.15, None)
    diverged = rng.random(trials) < 1 / 6
    full[diverged] *= rng.random(int(diverged.sum()))
    return list(full * scale)


def measure(workers: int, durations: list[float]) -> dict[str, float]:
    spans: list[tuple[float, float, int]] = []
    lock = threading.Lock()

    def sleep_trial(settings: Settings, seed: int, task: Task) -> tuple[None, None]:
        start = time.perf_counter()
        time.sleep(durations[task.number])
        with lock:
            spans.append((start, time.perf_counter(), threading.get_ident()))
        return None, None

    real_count = pool_module.os.cpu_count
    pool_module.os.cpu_count = lambda: workers  # the pool's -1: one worker per core it sees
    try:
        t0 = time.perf_counter()
        with Pool(sleep_trial, Settings(), 0, "threading", -1) as pool:
            for n in range(len(durations)):
                pool.submit(Task(n, {}))
            for _ in pool.results():
                pass
        end = time.perf_counter()
    finally:
        pool_module.os.cpu_count = real_count
    starts = sorted(s for s, _, _ in spans)
    last_start = starts[-1]
    by_worker: dict[int, list[tuple[float, float]]] = {}
    for s, e, w in spans:
        by_worker.setdefault(w, []).append((s, e))
    waiting = 0.0  # idle while some trial had not started (before the last start)
    tail = 0.0
    finish = max(e for _, e, _ in spans)
    for runs in by_worker.values():
        runs.sort()
        edge = t0
        for s, e in runs:
            waiting += max(0.0, min(s, last_start) - edge) if edge < last_start else 0.0
            edge = e
        tail += finish - runs[-1][1]
    idle_workers = workers - len(by_worker)  # never given a trial at all
    tail += idle_workers * (finish - t0)
    bound = max(sum(durations) / workers, max(durations))
    return {
        "workers": workers,
        "used": len(by_worker),
        "waiting_s": waiting,
        "tail_s": tail,
        "length_s": end - t0,
        "bound_s": bound,
        "mean_trial_s": float(np.mean(durations)),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", default="2,4,8")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    durations = lengths(args.trials, args.seed, args.scale)
    print(
        f"{args.trials} trials of the seed study's lengths x {args.scale} on the real Pool "
        f"(threads that sleep); {machine()}; {load_note()}"
    )
    for w in (int(x) for x in args.workers.split(",")):
        r = measure(w, durations)
        print(
            f"{w} workers ({r['used']} used): waiting while a trial was queued "
            f"{r['waiting_s']:.3f} worker-s; tail {r['tail_s']:.3f} worker-s "
            f"({r['tail_s'] / r['mean_trial_s']:.1f} mean trials); study {r['length_s']:.3f} s "
            f"vs bound {r['bound_s']:.3f} s (x{r['length_s'] / r['bound_s']:.3f})"
        )
        emit("tail", **r)


if __name__ == "__main__":
    main()
