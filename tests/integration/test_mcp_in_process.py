"""The MCP server in-process (the SDK's Client on the server object): error contract and recovery."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from support import make_settings

from agent_brain_mcp.server import build_server

pytestmark = pytest.mark.anyio


async def test_a_store_that_cannot_be_opened_is_an_error_until_fixed_then_works(
    tmp_path: Path, sample_project: Path
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the index folder should be", encoding="utf-8")
    server = build_server(make_settings(blocker, sample_project))
    async with Client(server) as client:
        first = await client.call_tool("index_path", {"path": "."})
        assert first.is_error and "cannot create the index folder" in first.content[0].text
        assert "persist_dir" in first.content[0].text

        status = await client.call_tool("index_status", {})
        assert not status.is_error
        assert status.structured_content["ready"] is False
        assert "cannot create the index folder" in status.structured_content["problem"]

        blocker.unlink()  # the user fixes it; no restart
        second = await client.call_tool("index_path", {"path": "."})
        assert not second.is_error, second.content
        assert second.structured_content["files_indexed"] == 8


def _settings_on(backend: str, tmp_path: Path, project: Path, request: pytest.FixtureRequest) -> object:
    if backend == "chromadb":
        return make_settings(tmp_path / "state", project)
    pg = {"pg_url": request.getfixturevalue("pg_url"), "table": request.getfixturevalue("pg_table")}
    return make_settings(tmp_path / "state", project, backend="postgresql", **pg)


@pytest.mark.parametrize("backend", ["chromadb", "postgresql"])
async def test_invalid_arguments_are_error_results_not_crashes(
    backend: str, tmp_path: Path, sample_project: Path, request: pytest.FixtureRequest
) -> None:
    server = build_server(_settings_on(backend, tmp_path, sample_project, request))  # type: ignore[arg-type]
    async with Client(server) as client:
        await client.call_tool("index_path", {"path": "."})
        cases = [
            ("search", {"query": "x", "top_k": -1}),
            ("search", {"query": "x", "top_k": "many"}),
            ("search", {}),
            ("hybrid_search", {"query": "x", "alpha": -0.1}),
            ("index_path", {"path": ""}),
            ("index_path", {"path": ".", "include": [""]}),
            ("index_path", {"path": "\x00"}),
            ("no_such_tool", {}),
        ]
        for tool, args in cases:
            result = await client.call_tool(tool, args)
            assert result.is_error, (tool, args)
            assert "Traceback" not in result.content[0].text
        ok = await client.call_tool("hybrid_search", {"query": "retry_with_backoff", "top_k": 1})
        assert not ok.is_error and ok.structured_content["hits"][0]["file_path"] == "src/payments/retry.py"


@pytest.mark.parametrize("backend", ["chromadb", "postgresql"])
async def test_progress_notifications_reach_the_client(
    backend: str, tmp_path: Path, sample_project: Path, request: pytest.FixtureRequest
) -> None:
    seen: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))

    server = build_server(_settings_on(backend, tmp_path, sample_project, request))  # type: ignore[arg-type]
    async with Client(server) as client:
        result = await client.call_tool("index_path", {"path": "."}, progress_callback=on_progress)
    assert not result.is_error
    # Files checked, then vectors stored: the value only grows and ends at the total.
    assert seen[0] == (0, 9) and seen[-1][0] == seen[-1][1] == 9 + result.structured_content["total_chunks"]
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


async def test_the_file_mode_cap_and_kind_arguments_reach_the_search_tools(
    tmp_path: Path, sample_project: Path
) -> None:
    server = build_server(make_settings(tmp_path / "state", sample_project))
    async with Client(server) as client:
        await client.call_tool("index_path", {"path": "."})
        for tool in ("search", "hybrid_search"):
            files = await client.call_tool(tool, {"query": "retry_with_backoff", "top_k": 3, "group_by": "file"})
            assert not files.is_error, files.content
            assert files.structured_content["hits"] == []
            top = files.structured_content["files"][0]
            assert top["file_path"] == "src/payments/retry.py" and top["hits"][0]["start_line"] >= 1
        code = await client.call_tool("hybrid_search", {"query": "index guide", "kind": "code", "max_per_file": 0})
        assert not code.is_error and all(not h["file_path"].endswith(".md") for h in code.structured_content["hits"])
        for bad in ({"group_by": "folder"}, {"kind": "vendor"}, {"max_per_file": -1}):
            result = await client.call_tool("hybrid_search", {"query": "x", **bad})
            assert result.is_error and "Traceback" not in result.content[0].text, bad
