"""The cluster path tells one story: its install lines work from a clone, and a cluster with no
worker is said at once and leaves nothing behind when the study gives up (issue 28, points 1, 8).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpsearch.cli.main import main
from hpsearch.execution import cluster as cluster_module

ROOT = Path(__file__).resolve().parents[2]
# Files whose install lines a new user copies: the two READMEs, the documentation's pages, the
# examples and benchmarks.
DOCUMENTS = [ROOT / "README.md", ROOT / "studies" / "README.md"] + sorted(
    p
    for folder in ("docs", "examples", "benchmarks")
    for p in (ROOT / folder).rglob("*")
    if p.is_file()
)


# ---------------------------------------------------------------------- install lines (point 1)
def _install_lines() -> list[tuple[str, str]]:
    found = []
    for path in DOCUMENTS:
        if path.suffix not in (".md", ".py", ".toml", ".txt", ".sh", ""):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in re.finditer(r"pip install[^\n`]*", text):
            found.append((path.name, match.group(0).strip()))
    return found


def test_every_documented_install_line_installs_the_checkout() -> None:
    lines = _install_lines()
    assert any("[dask]" in line for _, line in lines)  # the cluster page says how
    assert any(where == "cluster.md" and "[dask]" in line for where, line in lines)
    for where, line in lines:
        # `pip install -e .` or `pip install -e ".[extra]"`, run in the clone: nothing is
        # looked up on the package index under hpsearch's name.
        assert re.fullmatch(r'pip install -e (\.|"\.\[[a-z,]+\]")( .*)?', line), (where, line)
        assert "hpsearch[" not in line, (where, line)


def test_dask_missing_names_an_install_from_this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ValueError) as info:
        cluster_module.connect("tcp://127.0.0.1:1")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("backend 'dask' needs dask.distributed, which is not installed: ")
    assert 'pip install "hpsearch[dask]"' not in message
    command = message.split(": ", 1)[1]
    # This checkout, by its path: the command works from any folder.
    assert command == f'pip install -e "{ROOT}[dask]"'
    assert 'name = "hpsearch"' in (ROOT / "pyproject.toml").read_text()


def test_without_a_checkout_the_hint_says_where_to_run_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "site-packages" / "hpsearch" / "execution" / "cluster.py"
    monkeypatch.setattr(cluster_module, "__file__", str(fake))
    assert cluster_module.install_hint() == 'pip install -e ".[dask]" in the hpsearch checkout'


# ---------------------------------------------------------------------- no workers (point 8)
@pytest.fixture
def lonely_scheduler(tmp_path: Path) -> Iterator[str]:
    """A dask scheduler on 127.0.0.1 that has no worker; its address."""
    pytest.importorskip("distributed")
    from test_cluster import LocalCluster

    folder = tmp_path / "cluster"
    folder.mkdir()
    cluster = LocalCluster(folder)
    try:
        cluster.start(n_workers=0)
        yield cluster.address
    finally:
        cluster.stop()


@pytest.fixture(autouse=True)
def _short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "WAIT_FOR_WORKERS", 1.0)  # 30 s in a study


def _run(argv: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([*argv, "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _no_workers_said(err: str, address: str) -> None:
    assert err.strip().splitlines() == [
        f"hpsearch: warning: the dask scheduler {address} has no workers; waiting up to 1 s "
        f"for one (start some with: dask worker {address})",
        f"hpsearch: error: the dask scheduler {address} has no workers after 1 s; "
        f"start some with: dask worker {address}",
    ], err


def test_a_new_study_on_a_cluster_without_workers_writes_nothing(
    lonely_scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "studies"
    argv = [
        "random",
        "--trials",
        "4",
        "--epochs",
        "1",
        "--hidden",
        "20",
        "--samples",
        "200",
        "--quiet",
    ]
    code, _, err = _run(
        [*argv, "--name", "lonely", "--backend", "dask", "--scheduler", lonely_scheduler],
        out,
        capsys,
    )
    assert code == 2
    _no_workers_said(err, lonely_scheduler)
    # No study folder: `list` does not show a study of 0/4 trials.
    assert not (out / "lonely").exists()
    out.mkdir(exist_ok=True)
    code, listed, _ = _run(["list"], out, capsys)
    assert code == 0 and listed.strip() == f"no studies in {out}"


def test_resuming_on_a_cluster_without_workers_changes_nothing(
    lonely_scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot
) -> None:
    out = tmp_path / "studies"
    argv = ["random", "--epochs", "1", "--hidden", "20", "--samples", "200", "--confirm", "0"]
    argv += ["--name", "half", "--quiet"]
    assert _run([*argv, "--trials", "2", "--jobs", "1"], out, capsys)[0] == 0
    before = snapshot(out)
    # Two more trials, on the cluster.
    dask = ["--backend", "dask", "--scheduler", lonely_scheduler]
    code, _, err = _run([*argv, "--trials", "4", *dask], out, capsys)
    assert code == 2
    _no_workers_said(err, lonely_scheduler)
    assert snapshot(out) == before
