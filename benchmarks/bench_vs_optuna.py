"""hpsearch's whole command against an Optuna script driving the same reader's function.

Usage: python benchmarks/bench_vs_optuna.py [--runs 3] [--trials 20] [--epochs 10]

The function is ``reader_rmsprop.py:objective`` (a reader's RMSProp network, one-hot labels,
unseeded ``np.random``), 20 trials of 10 epochs on 1,000 MNIST images (800 trained, 200
validated), 2 workers, no confirm stage. hpsearch runs it as ``python -m hpsearch random ...``
and writes its reports (ranking, curves, figures, page), and once more with ``--no-figures`` (the
tables and the page, the figures left to ``report``); the Optuna script (``--optuna``, Optuna
in the ``bench`` extra) runs the same function on the same split with TPE, 2 threads, one BLAS
thread each, and writes nothing. Both are timed as whole processes, in turn (A B A B ...), and
the medians and their ratio are printed. Without Optuna, the bound printed instead is the
trials' own seconds summed over the 2 workers (what any driver must at least spend).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import emit, load_note, machine  # noqa: E402

OBJECTIVE = f"{HERE / 'reader_rmsprop.py'}:objective"


def _optuna_study(trials: int, epochs: int, samples: int) -> None:
    """The Optuna side: the same function, the same split, TPE, 2 threads."""
    import types

    import optuna
    from threadpoolctl import threadpool_limits

    from hpsearch.data.split import make_split

    sys.path.insert(0, str(HERE))
    from reader_rmsprop import objective

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = make_split("mnist", samples, 0.2, 0)

    def run(ot: optuna.Trial) -> float:
        params = {
            "lr": ot.suggest_float("lr", 1e-4, 1e-1, log=True),
            "weight_decay": ot.suggest_float("weight_decay", 1e-8, 1e-3, log=True),
        }
        handle = types.SimpleNamespace(
            params=params, data=data, epochs=epochs, report=lambda *a, **k: None
        )
        return objective(handle)

    with threadpool_limits(1):
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=0)
        )
        study.optimize(run, n_trials=trials, n_jobs=2)


def _hpsearch_command(out: Path, name: str, trials: int, epochs: int, samples: int) -> list[str]:
    return [
        sys.executable, "-m", "hpsearch", "random", "--trials", str(trials),
        "--objective", OBJECTIVE, "--param", "lr=log:1e-4:1e-1",
        "--param", "weight_decay=log:1e-8:1e-3", "--epochs", str(epochs),
        "--samples", str(samples), "--jobs", "2", "--confirm", "0", "--quiet",
        "--out", str(out), "--name", name,
    ]  # fmt: skip


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--optuna", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.optuna:
        _optuna_study(args.trials, args.epochs, args.samples)
        return
    try:
        import optuna  # noqa: F401

        have_optuna = True
    except ImportError:
        have_optuna = False
    print(f"hpsearch vs Optuna: {machine()}, {load_note()}")
    ours, plain, theirs, bounds = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs + 1):  # the first of each is a warm-up, not counted
            name = f"run{run}"
            command = _hpsearch_command(Path(tmp), name, args.trials, args.epochs, args.samples)
            seconds = _timed(command)
            import pandas as pd

            trials = pd.read_csv(Path(tmp) / name / "ranking.csv")["seconds"].sum() / 2
            if run:
                ours.append(seconds)
                bounds.append(trials)
            # The same study with its tables and page but no figures (drawn later by `report`).
            seconds = _timed(_hpsearch_command(Path(tmp), f"plain{run}", args.trials, args.epochs,
                                               args.samples) + ["--no-figures"])  # fmt: skip
            if run:
                plain.append(seconds)
            if have_optuna:
                other = [sys.executable, __file__, "--optuna", "--trials", str(args.trials)]
                other += ["--epochs", str(args.epochs), "--samples", str(args.samples)]
                seconds = _timed(other)
                if run:
                    theirs.append(seconds)
    med = statistics.median(ours)
    bound = statistics.median(bounds)
    print(f"hpsearch command, reports written: median {med:.2f} s of {ours}")
    print(f"hpsearch command, --no-figures: median {statistics.median(plain):.2f} s of {plain}")
    print(f"trials' own seconds over 2 workers: median {bound:.2f} s (ratio {med / bound:.2f})")
    fields = {"hpsearch_s": med, "no_figures_s": statistics.median(plain), "trial_bound_s": bound}
    if theirs:
        other_med = statistics.median(theirs)
        ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
        print(f"Optuna script, TPE, 2 threads: median {other_med:.2f} s of {theirs}")
        print(f"ratio hpsearch / Optuna: median {statistics.median(ratios):.2f} (pairs {ratios})")
        plain_ratio = statistics.median([a / b for a, b in zip(plain, theirs, strict=True)])
        print(f"ratio hpsearch --no-figures / Optuna: median {plain_ratio:.2f}")
        fields.update(optuna_s=other_med, ratio=statistics.median(ratios), no_figures_ratio=plain_ratio)
    emit("vs_optuna", **fields, runs=args.runs)


if __name__ == "__main__":
    main()
