"""Prints pip constraints that pin each direct dependency of hpsearch to its lowest allowed version.

CI installs the oldest Python it tests with these (`pip install -c`), so that a lower bound in
pyproject.toml that no longer works fails there instead of on a user's machine. The runtime
dependencies and the `dask` and `test` extras are pinned; the `dev` checkers are not (CI runs
them on the newest Python only).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)\s*(;.*)?$")


def lowest(requirements: list[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for requirement in requirements:
        match = REQUIREMENT.match(requirement)
        if match is None:
            sys.exit(f"lowest.py: no single '>=' lower bound in {requirement!r}")
        name, version, marker = match.groups()
        key = re.sub(r"[-_.]+", "-", name).lower()
        line = f"{key}=={version}" + (f"; {marker.lstrip(';').strip()}" if marker else "")
        if pins.get(key, line) != line:
            sys.exit(f"lowest.py: two lower bounds for {key}: {pins[key]!r} and {line!r}")
        pins[key] = line
    return pins


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    pins = lowest(project["dependencies"] + extras["dask"] + extras["test"])
    print("\n".join(pins.values()))


if __name__ == "__main__":
    main()
