"""Worker-process setup: glibc's allocator thresholds in a process started as dask starts its workers."""

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
from hpsearch.workers import restore_malloc_thresholds

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
    out = subprocess.run([sys.executable, "-c", SCRIPT], env={**env, **env_extra}, capture_output=True,
                         text=True, check=True).stdout.split()
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


@pytest.mark.parametrize("env", [
    {"MALLOC_TRIM_THRESHOLD_": str(1 << 30)},  # asks for more than the restored value
    {"MALLOC_TRIM_THRESHOLD_": "65536", "MALLOC_MMAP_THRESHOLD_": "131072"},  # the mmap threshold named
])
def test_settings_a_user_chose_are_kept(env: dict[str, str]) -> None:
    assert not _run(env)[1]
