"""Bayes on a conditional space against its own flat search and Optuna's TPE, at equal trials.

Usage: python benchmarks/bench_conditional.py [--seeds 10] [--first-seed 0] [--trials 30]
                                              [--epochs 10] [--samples 1000] [--repeats 3]
                                              [--workers 2] [--methods cond,flat,tpe[,random]]
       python benchmarks/bench_conditional.py --summarise OUTPUT [OUTPUT ...]

The problem is the built-in network (``MultiLayerNet``, 6 hidden layers of 100, ReLU) on the
first ``--samples`` images of the bundled MNIST subset (80% trained, 20% validated), with an
optimizer to choose and each optimizer's own setting searched only where it acts:

    optimizer   choice: sgd, momentum, rmsprop, adam
    lr          log: 1e-4 .. 1                   (every trial)
    momentum    float: 0.5 .. 0.99               if optimizer=momentum
    decay_rate  float: 0.9 .. 0.999              if optimizer=rmsprop
    beta1       float: 0.5 .. 0.99               if optimizer=adam

Methods, each given the same ``--trials`` per seed:

* ``cond``: ``Study(strategy="bayes")`` on that space (conditions declared with ``when=``);
* ``flat``: the same study on the same dimensions without conditions: every trial draws all
  three settings, and the optimizers that do not take one ignore it (the model sees them all);
* ``tpe``: Optuna's ``TPESampler(seed=seed)`` (its defaults: 10 random start-up trials, as
  bayes's 10 initial points), define-by-run with the same conditional structure, one trial at a
  time, calling the same training function (``hpsearch.builtin.objective.train_trial``) on the
  same split; a diverged trial scores 0, as bayes scores it;
* ``random`` (optional): ``Study(strategy="random")`` on the conditional space, for reference.

Each hpsearch study runs with ``n_jobs=1`` and no confirm stage (bayes still proposes 4 points
per model update, whatever the workers), so that a seed gives the same trials every run; the
searches and the repeats are spread over ``--workers`` processes. A seed fixes the data split,
every method's sampler and the trials' initial weights, so cond, flat and random train the same
first 10 trials (flat's carry the unused settings too).

Each method's pick is its best validation trial (ties to the earlier trial). The pick is then
trained ``--repeats`` more times with fresh seeds it was not chosen on, and scored on the 2,000
test images; its score is the mean test accuracy of those repeats. The repeats' seeds depend on
the study seed and the repeat index only, so two methods with the same pick get the same score.
Printed: per method, the median over seeds of that score with its quartiles and range, and each
method's per-seed difference from ``flat`` (median, quartiles, wins/ties/losses and a two-sided
sign test); then cond's per-seed difference from each other method; and ``JSON`` lines for every
pick, summary and difference.

Cost, measured on 2 cores shared with other work (load average 6-11): one 30-trial search takes
about 80 s for cond (about 50 s of it the strategy's ask and tell, against 5 s for flat), 38 s
for flat, 21 s for tpe and 30 s for random; the defaults (10 seeds, cond,flat,tpe) took 12
minutes, with random 15.5. ``--summarise`` pools the ``JSON`` lines of saved runs (e.g. two runs
of different ``--first-seed``) into one table, without training.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import emit, load_note, machine  # noqa: E402

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
LR = (1e-4, 1.0)
#: Each optimizer's own setting and its range.
OWN = {"momentum": ("momentum", 0.5, 0.99), "rmsprop": ("decay_rate", 0.9, 0.999),
       "adam": ("beta1", 0.5, 0.99)}  # fmt: skip
HIDDEN = (100,) * 6
#: The trial number whose streams the repeats use: never a search trial's, the same for every
#: method, so that equal picks get equal scores and unequal ones are compared on the same draws.
REPEAT_NUMBER = 1_000_000
METHODS = ("cond", "flat", "tpe", "random")


def config(args: argparse.Namespace):
    from hpsearch.builtin.config import TrainConfig

    return TrainConfig(samples=args.samples, epochs=args.epochs, hidden=HIDDEN)


def space(conditional: bool):
    from hpsearch import Categorical, LogUniform, Uniform

    dims = {"optimizer": Categorical(list(OPTIMIZERS)), "lr": LogUniform(*LR)}
    for optimizer, (name, low, high) in OWN.items():
        when = {"optimizer": optimizer} if conditional else None
        dims[name] = Uniform(low, high, when=when)
    return dims


def canonical(params: dict) -> dict:
    """The settings a trial's training uses: its optimizer's own, not the others'."""
    own = {name for optimizer, (name, _, _) in OWN.items() if params["optimizer"] != optimizer}
    return {k: v for k, v in sorted(params.items()) if k not in own}


def _pick(trials: list[tuple[int, float, dict]]) -> tuple[int, float, dict]:
    """The best validation trial, ties to the earlier: ``(number, val_acc, params)``."""
    return min(trials, key=lambda t: (-t[1], t[0]))


def _hpsearch(method: str, seed: int, args: argparse.Namespace) -> tuple[list, float]:
    """The study's trials ``(number, val_acc, params)`` and its strategy's seconds."""
    import warnings

    from hpsearch import Study

    strategy = "random" if method == "random" else "bayes"
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = Study(f"{method}-s{seed}", strategy=strategy, space=space(method != "flat"),
                      n_trials=args.trials, n_jobs=1, seed=seed, config=config(args),
                      directory=tmp, progress=False, figures=False, confirm=0)  # fmt: skip
        strategy, spent = study.strategy, [0.0]
        ask, tell = strategy.ask, strategy.tell

        def timed(call):
            def run(*a, **k):
                t = time.perf_counter()
                try:
                    return call(*a, **k)
                finally:
                    spent[0] += time.perf_counter() - t

            return run

        strategy.ask, strategy.tell = timed(ask), timed(tell)
        study.optimize()
        trials = [(t.number, t.val_acc if t.ok else 0.0, dict(t.params)) for t in study.trials]
        return trials, spent[0]


def _tpe(seed: int, args: argparse.Namespace) -> tuple[list, float]:
    """Optuna's trials ``(number, val_acc, params)`` and its sampler's seconds."""
    import optuna

    from hpsearch.builtin.objective import train_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg, spent = config(args), [0.0]  # seconds of training

    def objective(ot: optuna.Trial) -> float:
        params = {"optimizer": ot.suggest_categorical("optimizer", list(OPTIMIZERS)),
                  "lr": ot.suggest_float("lr", *LR, log=True)}  # fmt: skip
        if params["optimizer"] in OWN:
            name, low, high = OWN[params["optimizer"]]
            params[name] = ot.suggest_float(name, low, high)
        t = time.perf_counter()
        record = train_trial(cfg, params, seed, ot.number)
        spent[0] += time.perf_counter() - t
        return record.val_acc if record.ok else 0.0

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=args.trials)
    trials = [(t.number, t.value, dict(t.params)) for t in study.trials]
    training = sum(t.duration.total_seconds() for t in study.trials) - spent[0]
    return trials, training  # a trial's duration includes its suggest calls


def search(method: str, seed: int, args: argparse.Namespace) -> dict:
    """One method's search at one seed: its pick and the search's own figures."""
    start = time.perf_counter()
    trials, sampler = _tpe(seed, args) if method == "tpe" else _hpsearch(method, seed, args)
    seconds = time.perf_counter() - start
    number, val, params = _pick(trials)
    chosen = [canonical(p)["optimizer"] for _, _, p in trials]
    return {"method": method, "seed": seed, "number": number, "val_acc": val,
            "params": canonical(params), "seconds": seconds, "sampler_seconds": sampler,
            "trials": len(trials),
            "failed": sum(v == 0.0 for _, v, _ in trials),
            "optimizers": {o: chosen.count(o) for o in OPTIMIZERS}}  # fmt: skip


def repeat(seed: int, params: dict, index: int, args: argparse.Namespace) -> float:
    """The test accuracy of ``params`` trained with the fresh seeds of repeat ``index``."""
    from hpsearch.builtin.objective import train_repeat

    record, _ = train_repeat(config(args), params, seed, REPEAT_NUMBER, index)
    return record.test_acc if record.ok and record.test_acc is not None else 0.0


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def sign_test(wins: int, losses: int) -> float:
    """Two-sided sign-test p-value of ``wins`` against ``losses`` (ties dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--methods", default="cond,flat,tpe")
    parser.add_argument(
        "--summarise", nargs="+", metavar="OUTPUT", help="the table from saved runs, seeds pooled"
    )
    args = parser.parse_args()
    if args.summarise:
        summarise(args.summarise)
        return
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or "flat" not in methods:
        parser.error(f"--methods: choose among {','.join(METHODS)}, flat included (the baseline)")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    print(f"conditional space: {args.seeds} seeds x {args.trials} trials of {args.epochs} epochs "
          f"on {args.samples} images, pick scored by {args.repeats} repeats on the test images; "
          f"{args.workers} workers; {machine()}; {load_note()}", flush=True)  # fmt: skip
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
        jobs = [pool.submit(search, m, s, args) for s in seeds for m in methods]
        picks = []
        for job in jobs:
            pick = job.result()
            picks.append(pick)
            print(f"  {pick['method']:>6} seed {pick['seed']}: trial {pick['number']:2d} "
                  f"val {pick['val_acc']:.3f} {pick['params']} ({pick['seconds']:.0f} s, "
                  f"{pick['failed']} diverged)", flush=True)  # fmt: skip
        # One set of repeats per distinct (seed, settings): equal picks share their score.
        keys = sorted({(p["seed"], json.dumps(p["params"], sort_keys=True)) for p in picks})
        runs = {(key, i): pool.submit(repeat, key[0], json.loads(key[1]), i, args)
                for key in keys for i in range(args.repeats)}  # fmt: skip
        scores = {key: [runs[key, i].result() for i in range(args.repeats)] for key in keys}
    wall = time.perf_counter() - start
    lines = []
    for p in picks:
        p["repeats"] = scores[p["seed"], json.dumps(p["params"], sort_keys=True)]
        p["score"] = statistics.mean(p["repeats"])
        lines.append({"what": "pick", **p})
    print(
        f"\npick's test accuracy, mean of {args.repeats} fresh-seed repeats; over "
        f"{args.seeds} seeds ({len(keys)} distinct picks, wall {wall:.0f} s, {load_note()}):"
    )
    settings = dict(seeds=args.seeds, trials=args.trials, epochs=args.epochs,
                    samples=args.samples, repeats=args.repeats, wall=wall)  # fmt: skip
    lines += report(picks, methods, settings)
    for fields in lines:
        emit("conditional", **fields)


def paired(values: list[float], base: list[float]) -> dict:
    """``values`` against ``base``, seed by seed: the differences' quartiles, wins/ties/losses
    and the sign test."""
    diffs = [a - b for a, b in zip(values, base, strict=True)]
    d1, dmed, d3 = quartiles(diffs)
    wins, losses = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    return dict(diff_median=dmed, diff_q25=d1, diff_q75=d3, wins=wins,
                ties=len(diffs) - wins - losses, losses=losses,
                sign_test_p=sign_test(wins, losses))  # fmt: skip


def paired_text(d: dict) -> str:
    return (
        f"{100 * d['diff_median']:+.2f} pts [{100 * d['diff_q25']:+.2f}, "
        f"{100 * d['diff_q75']:+.2f}]  {d['wins']}/{d['ties']}/{d['losses']}  "
        f"{d['sign_test_p']:.2f}"
    )


def report(picks: list[dict], methods: list[str], settings: dict) -> list[dict]:
    """Prints the table of the picks' scores (each pick with ``score``); returns its JSON lines."""
    seeds = sorted({p["seed"] for p in picks})
    by = {(p["method"], p["seed"]): p for p in picks}
    score = {key: p["score"] for key, p in by.items()}
    print(
        f"{'method':>7} {'median':>7} {'q25':>6} {'q75':>6} {'min':>6} {'max':>6} "
        f"{'search val':>10} {'s/search':>8} {'s/sampler':>9}"
        "   diff vs flat: median [q25, q75]  W/T/L  p"
    )
    flat = [score["flat", s] for s in seeds]
    lines = []
    for method in methods:
        values = [score[method, s] for s in seeds]
        q1, med, q3 = quartiles(values)
        vals = statistics.median(by[method, s]["val_acc"] for s in seeds)
        secs = statistics.median(by[method, s]["seconds"] for s in seeds)
        sampler = statistics.median(by[method, s]["sampler_seconds"] for s in seeds)
        vs_flat = paired(values, flat)
        ratio = med / statistics.median(flat)
        line = (f"{method:>7} {med:7.4f} {q1:6.4f} {q3:6.4f} {min(values):6.4f} "
                f"{max(values):6.4f} {vals:10.3f} {secs:8.0f} {sampler:9.1f}")  # fmt: skip
        if method != "flat":
            line += f"   {paired_text(vs_flat)}  (ratio of medians {ratio:.4f})"
        print(line)
        lines.append(dict(what="summary", method=method, **settings, median=med, q25=q1, q75=q3,
                          min=min(values), max=max(values), median_search_val=vals,
                          median_search_seconds=secs, median_sampler_seconds=sampler,
                          **{f"vs_flat_{k}": v for k, v in vs_flat.items()},
                          ratio_of_medians_vs_flat=ratio))  # fmt: skip
    print(
        "(search val: the pick's own validation accuracy, median over seeds; s/search: one "
        "search's seconds, hpsearch's including its study folder and reports; s/sampler: of "
        "those, the strategy's ask and tell (TPE: its trials' time outside training); W/T/L: seeds "
        "where the method's pick scored above/equal to/below the other's; p: two-sided sign test)"
    )
    if "cond" in methods:
        cond = [score["cond", s] for s in seeds]
        for other in (m for m in methods if m != "cond"):
            d = paired(cond, [score[other, s] for s in seeds])
            print(f"cond against {other}, seed by seed: {paired_text(d)}")
            lines.append(dict(what="cond_vs", other=other, seeds=len(seeds), **d))
    return lines


def summarise(paths: list[str]) -> None:
    """The table again from the ``JSON`` pick lines of earlier runs (their seeds pooled)."""
    picks = {}
    for path in paths:
        for text in Path(path).read_text().splitlines():
            if text.startswith("JSON "):
                fields = json.loads(text[5:])
                if fields.get("bench") == "conditional" and fields.get("what") == "pick":
                    picks[fields["method"], fields["seed"]] = fields
    methods = [m for m in METHODS if all((m, s) in picks for _, s in picks)]
    kept = [p for p in picks.values() if p["method"] in methods]
    seeds = sorted({p["seed"] for p in kept})
    print(f"pooled from {len(paths)} run(s): {len(seeds)} seeds, methods {','.join(methods)}")
    report(kept, methods, {"seeds": len(seeds)})


if __name__ == "__main__":
    main()
