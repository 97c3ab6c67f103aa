"""Two processes on one embedded index: a reader never damages a writer's work, and a running server
serves what another process indexed, from its next call on.

The other process is the real command line (``agent-brain-mcp index`` / ``status``); the running
server is the real MCP server, in-process. Moments are found by polling the stores on disk (bounded
waits), and the writer is frozen with SIGSTOP at the moment that matters.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client
from stores import catalog_rows, chroma_state
from support import child_env, make_settings, open_service, write_config

from agent_brain_mcp.server import build_server

pytestmark = pytest.mark.anyio

SCRIPT = Path(sys.executable).parent / "agent-brain-mcp"
TIMEOUT = 120


def _tree(root: Path, files: int) -> Path:
    for i in range(files):
        path = root / f"pkg{i % 10}" / f"mod_{i:04d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"def handler_{i}(event):\n    return event.get('field_{i}')\n", encoding="utf-8")
    return root


def _cli(args: list[str], cwd: Path, config: Path, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(SCRIPT), *args],
        cwd=cwd,
        env=child_env(config),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,  # type: ignore[call-overload]
    )


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


def _count(db_path: Path, sql: str) -> int:
    if not db_path.exists():
        return 0
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # the table is not created yet
        return 0
    finally:
        db.close()


@pytest.mark.slow
async def test_status_from_another_process_during_a_writers_first_batch_leaves_the_writers_work_intact(
    tmp_path: Path,
) -> None:
    project = _tree(tmp_path / "project", 3000)
    state = tmp_path / "state"
    # One write of 2,048 chunks (batch 512 -> flushes of 4 x 512): a long first Chroma write.
    config = write_config(tmp_path / "cfg" / "config.yaml", state, provider="hash", batch_size=512)
    writer = _cli(["index", "."], project, config)
    try:
        # The writer's first vectors are in Chroma while the catalog still lists them as awaiting
        # (keyword first: the chunk rows are committed before any vector): freeze it there.
        chroma_db, catalog_db = state / "chroma" / "chroma.sqlite3", state / "catalog.sqlite3"
        _wait_for(
            lambda: _count(chroma_db, "SELECT COUNT(*) FROM embeddings") > 0, 60, "the writer's first Chroma write"
        )
        os.kill(writer.pid, signal.SIGSTOP)
        assert _count(catalog_db, "SELECT COUNT(*) FROM awaiting") > 0, "froze too late: every vector is in"
        reader = _cli(["status"], project, config)
        out, err = reader.communicate(timeout=TIMEOUT)
        assert reader.returncode == 0, err
        assert "clearing" not in err
        os.kill(writer.pid, signal.SIGCONT)
        out, err = writer.communicate(timeout=TIMEOUT)
    finally:
        if writer.poll() is None:
            os.kill(writer.pid, signal.SIGCONT)
            writer.kill()
            writer.communicate(timeout=30)
    assert writer.returncode == 0, err
    assert "3000 files" in out
    got = chroma_state(state)
    assert len(got["manifest"]) == 3000 and len(got["ids"]) == 3000


@pytest.mark.slow
async def test_a_running_server_serves_what_another_process_indexed_with_deletions_from_its_next_call(
    tmp_path: Path,
) -> None:
    project = _tree(tmp_path / "project", 300)
    state = tmp_path / "state"
    config = write_config(tmp_path / "cfg" / "config.yaml", state, provider="hash")
    settings = make_settings(state, project)
    async with Client(build_server(settings)) as client:
        assert not (await client.call_tool("index_path", {"path": "."})).is_error
        before = await client.call_tool("search", {"query": "def handler_7(event)", "top_k": 3})
        assert not before.is_error and before.structured_content["hits"][0]["file_path"] == "pkg7/mod_0007.py"

        # Another process: delete a tenth of the files, add one, re-index from a shell.
        for i in range(0, 300, 10):
            (project / f"pkg{i % 10}" / f"mod_{i:04d}.py").unlink()
        (project / "late.py").write_text("def quarterly_ledger_reconciliation():\n    pass\n", encoding="utf-8")
        other = _cli(["index", "."], project, config)
        _, err = other.communicate(timeout=TIMEOUT)
        assert other.returncode == 0, err
        manifest, _, _, _ = catalog_rows(state)
        assert len(manifest) == 271

        for tool, args in [
            ("search", {"query": "def quarterly_ledger_reconciliation():", "top_k": 3}),
            ("hybrid_search", {"query": "quarterly_ledger_reconciliation", "top_k": 3}),
            ("hybrid_search", {"query": "quarterly_ledger_reconciliation", "top_k": 3, "alpha": 0}),
            ("hybrid_search", {"query": "def quarterly_ledger_reconciliation():", "top_k": 3, "alpha": 1}),
        ]:
            found = await client.call_tool(tool, args)
            assert not found.is_error, found.content
            hits = found.structured_content["hits"]
            assert hits and hits[0]["file_path"] == "late.py", (tool, args, hits)
        # A deleted file's text is never served, by either ranking.
        for tool in ("search", "hybrid_search"):
            gone = await client.call_tool(tool, {"query": "def handler_20(event) field_20", "top_k": 20})
            assert not gone.is_error, gone.content
            assert all(h["file_path"] != "pkg0/mod_0020.py" for h in gone.structured_content["hits"])
        status = await client.call_tool("index_status", {})
        assert status.structured_content["files"] == 271


async def test_a_vector_hit_the_catalog_does_not_hold_is_never_served(tmp_path: Path) -> None:
    """A chunk only Chroma holds (a write cut short, a deleted file) is dropped before it reaches an agent."""
    project = _tree(tmp_path / "project", 20)
    settings = make_settings(tmp_path / "state", project)
    async with open_service(settings) as service:
        await service.index_path(".")
        backend = service.backend
        ghost = [0.0] * service.embedder.identity.dimension
        ghost[0] = 1.0
        backend._collection.upsert(  # type: ignore[attr-defined]
            ids=["ghost-0"],
            embeddings=[ghost],
            documents=["deleted text"],
            metadatas=[
                {"root": str(project), "rel_path": "gone.py", "path": f"{project}/gone.py", "ordinal": 0}
                | {"start_line": 1, "end_line": 2, "language": "python"}
            ],
        )
        found = await backend.vector_search(ghost, 5, _no_filters())
        assert found and all(hit.id != "ghost-0" for hit in found)


def _no_filters() -> object:
    from agent_brain_mcp.backends.base import SearchFilters

    return SearchFilters()
