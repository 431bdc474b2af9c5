"""The storage tests' shared fixture: a copy of the test module's finished study folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def studies(finished: Path, tmp_path: Path) -> Path:
    """A copy of the module's ``finished`` studies (its own fixture), for a test to spoil."""
    out = tmp_path / "studies"
    shutil.copytree(finished, out)
    return out
