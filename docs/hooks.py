"""MkDocs hooks: the parts of the site made from the code when it is built.

- ``<!-- hpsearch:cli-reference -->`` in a page becomes the command-line reference, read from
  :func:`hpsearch.cli.parser.build_parser` (every command, its description and its options);
- ``<!-- hpsearch:figure-command NAME -->`` becomes the command that made the figures of the
  study NAME, and ``figures/NAME/...`` are those figures: each build runs the small studies of
  :data:`STUDIES` with the current code (in a temporary folder) and adds their PNGs and study
  page to the site;
- ``css/pygments.css`` colours the code blocks (Pygments' default style, no CDN);
- the API reference page must document every name of ``hpsearch.__all__``: a name missing from
  it fails the build.

Nothing here is imported by hpsearch; mkdocs.yml names this file under ``hooks``.
"""

from __future__ import annotations

import argparse
import ast
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.hpsearch")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's hpsearch, whatever is installed

# The studies whose figures the pages show: (name, arguments after `python -m hpsearch`), run
# in this order in one folder. Small, so that the whole build takes seconds on 2 cores.
STUDIES: list[tuple[str, str]] = [
    (
        "seed-small",
        "random --trials 16 --epochs 15 --hidden 100,100 --param lr=log:1e-3:0.3 "
        "--confirm 2 --repeats 2 --jobs 1 --quiet --name seed-small",
    ),
    (
        "two-layer",
        "random --trials 12 --epochs 10 --objective examples/two_layer_net.py:objective "
        "--param lr=log:1e-3:1 --param weight_decay=log:1e-8:1e-4 --confirm 2 --repeats 2 "
        "--jobs 1 --quiet --name two-layer",
    ),
    (
        "activations-small",
        "grid --trials 6 --epochs 10 --hidden 100,100 --param activation=choice:relu,sigmoid,tanh "
        "--param lr=log:0.03:0.3 --set weight_decay=1e-6 --confirm 3 --repeats 2 "
        "--compare activation --jobs 1 --quiet --name activations-small",
    ),
    ("compare-studies", "compare-studies seed-small two-layer --to studies/compare-studies"),
]
FIGURE_SUFFIXES = (".png", ".html", ".csv")
OUTPUTS: dict[str, str] = {}  # what each study printed, for <!-- hpsearch:figure-output NAME -->


# ------------------------------------------------------------------------ the figures
def _run_studies(folder: Path) -> None:
    """Runs :data:`STUDIES` in ``folder`` with this checkout's hpsearch, the studies side by
    side (one worker each) and then what reads them; a failure stops the build with the
    command's output."""
    (folder / "examples").mkdir()
    for path in (ROOT / "examples").glob("*.py"):
        (folder / "examples" / path.name).write_bytes(path.read_bytes())
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    for batch in (STUDIES[:-1], STUDIES[-1:]):
        running = [
            (name, subprocess.Popen(
                [sys.executable, "-m", "hpsearch", *shlex.split(arguments)],
                cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            ))
            for name, arguments in batch
        ]  # fmt: skip
        for name, process in running:
            output, _ = process.communicate()
            OUTPUTS[name] = output
            if process.returncode != 0:
                raise PluginError(
                    f"the figure study {name!r} failed ({process.returncode}):\n{output}"
                )
    seconds = time.perf_counter() - start
    log.info("hpsearch: %d figure studies run in %.1f s", len(STUDIES), seconds)


_FOLDERS: list[Path] = []  # the studies' temporary folders, removed when the build ends


def on_post_build(config: Any) -> None:
    """Removes the figure studies' folders: the site has its copies."""
    while _FOLDERS:
        shutil.rmtree(_FOLDERS.pop(), ignore_errors=True)


def on_files(files: Files, config: Any) -> Files:
    """Runs the figure studies and adds their figures and pages as ``figures/NAME/FILE``."""
    folder = Path(tempfile.mkdtemp(prefix="hpsearch-docs-"))
    _FOLDERS.append(folder)
    _run_studies(folder)
    # The code blocks' colours: Pygments' classes, styled here rather than by a script from a
    # CDN, so that the site reads the same offline.
    from pygments.formatters import HtmlFormatter

    css = HtmlFormatter(style="default").get_style_defs(".highlight")
    files.append(File.generated(config, "css/pygments.css", content=css))
    for name, _ in STUDIES:
        study = folder / "studies" / name
        for path in sorted(study.iterdir()):
            if path.suffix in FIGURE_SUFFIXES:
                uri = f"figures/{name}/{path.name}"
                files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


# ------------------------------------------------------------------------ the command line
def _cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, one line, no HTML."""
    text = " ".join(str(text).split())
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _option_name(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The argument as ``--help`` spells it: ``--trials TRIALS``, ``--prune {none,...}``."""
    formatter = parser._get_formatter()
    if not action.option_strings:
        return f"`{formatter._format_args(action, action.dest)}`"
    if action.nargs == 0:
        return ", ".join(f"`{option}`" for option in action.option_strings)
    args = formatter._format_args(action, action.dest.upper())
    return ", ".join(f"`{option} {args}`" for option in action.option_strings)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    return parser._get_formatter()._expand_help(action) if action.help else ""


def _command_reference(name: str, parser: argparse.ArgumentParser) -> list[str]:
    usage = parser.format_usage().removeprefix("usage: ").strip()
    lines = [f"## `{name}`", "", "```text", usage, "```", "", _cell(parser.description or ""), ""]
    for group in parser._action_groups:
        actions = [
            a for a in group._group_actions if a.help is not argparse.SUPPRESS and a.dest != "help"
        ]
        if not actions:
            continue
        title = {"positional arguments": "arguments", "options": "options"}.get(
            group.title or "", group.title or ""
        )
        lines += [f"**{_cell(title)}**", "", "| argument | meaning |", "| --- | --- |"]
        lines += [f"| {_option_name(parser, a)} | {_cell(_help(parser, a))} |" for a in actions]
        lines.append("")
    return lines


def cli_reference() -> str:
    """The command-line reference in Markdown, read from the parser itself."""
    from hpsearch.cli.parser import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    summary = {choice.dest: choice.help for choice in sub._choices_actions}
    lines = ["| command | what it does |", "| --- | --- |"]
    lines += [f"| [`{n}`](#{n}) | {_cell(summary.get(n, ''))} |" for n in sub.choices]
    lines.append("")
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"  # the usage lines' width, whatever the terminal
    try:
        for name, command in sub.choices.items():
            lines += _command_reference(name, command)
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(lines)


# ------------------------------------------------------------------------ the pages
def _source(match: re.Match[str]) -> str:
    """``<!-- hpsearch:source PATH NAME -->``: the function or class NAME of the file PATH (from
    the checkout's root), as a Python block: the code the page talks about, never a copy."""
    path, name = ROOT / match.group(1), match.group(2)
    text = path.read_text(encoding="utf-8")
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            return "```python\n" + (ast.get_source_segment(text, node) or "") + "\n```"
    raise PluginError(f"{match.group(1)} defines no {name}")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if "<!-- hpsearch:cli-reference -->" in markdown:
        markdown = markdown.replace("<!-- hpsearch:cli-reference -->", cli_reference())

    def command(match: re.Match[str]) -> str:
        wanted = dict(STUDIES)
        if match.group(1) not in wanted:
            raise PluginError(f"{page.file.src_uri}: no figure study named {match.group(1)!r}")
        return f"`python -m hpsearch {wanted[match.group(1)]}`"

    markdown = re.sub(r"<!-- hpsearch:figure-command ([\w-]+) -->", command, markdown)

    def output(match: re.Match[str]) -> str:
        if match.group(1) not in OUTPUTS:
            raise PluginError(f"{page.file.src_uri}: no figure study named {match.group(1)!r}")
        return "```text\n" + OUTPUTS[match.group(1)].rstrip() + "\n```"

    markdown = re.sub(r"<!-- hpsearch:figure-output ([\w-]+) -->", output, markdown)

    markdown = re.sub(r"<!-- hpsearch:source (\S+) (\w+) -->", _source, markdown)

    if page.file.src_uri == "api.md":
        import hpsearch

        documented = set(re.findall(r"^::: hpsearch\.(\w+)", markdown, flags=re.M))
        missing = sorted(set(hpsearch.__all__) - documented - {"__version__"})
        if missing:
            raise PluginError(f"api.md documents no {', '.join(missing)} (in hpsearch.__all__)")
    return markdown
