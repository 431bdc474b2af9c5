"""A simulated cluster: the share of worker time spent waiting for the Bayesian strategy.

Usage: python benchmarks/bench_cluster_sim.py [--workers 2,8,32] [--trial-seconds 0.2]
                                              [--trials 1000,5000] [--protocols pipelined,serial]
                                              [--max-model-points N] [--seed 0]

W simulated workers run trials of a fixed --trial-seconds on a virtual clock, scored by the
synthetic objective of bench_bayes.py (smooth in log lr and log weight decay, plus noise). The
strategy (``BayesStrategy`` with ``batch_size=W``) runs for real: each tell + ask is timed and
its measured seconds are added to the virtual clock. Batches are W trials that start together.

Protocols:

* ``pipelined`` (the study loop's lag 1, hpsearch/search.py): when batch b starts, the strategy is told batch
  b-1 (in trial-number order) and asks batch b+1 while b trains; b+1 starts once b has finished
  and b+1 is proposed. So batch b+1 sees every trial of the batches up to b-1, and the workers
  wait only for the part of a proposal longer than a trial. As in the study loop, the batches
  before ``runs_ahead_from`` (trial 30, or the end of the random start) still
  wait for the batch before them.
* ``serial``: batch b is asked only after batch b-1 has finished and been told; the workers wait
  for every tell + ask.

For each checkpoint (the first batch end with at least that many trials) it reports the wait
share: idle worker-seconds / (W x virtual seconds elapsed), and, for the quality side, the best
noise-free objective value among the trials so far (pipelining proposes with one batch less of
data). Target: 32 workers of 0.2 s trials wait at most 10% up to 1,000 trials, pipelined.
The imports of a first model proposal (~2 s, once per process) are done before any clock runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common  # noqa: F401
import numpy as np
from _common import emit, load_note, machine
from bench_bayes import synthetic

from hpsearch.space.search_space import default_space
from hpsearch.strategies.bayes import BayesStrategy
from hpsearch.study.search import runs_ahead_from
from hpsearch.records import TrialResult, TrialState

TARGET = 0.10  # wait share, 32 workers, 0.2 s trials, up to 1,000 trials, pipelined


class _NoNoise:
    """Stands in for the generator ``synthetic`` draws its noise from: the objective's true value."""

    @staticmethod
    def standard_normal() -> float:
        return 0.0


def warm_up() -> None:
    """Imports what a first model proposal imports (scikit-learn's GP: ~2 s), before any clock
    runs: a long study pays that once, and it would swamp the first checkpoint here."""
    strategy = BayesStrategy(default_space(), 0, 4, n_initial_points=2)
    params = strategy.ask([0, 1])
    strategy.tell([TrialResult(k, p, TrialState.COMPLETE, val_acc=0.5 + 0.1 * k) for k, p in enumerate(params)])
    strategy.ask([2, 3])


def simulate(workers: int, trial_s: float, n_trials: int, pipelined: bool, seed: int,
             checkpoints: list[int], **options) -> list[dict]:
    """Runs one simulated study; returns one record per checkpoint."""
    strategy = BayesStrategy(default_space(), seed, n_trials, batch_size=workers, **options)
    rng = np.random.default_rng(seed)
    n_batches = -(-n_trials // workers)
    batches = [list(range(b * workers, min((b + 1) * workers, n_trials))) for b in range(n_batches)]
    results: dict[int, list[TrialResult]] = {}
    spent: list[float] = []  # real seconds of each tell + ask

    told = [0]  # batches told so far

    def propose(b: int, tell_upto: int) -> None:
        """Tells batches up to ``tell_upto`` not told yet, asks batch ``b``, scores it (its future results)."""
        t = time.perf_counter()
        while told[0] <= tell_upto:
            strategy.tell(results[told[0]])
            told[0] += 1
        params = strategy.ask(batches[b])
        spent.append(time.perf_counter() - t)
        results[b] = [TrialResult(k, p, TrialState.COMPLETE, val_acc=synthetic(p, rng))
                      for k, p in zip(batches[b], params)]

    idle = clock = 0.0  # virtual seconds all workers waited; virtual time now
    ends: list[tuple[int, float, float]] = []  # (trials finished, time, idle so far) per batch
    # As the study loop: batches before this trial number wait for the one before them.
    ahead_from = runs_ahead_from(strategy) if pipelined else n_trials + 1
    propose(0, -1)
    clock = idle = spent[-1]
    for b in range(n_batches):
        finished = clock + trial_s
        if b + 1 < n_batches and batches[b + 1][0] >= ahead_from:
            # Batch b trains; meanwhile the strategy learns batch b-1 and proposes b+1.
            propose(b + 1, b - 1)
            ready = clock + spent[-1]
            ends.append((len(batches[b]) + b * workers, finished, idle))
            idle += max(0.0, ready - finished)
            clock = max(finished, ready)
        else:
            ends.append((len(batches[b]) + b * workers, finished, idle))
            clock = finished
            if b + 1 < n_batches:  # every worker waits while the strategy learns batch b
                propose(b + 1, b)
                idle += spent[-1]
                clock += spent[-1]

    scores = [synthetic(t.params, _NoNoise) for b in range(n_batches) for t in results[b]]
    records = []
    for k in checkpoints:
        done, at, waited = next(e for e in ends if e[0] >= min(k, n_trials))
        asks = spent[: -(-done // workers)]
        records.append(dict(workers=workers, trials=done, protocol="pipelined" if pipelined else "serial",
                            wait_share=waited / at, virtual_seconds=at, strategy_seconds=sum(asks),
                            median_ask=statistics.median(asks), max_ask=max(asks),
                            best_true=max(scores[:done])))
    return records


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", default="2,8,32")
    ap.add_argument("--trial-seconds", type=float, default=0.2)
    ap.add_argument("--trials", default="1000,5000", help="checkpoints; the run goes to the largest")
    ap.add_argument("--protocols", default="pipelined,serial")
    ap.add_argument("--max-model-points", type=int, default=None, help="the strategy's cap (default: its own)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    checkpoints = sorted(int(k) for k in args.trials.split(","))
    options = {} if args.max_model_points is None else {"max_model_points": args.max_model_points}
    print(f"simulated cluster, {args.trial_seconds} s trials (virtual), strategy timed for real; "
          f"options {options or 'default'}; {machine()}; {load_note()}", flush=True)
    warm_up()
    shares: dict[tuple[int, int], dict[str, float]] = {}
    for w in [int(x) for x in args.workers.split(",")]:
        for protocol in args.protocols.split(","):
            start = time.perf_counter()
            for r in simulate(w, args.trial_seconds, checkpoints[-1], protocol == "pipelined", args.seed,
                              checkpoints, **options):
                shares.setdefault((w, r["trials"]), {})[protocol] = r["wait_share"]
                verdict = ""
                if w == 32 and protocol == "pipelined" and r["trials"] <= 1024 and args.trial_seconds == 0.2:
                    verdict = f" (target <= {TARGET:.0%}: {'met' if r['wait_share'] <= TARGET else 'MISSED'})"
                print(f"W={w:2d} {protocol:9s} up to {r['trials']:4d} trials: workers waited "
                      f"{r['wait_share']:6.1%} of {r['virtual_seconds']:7.1f} virtual s{verdict}; strategy "
                      f"{r['strategy_seconds']:.1f} s, per batch median {r['median_ask']:.3f} s, max "
                      f"{r['max_ask']:.3f} s; best true score {r['best_true']:.4f}", flush=True)
                emit("cluster_sim", trial_seconds=args.trial_seconds, seed=args.seed, **options, **r)
            print(f"  ({time.perf_counter() - start:.0f} s real)", flush=True)
    print("wait share (pipelined vs serial, same run):")
    for (w, k), by in sorted(shares.items()):
        line = ", ".join(f"{protocol} {share:.1%}" for protocol, share in sorted(by.items()))
        if by.get("pipelined", 0) >= 0.001 and "serial" in by:  # below 0.1% a ratio means nothing
            line += f"; serial waits {by['serial'] / by['pipelined']:.0f}x as long"
        print(f"  W={w:2d} up to {k:4d} trials: {line}")
    print(load_note())


if __name__ == "__main__":
    main()
