"""`storage.postgresql.embedded: true`: the server starts its own PostgreSQL + pgvector, no Docker."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from support import make_settings, world_readable_tmpdir

from agent_brain_mcp.config import Settings
from agent_brain_mcp.server import build_server

pytestmark = pytest.mark.anyio


async def test_an_embedded_postgres_is_started_used_and_stopped_by_the_server(sample_project: Path) -> None:
    data_dir = world_readable_tmpdir("embedded-pg-") / "pgdata"
    base = make_settings(data_dir.parent, sample_project, backend="postgresql", pg_url=None)
    settings = Settings.model_validate(
        {
            **base.model_dump(exclude={"project_dir"}),
            "project_dir": sample_project,
            "storage": {
                "backend": "postgresql",
                "postgresql": {"embedded": True, "data_dir": str(data_dir), "keep_alive_seconds": 0},
            },
        }
    )
    async with Client(build_server(settings)) as client:
        indexed = await client.call_tool("index_path", {"path": "."})
        assert not indexed.is_error, indexed.content
        found = await client.call_tool("hybrid_search", {"query": "makeSlugFromTitle", "top_k": 1})
        assert found.structured_content["hits"][0]["file_path"] == "src/text/slug.py"
        status = await client.call_tool("index_status", {})
        assert "embedded PostgreSQL" in status.structured_content["location"]
    assert (data_dir / "PG_VERSION").exists()
    assert not (data_dir / "postmaster.pid").exists()  # stopped with the session
