"""The documentation site's generated parts cover the code (issue 37, points 1 and 2): the
command-line reference is read from the parser itself, and the API reference names every public
name. The build itself (`mkdocs build --strict`) runs in CI after the tests."""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

import pytest

import hpsearch
from hpsearch.cli.parser import build_parser

ROOT = Path(__file__).resolve().parent.parent


def _hooks():
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_command_line_reference_has_every_command_and_option() -> None:
    text = _hooks().cli_reference()
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        assert f"## `{name}`" in text, name
        for action in command._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in text, (name, option)
    assert "decay_rate=float:0.9:0.999 if optimizer=rmsprop" in text  # help texts, whole


def test_the_api_reference_documents_every_public_name() -> None:
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: hpsearch\.(\w+)$", page, flags=re.M))
    assert documented == set(hpsearch.__all__) - {"__version__"}


def test_the_cli_page_is_generated_not_copied() -> None:
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "<!-- hpsearch:cli-reference -->" in page
    assert "--reduction-factor" not in page  # options come from the parser only
    assert not re.search(r"^python -m hpsearch", page, flags=re.M)  # and the usage lines


def test_every_page_is_in_the_navigation_and_the_readme_is_small() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in (ROOT / "docs").glob("*.md"):
        assert f": {page.name}\n" in config, page.name
    assert (ROOT / "README.md").stat().st_size <= 10_000
