"""index.html: a static page with the settings, the top table, the notes and every figure.

The page is rendered from given data (hpsearch.reports.html never reads the folder) and written by
hpsearch.reports.publish.

The page is parsed here, and opened in headless Chromium (Debian's ``chromium``) to check that
the browser renders the table and loads every image. That test skips only when Chromium is
missing outside CI; in CI (``CI`` set) ``.ci/run`` installs it, and a missing browser fails.
"""

from __future__ import annotations

import dataclasses
import html
import html.parser
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from _report_fixtures import definition, make_repeats, make_trials, mixed_space

from hpsearch.reports.confirmed import confirmed_table, display_confirmed
from hpsearch.reports.html import about, render_index
from hpsearch.reports.publish import write_reports
from hpsearch.reports.ranking import ranking
from hpsearch.space.search_space import default_space

SETTINGS = definition(
    name="demo-study",
    seed=7,
    n_trials=40,
    space=default_space().to_json(),
    config={"dataset": "mnist", "samples": 500, "epochs": 4, "hidden": [100, 100]},
)


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.rows: dict[str, int] = {}
        self.text: list[str] = []
        self._table: str | None = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "table":
            self._table = attrs.get("id")
        if tag == "tbody":
            self._in_body = True
        if tag == "tr" and self._in_body and self._table:
            self.rows[self._table] = self.rows.get(self._table, 0) + 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture
def report(tmp_path):
    (tmp_path / "study.json").write_text(json.dumps(SETTINGS.to_json()))
    trials = make_trials(40, failed=(5,))
    paths = write_reports(tmp_path, trials, default_space(), settings=SETTINGS)
    return tmp_path, paths


def test_index_is_static_and_complete(report):
    folder, paths = report
    page = _Page()
    page.feed(paths["index"].read_text(encoding="utf-8"))
    assert "script" not in page.tags and "iframe" not in page.tags
    assert page.rows["ranking"] == 20
    figures = {k: p for k, p in paths.items() if p.suffix == ".png"}
    assert sorted(page.images) == sorted(p.name for p in figures.values())  # relative paths
    assert all((folder / src).is_file() for src in page.images)
    text = " ".join(page.text)
    assert "demo-study" in text and "log:1e-06:0.01" in text and "random" in text
    assert "lr: " in text and "upper bound 0.01" in text  # the edge note
    assert page.rows["settings"] >= 5


def test_index_without_study_json_and_escaping(tmp_path):
    space = mixed_space()
    trials = make_trials(6, space=space, score=lambda p: 0.5)
    trials[0] = dataclasses.replace(
        trials[0], params={**trials[0].params, "activation": "<b>x</b>"}
    )
    df = ranking(trials, space.names)
    # A study.json in the folder is not read: the page shows only the settings it is given.
    (tmp_path / "study.json").write_text(json.dumps({"name": "not-read"}))
    text = render_index(df, folder=tmp_path, notes=["a <note> & more"])
    assert "not-read" not in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "<b>x</b>" not in text
    assert "a &lt;note&gt; &amp; more" in text
    assert tmp_path.name in text  # the title falls back to the folder name
    assert "No trials yet" in render_index(df.head(0))


def test_settings_list_a_searched_parameter_once_as_searched():
    """The config's lr 0.01 and weight_decay 0.0 are unused defaults when both are searched."""
    settings = SETTINGS.replace(
        config={**SETTINGS.config, "lr": 0.01, "weight_decay": 0.0, "activation": "relu"}
    )
    page = _Page()
    page.feed(render_index(ranking(make_trials(5), ("lr", "weight_decay")), settings=settings))
    text = " ".join(page.text)
    assert "searched: lr" in text and "searched: weight_decay" in text and "activation" in text
    rows = re.findall(
        r"<tr><th>([^<]*)</th><td>([^<]*)</td></tr>",
        render_index(ranking(make_trials(5), ("lr", "weight_decay")), settings=settings),
    )
    assert (
        ("lr", "0.01") not in rows
        and ("weight_decay", "0.0") not in rows
        and ("activation", "relu") in rows
    )


def test_about_line_gives_date_training_time_validation_size_and_versions():
    settings = SETTINGS.replace(created="2024-05-01T12:30:00+00:00")
    df = ranking(make_trials(40, failed=(5,), n_val=100), ("lr", "weight_decay"))
    items = about(df, settings)
    assert items == [
        "created 2024-05-01 12:30:00",
        "40 trials, 58.6 s of training",
        "100 validation images",
        f"hpsearch 0.1.0, numpy {np.__version__}",
    ]
    assert about(ranking(make_trials(200), ("lr",)), None)[0] == "200 trials, 5 min of training"
    assert about(ranking([], ("lr",)), None) == [f"numpy {np.__version__}"]
    page = render_index(df, settings=settings)
    assert re.search(
        r'<p class="meta" id="about">created 2024-05-01 12:30:00 &middot; 40 trials', page
    )


def test_headline_and_confirmed_table_come_first():
    df = ranking(make_trials(10, n_val=100), ("lr", "weight_decay"))
    runs = make_repeats({0: [0.7, 0.72], 3: [0.8, 0.82]})
    shown = display_confirmed(confirmed_table(runs, ["lr", "weight_decay"]), ["lr", "weight_decay"])
    page = render_index(df, headline="chosen: lr=0.04 | validation 0.81 ± 0.01", confirmed=shown)
    assert (
        page.index('id="headline"')
        < page.index('id="summary"')
        < page.index('id="confirmed"')
        < page.index('id="ranking"')
    )
    assert "chosen: lr=0.04 | validation 0.81 ± 0.01" in page
    parsed = _Page()
    parsed.feed(page)
    assert parsed.rows["confirmed"] == 2 and parsed.rows["ranking"] == 10
    assert 'id="headline"' not in render_index(df) and 'id="confirmed"' not in render_index(df)


def test_page_precision_follows_the_validation_size():
    df = ranking(make_trials(10, n_val=100), ("lr", "weight_decay"))
    page = render_index(df)
    best = df.iloc[0]
    assert (
        f"best validation accuracy {best.val_acc:.2f}, 95% interval "
        f"{best.val_acc_low:.2f}-{best.val_acc_high:.2f} (trial {best.trial})"
    ) in page
    assert f'<td class="num">{best.val_acc:.2f}</td>' in page and "<th>95% CI</th>" in page
    old = ranking(make_trials(10), ("lr", "weight_decay"))
    assert f"best validation accuracy {old.val_acc[0]:.4f} (trial" in render_index(old)


def dump_dom(
    browser: str, page, profile, *, budget_ms: int, window: str | None = None
) -> subprocess.CompletedProcess:
    """Headless Chromium's DOM of ``page`` after ``budget_ms`` of virtual time, offline."""
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        *([f"--window-size={window}"] if window else []),
        f"--virtual-time-budget={budget_ms}",
        "--dump-dom",
        page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


# A test-only copy of the page, in the same folder (so relative paths resolve the same way),
# with a script appended that reports what the browser rendered and loaded. A deliberately
# missing image proves that a broken one would be caught. (A backslash ending a line joins it
# to the next, so the page gets the script's long lines unbroken.)
_PROBE = """<img id="probe-missing" src="no-such-figure.png" alt="">
<script>
window.addEventListener("load", function () {
  var shown = Array.prototype.filter.call(document.images, function (i) { \
return i.id !== "probe-missing"; });
  var missing = document.getElementById("probe-missing");
  var table = document.getElementById("ranking");
  var out = {
    images: shown.map(function (i) {
      return {src: i.getAttribute("src"), complete: i.complete, width: i.naturalWidth, \
height: i.naturalHeight,
              shown: i.getBoundingClientRect().width};
    }),
    missing_width: missing.naturalWidth,
    rows: table ? table.tBodies[0].rows.length : -1,
    columns: table ? table.tHead.rows[0].cells.length : -1,
    table_height: table ? table.getBoundingClientRect().height : 0,
    first_cell: table ? table.tBodies[0].rows[0].cells[0].textContent : ""
  };
  var pre = document.createElement("pre");
  pre.id = "probe-result";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def test_index_renders_in_headless_chromium(report, tmp_path_factory):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it in CI")
        pytest.skip("chromium not installed (apt-get install chromium); CI runs this test")
    folder, paths = report
    page = paths["index"].read_text(encoding="utf-8")
    assert page.count("</body>") == 1
    probe = folder / "_probe_index.html"
    probe.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    profile = tmp_path_factory.mktemp("chromium-profile")
    done = dump_dom(browser, probe, profile, budget_ms=10000, window="1280,2000")
    match = re.search(r'<pre id="probe-result">(.*?)</pre>', done.stdout, re.S)
    assert match, (
        f"chromium did not render the page (exit {done.returncode}): {done.stderr[-2000:]}"
    )
    result = json.loads(html.unescape(match.group(1)))
    assert result["rows"] == 20 and result["first_cell"] == "1"
    assert result["columns"] >= 10 and result["table_height"] > 100
    assert result["missing_width"] == 0  # the probe can tell a broken image
    figures = sorted(p.name for p in paths.values() if p.suffix == ".png")
    assert sorted(i["src"] for i in result["images"]) == figures
    for image in result["images"]:
        assert image["complete"] and image["width"] > 100 and image["height"] > 100, image
        assert image["shown"] > 100, image
