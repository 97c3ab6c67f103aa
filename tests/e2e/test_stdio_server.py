"""The installed server, spawned over stdio and driven by the MCP SDK's real client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from support import child_env, head_revision, server_command, write_config

pytestmark = pytest.mark.anyio


def _params(project: Path, config: Path) -> StdioServerParameters:
    command, args = server_command()
    return StdioServerParameters(command=command, args=args, env=child_env(config), cwd=str(project))


async def _call(session: ClientSession, tool: str, args: dict[str, Any], **kw: Any) -> Any:
    return await session.call_tool(tool, args, **kw)


@pytest.mark.parametrize("backend", ["chromadb", "postgresql"])
async def test_all_four_tools_work_over_stdio_with_progress_and_errors(
    backend: str, sample_project: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    postgres = None
    if backend == "postgresql":
        postgres = {"url": request.getfixturevalue("pg_url"), "table": request.getfixturevalue("pg_table")}
    config = write_config(tmp_path / "cfg" / "config.yaml", tmp_path / "state", postgres=postgres)
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with stdio_client(_params(sample_project, config)) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == {"index_path", "search", "hybrid_search", "index_status", "cancel_indexing"}
        assert all(t.output_schema and t.description for t in tools.values())

        # Errors first: each is an isError result and the server keeps answering.
        early = await _call(session, "search", {"query": "retry"})
        assert early.is_error and "index_path" in early.content[0].text
        missing = await _call(session, "index_path", {"path": "no/such/folder"})
        assert missing.is_error and "does not exist" in missing.content[0].text

        indexed = await _call(session, "index_path", {"path": "."}, progress_callback=on_progress)
        assert not indexed.is_error, indexed.content
        result = indexed.structured_content
        assert result["files_indexed"] == 8 and result["total_chunks"] > 0
        assert result["root"] == sample_project.resolve().as_posix()

        assert len(progress) >= 2
        # Files checked (8 indexed + notes.txt, binary by content) plus vectors stored: done == total.
        assert progress[0][:2] == (0, 9) and progress[-1][0] == progress[-1][1] == 9 + result["total_chunks"]
        assert [p[0] for p in progress] == sorted(p[0] for p in progress)

        found = await _call(session, "search", {"query": "wait longer after every failed try", "top_k": 3})
        assert not found.is_error
        hit = found.structured_content["hits"][0]
        assert hit["file_path"] == "src/payments/retry.py" and hit["start_line"] == 1
        assert "retry_with_backoff" in hit["text"]

        hybrid = await _call(session, "hybrid_search", {"query": "DatabasePool acquire", "top_k": 2})
        top = hybrid.structured_content["hits"][0]
        assert top["file_path"] == "src/db/connection.py" and top["keyword_rank"] == 1

        filtered = await _call(
            session, "hybrid_search", {"query": "function", "language": "typescript", "path_prefix": "web/"}
        )
        assert {h["file_path"] for h in filtered.structured_content["hits"]} == {"web/cart.ts"}

        for bad in ({"query": ""}, {"query": "x", "top_k": 0}, {"query": "x", "top_k": 10_000}, {"top_k": 3}):
            res = await _call(session, "search", bad)
            assert res.is_error, bad
        bad_alpha = await _call(session, "hybrid_search", {"query": "x", "alpha": 2})
        assert bad_alpha.is_error

        status = await _call(session, "index_status", {})
        s = status.structured_content
        assert s["ready"] and s["backend"] == backend and s["files"] == 8
        assert s["embedding_model"] == "all-MiniLM-L6-v2" and s["embedding_dimension"] == 384
        assert s["roots"][0]["root"] == sample_project.resolve().as_posix()

        again = await _call(session, "index_path", {"path": "."})
        assert again.structured_content["files_indexed"] == 0
        assert again.structured_content["files_unchanged"] == 8


def test_an_invalid_config_stops_start_up_with_a_message_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("storage:\n  backend: mongodb\n", encoding="utf-8")
    command, args = server_command()
    proc = subprocess.run(
        [command, *args],
        env=child_env(config),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert "storage.backend" in proc.stderr and "'chromadb'" in proc.stderr and "'postgresql'" in proc.stderr
    assert proc.stdout == ""  # stdout belongs to the protocol


def test_the_handshake_does_not_import_heavy_libraries() -> None:
    """Building the server and listing tools must not pull in chromadb, onnxruntime, llama_index or the embedding clients."""
    code = (
        "import sys, anyio\n"
        "from mcp import Client\n"
        "from agent_brain_mcp.config import Settings\n"
        "from agent_brain_mcp.server import build_server\n"
        "server = build_server(Settings())\n"
        "heavy = [m for m in ('chromadb', 'onnxruntime', 'llama_index', 'tokenizers', 'bm25s', 'openai', 'ollama', 'tenacity') if m in sys.modules]\n"
        "print(','.join(heavy) or 'none')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "none"


def test_migrate_brings_the_schema_to_head_for_operators(tmp_path: Path, pg_url: str, pg_table: str) -> None:
    config = write_config(tmp_path / "config.yaml", tmp_path / "state", postgres={"url": pg_url, "table": pg_table})
    command, args = server_command()
    run = [command, *args, "--quiet", "migrate"]
    first = subprocess.run(run, env=child_env(config), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    again = subprocess.run(run, env=child_env(config), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert f"schema for table '{pg_table}' is at revision {head_revision()}" in first.stdout
    assert again.returncode == 0 and f"revision {head_revision()}" in again.stdout
