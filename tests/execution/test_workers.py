"""Worker-process setup: glibc's allocator thresholds in a process started as dask starts its
workers, and a worker's end with its study."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")

# Page faults while allocating (and writing) a 1 MiB array 40 times: about 256 each when every
# allocation is a fresh mapping, next to none when freed memory is reused.
SCRIPT = r"""
import resource
import numpy as np
from hpsearch.execution.workers import restore_malloc_thresholds

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(40):
        a = np.ones(1 << 18, np.float32)
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults()
pinned = faults()
changed = restore_malloc_thresholds()
faults()
print(pinned, changed, faults())
"""


def _run(env_extra: dict[str, str]) -> tuple[int, bool, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**env, **env_extra},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), out[1] == "True", int(out[2])


def test_thresholds_pinned_as_dask_pins_them_are_restored() -> None:
    pinned, changed, restored = _run({"MALLOC_TRIM_THRESHOLD_": "65536"})  # what dask's nanny sets
    assert pinned > 40 * 200  # the slow case this guards against: every array mapped afresh
    assert changed
    assert restored < 200


def test_a_process_without_the_setting_is_left_alone() -> None:
    _, changed, after = _run({})
    assert not changed
    assert after < 200  # glibc's adaptive thresholds already reuse the memory


@pytest.mark.parametrize(
    "env",
    [
        {"MALLOC_TRIM_THRESHOLD_": str(1 << 30)},  # asks for more than the restored value
        {
            "MALLOC_TRIM_THRESHOLD_": "65536",
            "MALLOC_MMAP_THRESHOLD_": "131072",
        },  # the mmap threshold named
    ],
)
def test_settings_a_user_chose_are_kept(env: dict[str, str]) -> None:
    assert not _run(env)[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG: Linux")
@pytest.mark.parametrize("orphaned", [False, True])
def test_a_worker_whose_study_died_while_it_started_ends_at_once(orphaned: bool) -> None:
    # A worker asks to die with its study; if the study died before that, the asking is too late.
    script = (
        "import os, signal\nfrom hpsearch.execution.workers import die_with_parent\n"
        f"die_with_parent({'os.getppid() + 1' if orphaned else 'os.getppid()'})\n"
        "print('alive', signal.getsignal(signal.SIGINT) is signal.SIG_IGN,"
        " signal.getsignal(signal.SIGTERM) is signal.SIG_IGN)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    # Alive, a worker leaves both signals to its study (which stops it); orphaned, it is gone.
    assert proc.stdout.split() == ([] if orphaned else ["alive", "True", "True"])
