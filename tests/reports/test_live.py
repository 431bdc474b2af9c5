"""The live page: index.html and ranking.csv refreshed while a study runs, opened in headless
Chromium as a user would open it (the study runs in its own process, as from a terminal).

Skips only when Chromium is missing outside CI; in CI (``CI`` set) ``.ci/run`` installs it.
"""

from __future__ import annotations

import math
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

# Only a hang reaches this, however slow the machine.
HANG = 120.0
# The study stops twice, at trials FIRST_GATE and SECOND_GATE, until the test opens that gate:
# the first look sees at most FIRST_GATE trials, and the second look comes while the study waits
# again, after more trials than the page's refresh takes (LIVE_EVERY), so the page has grown.
STEP = 0.3
FIRST_GATE = 3
SECOND_GATE = FIRST_GATE + math.ceil(LIVE_EVERY / STEP) + 2

GATED = """
import time
from pathlib import Path

FOLDER = Path({folder!r})
GATES = {{{first}: "first", {second}: "second"}}


def objective(trial):
    gate = GATES.get(trial.number)
    if gate is not None:
        (FOLDER / (gate + ".waiting")).touch()
        end = time.monotonic() + {hang}
        while not (FOLDER / (gate + ".open")).exists() and time.monotonic() < end:
            time.sleep(0.02)
    time.sleep({step})
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


def _wait_for(what: str, condition, study: subprocess.Popen) -> None:
    """Waits until ``condition()``, while the study runs (up to :data:`HANG`, a hang)."""
    end = time.monotonic() + HANG
    while not condition():
        assert study.poll() is None, f"the study ended before {what}"
        assert time.monotonic() < end, f"no {what} after {HANG:g} s"
        time.sleep(0.05)


def _page_trials(page: Path) -> int:
    """The trials the page's file says, as written (-1 while it is not a running page)."""
    text = page.read_text() if page.exists() else ""
    match = re.search(r'<p id="summary">(\d+) trials?', text)
    return int(match.group(1)) if match and "Running:" in text else -1


def test_the_page_grows_while_the_study_runs_and_stops_reloading_at_the_end(tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it in CI")
        pytest.skip("chromium not installed (apt-get install chromium); CI runs this test")
    gates = tmp_path / "gates"
    gates.mkdir()
    objective = GATED.format(
        folder=str(gates), first=FIRST_GATE, second=SECOND_GATE, hang=HANG, step=STEP
    )
    (tmp_path / "gated.py").write_text(textwrap.dedent(objective))
    out = tmp_path / "studies"
    cmd = [sys.executable, "-m", "hpsearch", "random", "--trials", "24", "--jobs", "1"]
    cmd += ["--objective", f"{tmp_path / 'gated.py'}:objective", "--param", "lr=float:0:1"]
    cmd += ["--confirm", "0", "--name", "live", "--out", str(out), "--quiet"]
    page = out / "live" / "index.html"
    study = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for("first gate", lambda: (gates / "first.waiting").exists(), study)
        _wait_for("live page", lambda: _page_trials(page) >= 0, study)
        first = _dump(browser, page, tmp_path / "profile1")
        assert 'http-equiv="refresh"' in first and 'id="running"' in first
        assert _trials(first) <= FIRST_GATE
        (gates / "first.open").touch()
        _wait_for("second gate", lambda: (gates / "second.waiting").exists(), study)
        _wait_for("grown page", lambda: _page_trials(page) > _trials(first), study)
        second = _dump(browser, page, tmp_path / "profile2")
        assert 'id="running"' in second
        assert _trials(first) < _trials(second) <= SECOND_GATE
        live_ranking = pd.read_csv(out / "live" / "ranking.csv")
        assert 0 < len(live_ranking) < 24
    finally:
        for gate in ("first", "second"):  # (a failed test leaves no study waiting)
            (gates / f"{gate}.open").touch()
        _, err = study.communicate(timeout=HANG)
    assert study.returncode == 0, err
    last = _dump(browser, page, tmp_path / "profile3")
    assert _trials(last) == 24
    assert 'http-equiv="refresh"' not in last and 'id="running"' not in last
    assert len(pd.read_csv(out / "live" / "ranking.csv")) == 24
