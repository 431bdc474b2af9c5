"""The live page: index.html and ranking.csv refreshed while a study runs, opened in headless
Chromium as a user would open it (the study runs in its own process, as from a terminal).

Skips only when Chromium is missing outside CI; in CI (``CI`` set) ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from test_html import _chromium, dump_dom

from hpsearch.reports.progress import LIVE_EVERY

SLOW = """
import time


def objective(trial):
    time.sleep(0.3)
    return 0.5 + trial.params["lr"] / 10
"""


def _dump(browser: str, page: Path, profile: Path) -> str:
    done = dump_dom(browser, page, profile, budget_ms=500)
    assert "<body" in done.stdout, f"chromium rendered nothing: {done.stderr[-2000:]}"
    return done.stdout


def _trials(dom: str) -> int:
    match = re.search(r'<p id="summary">(\d+) trials?', dom)
    assert match, dom[:2000]
    return int(match.group(1))


def test_the_page_grows_while_the_study_runs_and_stops_reloading_at_the_end(tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it in CI")
        pytest.skip("chromium not installed (apt-get install chromium); CI runs this test")
    (tmp_path / "slow.py").write_text(textwrap.dedent(SLOW))
    out = tmp_path / "studies"
    cmd = [sys.executable, "-m", "hpsearch", "random", "--trials", "24", "--jobs", "1"]
    cmd += ["--objective", f"{tmp_path / 'slow.py'}:objective", "--param", "lr=float:0:1"]
    cmd += ["--confirm", "0", "--name", "live", "--out", str(out), "--quiet"]
    page = out / "live" / "index.html"
    study = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (page.exists() and "Running:" in page.read_text()):
            assert time.monotonic() < deadline and study.poll() is None, "no live page"
            time.sleep(0.1)
        first = _dump(browser, page, tmp_path / "profile1")
        assert 'http-equiv="refresh"' in first and 'id="running"' in first
        time.sleep(LIVE_EVERY + 1.5)
        assert study.poll() is None, "the study ended before the second look"
        second = _dump(browser, page, tmp_path / "profile2")
        assert 'id="running"' in second
        assert _trials(second) > _trials(first)
        live_ranking = pd.read_csv(out / "live" / "ranking.csv")
        assert 0 < len(live_ranking) < 24
    finally:
        _, err = study.communicate(timeout=120)
    assert study.returncode == 0, err
    last = _dump(browser, page, tmp_path / "profile3")
    assert _trials(last) == 24
    assert 'http-equiv="refresh"' not in last and 'id="running"' not in last
    assert len(pd.read_csv(out / "live" / "ranking.csv")) == 24
