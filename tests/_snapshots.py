"""A study folder's state, to compare before and after: imported by the tests that run in other
processes or outside the ``snapshot`` fixture (a module of its own: ``conftest`` is a name two
folders of the suite use, and older pytest imports whichever came last under it)."""

from __future__ import annotations

import os
from pathlib import Path


def _snapshot(root: str | os.PathLike[str]) -> dict[str, tuple[int, int, bytes | None]]:
    root = Path(root)
    out: dict[str, tuple[int, int, bytes | None]] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        content = path.read_bytes() if path.is_file() else None
        out[str(path.relative_to(root))] = (st.st_mtime_ns, st.st_size, content)
    return out
