"""The examples of the README and of docs/ that CI runs itself, read from the pages.

A block marked ``<!-- run-by-ci: REASON -->`` installs packages, runs the test suite or builds
the site: the test suite cannot run it (it would install into its own environment, run itself,
or build the site it belongs to), so ``.ci/run`` runs it, taking its lines from the pages with

    python .ci/blocks.py KIND

which prints each line of that kind once (comments dropped), in the pages' order:
``install`` (``pip install ...``), ``test`` (``python -m pytest ...``), ``site`` (``mkdocs
build ...``) and ``serve`` (``mkdocs serve ...``). A line of a run-by-ci block of no kind fails
here, so that no such line can go unrun.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
KINDS = {
    "install": r"pip install ",
    "test": r"python -m pytest\b",
    "site": r"mkdocs build\b",
    "serve": r"mkdocs serve\b",
}
_BLOCK = re.compile(r"^<!-- run-by-ci: .+? -->\n```bash\n(.*?)^```$", re.M | re.S)


def lines(page: Path) -> list[str]:
    """The command lines of ``page``'s run-by-ci blocks, without their comments."""
    out = []
    for block in _BLOCK.finditer(page.read_text(encoding="utf-8")):
        for line in block[1].splitlines():
            command = line.split(" #")[0].strip()
            if command and not command.startswith("#"):
                out.append(command)
    return out


def kind(line: str) -> str:
    """The kind of a run-by-ci line; ValueError for a line of none."""
    for name, pattern in KINDS.items():
        if re.match(pattern, line):
            return name
    raise ValueError(f"a run-by-ci line that CI does not run: {line!r}")


def main(wanted: str) -> None:
    if wanted not in KINDS:
        raise SystemExit(f"usage: python .ci/blocks.py {{{','.join(KINDS)}}}")
    found = [line for page in PAGES for line in lines(page)]
    for line in dict.fromkeys(found):
        if kind(line) == wanted:
            print(line)


if __name__ == "__main__":
    main(*sys.argv[1:2] or [""])
