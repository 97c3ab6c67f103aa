"""Shared fixtures: settings for a throwaway index, and a small but realistic sample project."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import SAMPLE_FILES, write_tree


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    """A project with code in three languages, docs, ignored files, a binary and a Latin-1 file."""
    root = write_tree(tmp_path / "project", SAMPLE_FILES)
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (root / "notes.txt").write_bytes(b"binary\x00blob\x00with nul bytes")
    (root / "legacy.txt").write_bytes(b"Caf\xe9 cr\xe8me: legacy Latin-1 menu\r\nsecond line\r\n")
    return root
