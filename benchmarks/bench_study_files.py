"""Each study file in studies/: the time it states against the time its one command takes.

Usage: python benchmarks/bench_study_files.py [--only seed lr_sweep ...] [--mnist PATH] [--with OPTIONS]

Runs ``python -m hpsearch run studies/FILE.toml`` for each file (``--dataset PATH`` added for
the files that need full MNIST, when ``--mnist`` gives one; without it they are skipped), in a
temporary folder, one after the other, and prints the wall time beside the file's own "About N
minutes on 2 cores" and their ratio (issue target: within 2x either way). ``--with "--trials 2
--epochs 1"`` appends options to each command: a quick check that every file runs, whose times
are then not the files' own. A command that fails makes this script fail, after the others ran.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts benchmarks/ on sys.path)
from _common import emit, load_note, machine

STUDIES = Path(__file__).resolve().parents[1] / "studies"
STATED = re.compile(r"About (\d+(?:\.\d+)?) (s|seconds?|minutes?) on 2 cores")


def stated_seconds(path: Path) -> float:
    match = STATED.search(path.read_text(encoding="utf-8"))
    if match is None:
        raise SystemExit(f"{path.name} states no time ('About N minutes on 2 cores')")
    value, unit = float(match.group(1)), match.group(2)
    return value * (60 if unit.startswith("minute") else 1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", nargs="*", help="file stems to run (default: all)")
    ap.add_argument("--mnist", help="full MNIST (.npz) for the files that need it")
    ap.add_argument("--with", dest="extra", default="", help="options appended to each study's command")
    args = ap.parse_args(argv)
    files = sorted(STUDIES.glob("*.toml"))
    if args.only:
        files = [f for f in files if f.stem in args.only]
    print(f"study files on {machine()}; {load_note()}", flush=True)
    if args.extra:
        print(f"each with {args.extra}: the times are not the files' own", flush=True)
    failed = []
    for path in files:
        stated = stated_seconds(path)
        command = [sys.executable, "-m", "hpsearch", "run", str(path), "--quiet", *args.extra.split()]
        if "samples = 60000" in path.read_text(encoding="utf-8"):
            if not args.mnist:
                print(f"{path.stem:22s} skipped: needs full MNIST (--mnist PATH)", flush=True)
                continue
            command += ["--dataset", str(Path(args.mnist).resolve())]
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
            seconds = time.perf_counter() - start
        ratio = seconds / stated
        verdict = "ok" if 0.5 <= ratio <= 2 else "OUTSIDE 2x"
        print(
            f"{path.stem:22s} stated {stated:6.0f} s, measured {seconds:6.0f} s, "
            f"ratio {ratio:.2f} ({verdict}; exit {done.returncode})",
            flush=True,
        )
        if done.returncode:
            print(done.stderr[-2000:], flush=True)
            failed.append(path.stem)
        emit("study_file", file=path.stem, stated_s=stated, measured_s=seconds, ratio=ratio)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
