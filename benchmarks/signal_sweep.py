"""Signals at every moment of a study, many times over: how many runs leave fast and clean.

Usage: python benchmarks/signal_sweep.py [--rounds 1] [--only MOMENT ...] [--cases N] [--keep DIR]

Each case runs ``python -m hpsearch random`` (12 trials of about 0.1 s on 2 workers, a confirm
stage of 2 x 2 runs) in a fresh folder and its own session, signals it at one moment, and then
runs the same command again to finish it. A case is clean when the signalled run exited within
5 s with 130/143 (or 0 when the study had finished), printed no traceback, left no process of
its session alive 5 s later, left whole logs and no temporary file, kept only records equal to
the uninterrupted study's, and the resumed run completed it to exactly the uninterrupted study.
At the ``interpreter`` moment Python's own ways out count too, before any of hpsearch's code
runs (no program can change them): killed by the signal, or for a SIGINT, status 1 with "Fatal
Python error: init_..." or "Could not import runpy module", or a traceback with no frame of
hpsearch's; each only when no study folder was made (``pythons_own``).

The moments: ``interpreter`` (Python's own start-up, before hpsearch's first line), ``start-up``
(hpsearch importing and checking), ``workers`` (a worker process still starting), ``trials``,
``confirm``, ``reports`` (all runs logged, the reports being written) and ``exit`` (the command
printing what it wrote); SIGINT and SIGTERM, to the study alone or to its whole process group
(a terminal's Ctrl-C); once, or twice 0.1 to 0.8 s apart; and SIGKILL of the study, after which
no worker may outlive it by more than 5 s.

Prints one line per case, the failures' reasons, the count of clean runs, and ``JSON {...}``
lines (one per case, one summary). Takes about 10 s a case (the default sweep: ~20 minutes).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401
from _common import emit, load_note, machine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import psutil  # noqa: E402
from _interrupt import (  # noqa: E402
    LINGER_DEADLINE,
    Run,
    describe,
    hpsearch,
    intact,
    lines,
    outcomes,
    problems,
    same_records,
    session_processes,
    signalled,
    workers,
)

NAME = "study"
PACKAGE = str(Path(importlib.util.find_spec("hpsearch").origin).resolve().parent)  # the copy the commands run
CONFIRM_RUNS = 4
COMMAND = hpsearch("random", "--trials", "12", "--jobs", "2", "--seed", "4", "--epochs", "20", "--samples", "500",
                   "--hidden", "100,100", "--confirm", "2", "--repeats", "2", "--name", NAME, "--quiet")
INT, TERM, KILL = signal.SIGINT, signal.SIGTERM, signal.SIGKILL
# Seconds after each moment at which the (first) signal is sent.
DELAYS = {"interpreter": (0.0, 0.01, 0.03), "start-up": (0.0, 0.2, 0.5, 0.8), "workers": (0.0,), "trials": (0.0, 0.05),
          "confirm": (0.0,), "reports": (0.0, 0.3, 0.6, 1.0), "exit": (0.0, 0.01)}
SECONDS = (0.1, 0.3, 0.5, 0.8)  # between the two signals of a double signal
FINISHED_OK = {"reports", "exit"}  # the study may have finished: 0 is right too


def cases() -> list[dict]:
    out = []
    for when, delays in DELAYS.items():
        for delay in delays:
            for signum in (INT, TERM):
                for group in (False, True):
                    out.append(dict(when=when, signum=signum, group=group, delay=delay, second=None))
    for when in ("start-up", "workers", "trials", "confirm", "reports"):
        for second in SECONDS:
            out.append(dict(when=when, signum=INT, group=True, delay=0.3 if when == "start-up" else 0.0, second=second))
            out.append(dict(when=when, signum=TERM, group=False, delay=0.3 if when == "start-up" else 0.0,
                            second=second))
    for when in ("workers", "trials", "confirm", "reports"):
        out.append(dict(when=when, signum=KILL, group=False, delay=0.0, second=None))
    return out


def label(case: dict) -> str:
    name = signal.Signals(case["signum"]).name
    text = f"{name}{' to the group' if case['group'] else ''} at {case['when']}+{case['delay']:g}s"
    return text + (f", again +{case['second']:g}s" if case["second"] is not None else "")


def sigkill(cwd: Path, folder: Path, case: dict) -> list[str]:
    """SIGKILL of the study at a moment: its workers must end within 5 s, its session too."""
    run = Run(COMMAND, cwd)
    try:
        ready = {"workers": lambda: bool(workers(run.sid)),
                 "trials": lambda: lines(folder / "trials.jsonl") >= 2,
                 "confirm": lambda: lines(folder / "repeats.jsonl") >= 1,
                 "reports": lambda: lines(folder / "repeats.jsonl") >= CONFIRM_RUNS}[case["when"]]
        if not run.wait_until(ready):
            return ["the study ended before that moment"]
        run.proc.kill()
        run.wait()
        _, alive = psutil.wait_procs(session_processes(run.sid), timeout=LINGER_DEADLINE)
        return [f"still running: {p}" for p in describe(alive)] + intact(folder)
    finally:
        run.abort()


def pythons_own(run, folder: Path) -> bool:  # noqa: ANN001
    """A SIGINT before any of hpsearch's code runs, while the interpreter initialises itself (its
    standard streams, its ``site`` module, ``runpy``) or loads hpsearch's ``__main__``: Python's
    own way out, which no program can change. Status 1 with "Fatal Python error: init_..." or
    "Could not import runpy module", or killed by the signal after a traceback in which no frame
    is hpsearch's (but its package's ``__init__.py``, which runpy imports before ``__main__``);
    counted clean when that is all that happened (no study folder was made)."""
    err = run.err()
    own_init = run.proc.returncode == 1 and (
        re.search(r"^Fatal Python error: init_\w+: ", err, re.M) is not None
        or "Could not import runpy module" in err
    )
    # runpy imports the package (hpsearch/__init__.py) before it runs hpsearch.__main__: a frame
    # there is still Python's own way out; a frame of any other module of hpsearch's is not.
    own_traceback = (
        run.proc.returncode == -signal.SIGINT
        and "KeyboardInterrupt" in err
        and re.search(rf'File "{re.escape(PACKAGE)}/(?!__init__\.py")', err) is None
    )
    return (own_init or own_traceback) and not folder.exists()


def one(case: dict, root: Path, baseline: Path) -> tuple[list[str], dict]:
    cwd = Path(tempfile.mkdtemp(dir=root))
    folder = cwd / "studies" / NAME
    facts: dict = {}
    try:
        if case["signum"] == KILL:
            found = sigkill(cwd, folder, case)
        else:
            run = signalled(COMMAND, cwd, folder, case["when"], case["signum"], confirm_runs=CONFIRM_RUNS,
                            delay=case["delay"], second=case["second"], group=case["group"])
            facts = {"status": run.proc.returncode, "exit_s": run.exit_seconds()}
            if not run.sent:
                return ["the study ended before that moment"], facts
            stopped = 128 + case["signum"]
            statuses = {stopped} | ({0} if case["when"] in FINISHED_OK else set())
            if case["when"] == "interpreter":  # Python's default action, before hpsearch runs, is a kill
                statuses.add(-case["signum"])
            found = problems(run, folder, statuses) + same_records(folder, baseline)
            if case["when"] == "interpreter" and pythons_own(run, folder):
                # Python's own end, before hpsearch's first line: nothing of it ran, nothing is
                # written, and the resume below must still give the uninterrupted study.
                facts["pythons_own"] = True
                found = [p for p in found if not p.startswith(("exit status 1,", "stderr: "))]
            if found:
                facts["stderr"] = run.err()[-2000:]
        again = Run(COMMAND, cwd)
        if again.wait() != 0:
            found.append(f"the resumed run failed ({again.proc.returncode}): {again.err().strip()[-300:]}")
        elif outcomes(folder) != outcomes(baseline):
            found.append("the resumed study differs from the uninterrupted one")
        found += [f"after the resume: {p}" for p in intact(folder)]
        return found, facts
    except Exception as exc:  # noqa: BLE001 (a harness failure is a failed case, with its reason)
        return [f"{type(exc).__name__}: {exc}"], facts
    finally:
        shutil.rmtree(cwd, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="times each case runs (default 1)")
    parser.add_argument("--only", nargs="*", choices=sorted(DELAYS), help="only these moments")
    parser.add_argument("--cases", type=int, help="only the first N cases (a quick check of the sweep)")
    parser.add_argument("--keep", help="a folder to work in (default: a temporary one, removed)")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="signal-sweep-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"signal sweep: {machine()}, {load_note()}", flush=True)
    base_cwd = root / "baseline"
    base_cwd.mkdir(exist_ok=True)
    shutil.rmtree(base_cwd / "studies", ignore_errors=True)
    first = Run(COMMAND, base_cwd)
    if first.wait() != 0:
        print(first.err(), file=sys.stderr)
        return 1
    baseline = base_cwd / "studies" / NAME
    todo = [c for c in cases() if not args.only or c["when"] in args.only][: args.cases] * args.rounds
    clean = 0
    by_moment: dict[str, list[int]] = {}
    start = time.monotonic()
    for i, case in enumerate(todo, 1):
        found, facts = one(case, root, baseline)
        ok = not found
        clean += ok
        tally = by_moment.setdefault(case["when"], [0, 0])
        tally[0] += ok
        tally[1] += 1
        exit_s = facts.get("exit_s")
        timing = f" in {exit_s:.2f}s" if exit_s is not None else ""
        own = " (Python's own, before hpsearch ran)" if facts.get("pythons_own") else ""
        print(f"[{i}/{len(todo)}] {'clean' if ok else 'FAIL '} {label(case)}: status {facts.get('status')}{timing}{own}"
              + ("" if ok else "\n    " + "\n    ".join(found)), flush=True)
        emit("signal_sweep_case", case=label(case), clean=ok, problems=found, **facts)
    print(f"\n{clean} of {len(todo)} runs clean ({time.monotonic() - start:.0f} s)")
    for when, (good, n) in by_moment.items():
        print(f"  {when}: {good}/{n}")
    emit("signal_sweep", clean=clean, runs=len(todo), by_moment=by_moment, **machine())
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if clean == len(todo) else 1


if __name__ == "__main__":
    sys.exit(main())
