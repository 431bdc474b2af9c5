"""Every ``python`` and ``bash`` block of the README and of the pages in ``docs/`` runs, read from
the pages themselves, so that no example can go stale (issue 37, point 3).

The blocks of one page run in order in one fresh folder holding a copy of ``examples/``, of
``studies/*.toml`` and of ``benchmarks/``: Python blocks in one namespace, in this process; bash
blocks in ``bash -e`` with this interpreter first on ``PATH``. Marks before a block:

- ``<!-- run-by-ci: REASON -->``: it installs packages, runs this suite or builds the site, so it
  is CI's to run: ``.ci/run`` reads it from the page (``.ci/blocks.py``); a test here checks that;
- ``<!-- run-with: OPTIONS -->``: each ``python -m hpsearch`` command runs with ``OPTIONS``
  appended (``COMMAND OPTIONS; ...``: each line that starts with ``COMMAND``, its own);
- ``<!-- run-on-cluster: ... -->``: it runs against a Dask cluster started here
  (``tests/_docs_cluster.py``);
- ``<!-- run-from-mirror: mnist -->``: it downloads from a server on 127.0.0.1 started here
  (``mnist OPTIONS``: with ``OPTIONS`` appended as run-with does).

Every page runs with an empty data cache (``HPSEARCH_DATA``) and a mirror that refuses
(``HPSEARCH_MIRROR``): never the internet. ``docs/index.md`` explains the marks to the reader.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _docs_cluster
import pytest
from _data_server import FileServer, shared_mnist

import hpsearch

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = ("python", "bash")
REFUSED = "http://127.0.0.1:9/"  # the discard port: a download is refused at once

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^\n`]*)$")
MARKS = ("run-by-ci", "run-with", "run-on-cluster", "run-from-mirror")
_MARK = re.compile(rf"^<!-- (?P<kind>{'|'.join(MARKS)}): (?P<value>.+?) -->$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # the fence's line, 1-based
    language: str
    code: str
    mark: str | None = None  # one of MARKS
    value: str = ""  # the reason, the options, or the dataset


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, each with the mark just before it, if any."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        language = opening["info"].strip().split(" ")[0].lower()
        end = i + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        code = "\n".join(line[len(indent) :] for line in lines[i + 1 : end]) + "\n"
        before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        mark = _MARK.match(before)
        found.append(
            Block(
                path.name,
                i + 1,
                language,
                code,
                mark["kind"] if mark else None,
                mark["value"].strip() if mark else "",
            )
        )
        i = end + 1
    return found


def with_options(script: str, options: str) -> str:
    """``script`` with ``options`` appended to each ``python -m hpsearch`` command (after its
    continuation lines, before a trailing comment); or, for ``COMMAND OPTIONS; ...``, each
    ``COMMAND``'s own ``OPTIONS`` to the lines that start with it."""
    by_command = options_by_command(options)
    out = []
    for line in _docs_cluster.joined(script):
        command = next((c for c in by_command if re.match(rf"\s*{re.escape(c)}(\s|$)", line)), None)
        if command is not None:
            line = _docs_cluster.append(line, by_command[command])
        out.append(line)
    return "\n".join(out) + "\n"


def options_by_command(value: str) -> dict[str, str]:
    """A run-with mark's value: ``OPTIONS`` (for ``python -m hpsearch``) or ``COMMAND OPTIONS;
    ...``, as the options each command gets."""
    if value.startswith("--"):
        return {"python -m hpsearch": value}
    return _docs_cluster.options_by_command(value, commands=r"\S.*?")


def _folder(tmp_path: Path) -> Path:
    """A fresh folder as a reader's clone has it: examples/, the study files and the benchmarks
    (with the tests' helper the signal sweep uses)."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    caches = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "benchmarks", tmp_path / "benchmarks", ignore=caches)
    (tmp_path / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "_interrupt.py", tmp_path / "tests")
    (tmp_path / "studies").mkdir()
    for path in (ROOT / "studies").glob("*.toml"):
        shutil.copy(path, tmp_path / "studies" / path.name)
    return tmp_path


def _bash_env(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    # A script, not a symlink: a virtual environment's python finds its pyvenv.cfg only when
    # called by its own path.
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    # Then the interpreter's own folder: its `dask` command, not another environment's.
    scripts = Path(sys.executable).parent
    return {
        **os.environ,
        "PATH": os.pathsep.join(map(str, (bin_dir, scripts, os.environ["PATH"]))),
        "PYTHONPATH": path,
        "MPLBACKEND": "Agg",
    }


def _runnable(page: Path) -> list[Block]:
    return [b for b in blocks(page) if b.language in RUN and b.mark != "run-by-ci"]


def _key(block: Block) -> tuple[str, str, str | None, str]:
    return block.language, block.code, block.mark, block.value


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_example_of_the_page_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runnable = _runnable(page)
    if page.name == "README.md":
        # The README's examples are the docs' own: one that a page of docs/ shows as it is
        # (the same code, the same mark) runs there, once.
        shown = {_key(b) for p in PAGES if p.name != "README.md" for b in _runnable(p)}
        runnable = [b for b in runnable if _key(b) not in shown]
    if not runnable:
        pytest.skip(f"{page.name} has no example to run that no other page runs")
    folder = _folder(tmp_path / "work")
    env = _bash_env(tmp_path)
    env.update(HPSEARCH_DATA=str(tmp_path / "cache"), HPSEARCH_MIRROR=REFUSED)
    for name in ("HPSEARCH_DATA", "HPSEARCH_MIRROR", "MPLBACKEND"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.chdir(folder)
    mirror = None
    if any(b.mark == "run-from-mirror" for b in runnable):
        try:
            mirror = FileServer(shared_mnist()[1])
        except pytest.skip.Exception:  # no copy of MNIST here (on CI, a failure instead)
            runnable = [b for b in runnable if b.mark != "run-from-mirror"]
    namespace: dict[str, object] = {"__name__": "__main__"}
    try:
        with _docs_cluster.cluster(folder, env, tmp_path / "logs") as cluster:
            for block in runnable:
                where = f"{block.page}, line {block.line}"
                run = functools.partial(_run_bash, folder, env, where)
                if block.mark == "run-from-mirror":
                    dataset, _, options = block.value.partition(" ")
                    assert mirror and dataset == "mnist", where
                    run = functools.partial(
                        _run_bash, folder, {**env, "HPSEARCH_MIRROR": mirror.url}, where
                    )
                    if options:
                        run = functools.partial(_with, run, options)
                if block.language == "python":
                    _run_python(block, namespace, cluster, where)
                elif block.mark == "run-on-cluster":
                    cluster.run_block(block.code, block.value, run)
                elif block.mark == "run-with":
                    run(with_options(block.code, block.value))
                else:
                    run(block.code)
            cluster.check()
    finally:
        if mirror:
            mirror.stop()


def _with(run: Any, options: str, script: str) -> None:
    run(with_options(script, options))


def _run_bash(folder: Path, env: dict[str, str], where: str, script: str) -> None:
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # a guard against a hang only: the benchmarks block runs 14 scripts
    )
    assert done.returncode == 0, f"{where}:\n{script}\n{done.stdout}\n{done.stderr}"


def _run_python(
    block: Block, namespace: dict[str, object], cluster: _docs_cluster.Cluster, where: str
) -> None:
    if block.mark != "run-on-cluster":
        exec(compile(block.code, where, "exec"), namespace)
        return
    keywords = _docs_cluster.study_keywords(block.value, vars(hpsearch))

    class Study(hpsearch.Study):  # each Study(...) of the block, with the mark's keywords
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, **keywords})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hpsearch, "Study", Study)
        exec(compile(cluster.substitute(block.code), where, "exec"), namespace)


def test_the_marks_are_understood() -> None:
    """Every example is python or bash, runs or says why not; a mark stands before a block."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        marks = len(re.findall(rf"^<!-- (?:{'|'.join(MARKS)}):", text, flags=re.M))
        found = blocks(page)
        assert marks == sum(b.mark is not None for b in found), page.name
        for block in found:
            where = f"{block.page}, line {block.line}"
            assert block.language in (*RUN, "text", "toml", "json"), where
            assert block.mark is None or block.value, f"{where}: a mark gives its reason"
            if block.mark == "run-with":
                assert block.language == "bash", where
                for command in options_by_command(block.value):
                    assert command in block.code, f"{where}: no {command} to append to"
            if block.mark == "run-on-cluster" and block.language == "bash":
                for command in _docs_cluster.options_by_command(block.value):
                    assert command in block.code, f"{where}: no {command} to append to"
            if block.mark == "run-on-cluster" and block.language == "python":
                assert _docs_cluster.study_keywords(block.value, vars(hpsearch)), where
                assert "Study(" in block.code, where
            if block.mark == "run-from-mirror":
                dataset, _, options = block.value.partition(" ")
                assert block.language == "bash" and dataset == "mnist", where
                assert not options or options.startswith("--"), where


def test_every_block_left_to_ci_is_run_by_ci() -> None:
    """A run-by-ci block's every line is of a kind .ci/blocks.py gives, and .ci/run runs that
    kind: no example of the pages goes unrun."""
    spec = importlib.util.spec_from_file_location("ci_blocks", ROOT / ".ci" / "blocks.py")
    assert spec and spec.loader
    ci_blocks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ci_blocks)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    left = [b for page in PAGES for b in blocks(page) if b.mark == "run-by-ci"]
    assert left
    for block in left:
        assert block.language == "bash", f"{block.page}, line {block.line}"
    kinds = {ci_blocks.kind(line) for page in PAGES for line in ci_blocks.lines(page)}
    shown = {line.split(" #")[0].strip() for b in left for line in b.code.splitlines()}
    assert {line for page in PAGES for line in ci_blocks.lines(page)} == shown - {""}
    for name in kinds:
        assert f".ci/blocks.py {name}" in ci, f".ci/run does not run the pages' {name} lines"
    with pytest.raises(ValueError, match="does not run"):
        ci_blocks.kind("rm -rf site")


def test_options_are_appended_to_the_shown_command() -> None:
    script = "python -m hpsearch random --trials 100 \\\n    --seed 1   # the seed study\nls\n"
    assert with_options(script, "--epochs 2") == (
        "python -m hpsearch random --trials 100 --seed 1 --epochs 2  # the seed study\nls\n"
    )
    script = "python b/one.py   # one\npython b/one.pyc\npython b/two.py --x 1\n"
    value = 'python b/one.py --n 1 --with "--a 2"; python b/two.py --y 2'
    assert with_options(script, value) == (
        'python b/one.py --n 1 --with "--a 2"  # one\npython b/one.pyc\n'
        "python b/two.py --x 1 --y 2\n"
    )


def test_a_cluster_block_starts_its_dask_lines_in_the_background() -> None:
    code = (
        "dask scheduler --host 127.0.0.1 &   # the scheduler\n"
        "dask worker tcp://127.0.0.1:8786 --nworkers 2 \\\n    --nthreads 1 &\n"
        "until [ -s f ]; do sleep 0.1; done\n"
        "python -m hpsearch random --trials 100  # the study\n"
    )
    value = "dask worker --nworkers 1; python -m hpsearch --trials 2"
    assert _docs_cluster.steps(code, value, 4242) == [
        (True, "dask scheduler --host 127.0.0.1 --host 127.0.0.1 --port 4242  # the scheduler"),
        (True, "dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1 --nworkers 1"),
        (
            False,
            "until [ -s f ]; do sleep 0.1; done\n"
            "python -m hpsearch random --trials 100 --trials 2  # the study\n",
        ),
    ]
    keywords = _docs_cluster.study_keywords(
        "Study(n_trials=2, config=TrainConfig(epochs=1))", vars(hpsearch)
    )
    assert keywords == {"n_trials": 2, "config": hpsearch.TrainConfig(epochs=1)}
