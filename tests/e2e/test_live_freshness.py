"""Live freshness over stdio: the real server watches its indexed roots, so an agent's edits are
searchable within seconds without another index_path call (issue 13)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from support import child_env, eventually, server_command, write_config

pytestmark = pytest.mark.anyio

FRESH_S = 3.0


def _params(project: Path, config: Path) -> StdioServerParameters:
    command, args = server_command()
    return StdioServerParameters(command=command, args=args, env=child_env(config), cwd=str(project))


async def _hits(session: ClientSession, query: str) -> list[dict[str, Any]]:
    result = await session.call_tool("hybrid_search", {"query": query, "top_k": 20})
    assert not result.is_error, result.content
    hits: list[dict[str, Any]] = result.structured_content["hits"]
    return hits


async def _shows(session: ClientSession, identifier: str, rel: str) -> bool:
    """A hit of ``rel`` holds ``identifier`` (the semantic side returns every file of a small index)."""
    return any(h["file_path"] == rel and identifier in h["text"] for h in await _hits(session, identifier))


async def _watch(session: ClientSession) -> dict[str, Any]:
    status = await session.call_tool("index_status", {})
    watch: dict[str, Any] = status.structured_content["watch"]
    return watch


async def test_an_agents_edits_are_searchable_within_3_seconds_without_calling_index_path(
    sample_project: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "cfg" / "config.yaml", tmp_path / "state")
    async with stdio_client(_params(sample_project, config)) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        indexed = await session.call_tool("index_path", {"path": "."})
        assert not indexed.is_error, indexed.content

        async def watching() -> bool:
            watch = await _watch(session)
            return watch["mode"] == "native" and sample_project.resolve().as_posix() in watch["roots"]

        await eventually(watching, 15)

        target = sample_project / "src/db/connection.py"
        target.write_text(target.read_text() + "\n\ndef drain_idle_sockets_gracefully(pool):\n    pool.close()\n")
        edited = time.monotonic()

        await eventually(lambda: _shows(session, "drain_idle_sockets_gracefully", "src/db/connection.py"), 15)
        assert time.monotonic() - edited <= FRESH_S

        target.unlink()

        async def deletion_seen() -> bool:
            return all(h["file_path"] != "src/db/connection.py" for h in await _hits(session, "DatabasePool acquire"))

        await eventually(deletion_seen, 15)

        async def idle() -> dict[str, Any] | None:
            watch = await _watch(session)
            return watch if watch["pending_changes"] == 0 else None

        before = (await eventually(idle, 15))["batches"]
        burst = sample_project / "checkout"
        burst.mkdir()
        for n in range(200):  # a branch switch writes many files back to back
            (burst / f"mod_{n:03}.py").write_text(f"def checkout_handler_{n}(event):\n    return event + {n}\n")

        async def burst_done() -> dict[str, Any] | None:
            watch = await _watch(session)
            return watch if watch["batches"] > before and watch["pending_changes"] == 0 else None

        watch = await eventually(burst_done, 60)
        assert watch["batches"] == before + 1 and watch["last_summary"].startswith("Indexed 200 new/changed files")
        assert await _shows(session, "checkout_handler_199", "checkout/mod_199.py")
        status = await session.call_tool("index_status", {})
    assert status.structured_content["files"] == 7 + 200
