"""`kill -9` of the real server in the middle of `index_path`, then a restart: the index must end up
exactly as a clean run would leave it, with no duplicate chunk in any store.

The server is the installed console script spoken to over stdio by the SDK's ``ClientSession``.
The test spawns the child itself (instead of ``stdio_client``) so it owns the pid and can SIGKILL
exactly that process once progress notifications show that some files were written.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from mcp import ClientSession, types
from mcp.client.stdio import get_default_environment
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from stores import chroma_state, pg_state
from support import child_env, make_settings, open_service, server_command, write_config

pytestmark = pytest.mark.anyio

FILES = 1500
KILL_AFTER_FILES = 150  # progress must show at least this many files done before the kill
BATCH = 2  # embedding.batch_size: writes are flushed every max(4 * batch, 64) chunks -> ~24 batches


def _make_tree(root: Path) -> Path:
    """~1,500 small files in 30 folders; each is one chunk, so the run writes many small batches."""
    for i in range(FILES):
        path = root / f"pkg{i % 30:02d}" / f"module_{i:04d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'"""Module {i}: helpers for case {i}."""\n\n\ndef compute_value_{i}(x):\n    return x * {i} + {i % 7}\n',
            encoding="utf-8",
        )
    return root


# -- a stdio transport whose child process we own ---------------------------------------------------
@asynccontextmanager
async def _server(project: Path, config: Path, errlog: Path) -> AsyncIterator[tuple[Process, ClientSession]]:
    """The console script as a child (its pid is ours to kill) and an initialised ``ClientSession``."""
    command, args = server_command()
    env = get_default_environment() | child_env(config) | {"AGENT_BRAIN_QUIET": "1"}
    with errlog.open("ab") as err:
        process = await anyio.open_process(
            [command, *args], env=env, cwd=str(project), stderr=err, start_new_session=True
        )
    to_client, from_server = anyio.create_memory_object_stream[SessionMessage | Exception](100)
    to_server, from_client = anyio.create_memory_object_stream[SessionMessage](100)

    async def read_stdout() -> None:
        assert process.stdout is not None
        buffer = b""
        async with to_client:
            try:
                async for data in process.stdout:
                    *lines, buffer = (buffer + data).split(b"\n")
                    for line in lines:
                        if line.strip():
                            message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                            await to_client.send(SessionMessage(message))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream):
                pass

    async def write_stdin() -> None:
        assert process.stdin is not None
        async with from_client:
            async for message in from_client:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                try:
                    await process.stdin.send(data.encode())
                except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    return

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_stdout)
            tg.start_soon(write_stdin)
            try:
                async with ClientSession(from_server, to_server) as session:
                    with anyio.fail_after(60):
                        await session.initialize()
                    yield process, session
            finally:
                tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                assert process.stdin is not None
                await process.stdin.aclose()  # a clean shutdown: EOF on stdin
                with anyio.move_on_after(20):
                    await process.wait()
            if process.returncode is None:
                process.kill()
                with anyio.move_on_after(10):
                    await process.wait()
            await process.aclose()


async def _fresh_index(settings: Any, project: Path) -> None:
    """A clean, uninterrupted run over the same tree in its own store, for comparison."""
    async with open_service(settings) as service:
        result = await service.index_path(str(project))
    assert result.total_files == FILES


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["chromadb", "postgresql"])
async def test_a_server_killed_mid_index_recovers_to_exactly_a_clean_index_on_the_next_run(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    project = _make_tree(tmp_path / "project")  # the server's working folder, so inside its allowed roots
    state = tmp_path / "state"
    postgres = None
    table = ""
    if backend == "postgresql":
        table = request.getfixturevalue("pg_table")
        postgres = {"url": request.getfixturevalue("pg_url"), "table": table}
    config = write_config(tmp_path / "cfg" / "config.yaml", state, postgres=postgres, provider="hash", batch_size=BATCH)
    errlog = tmp_path / "server-stderr.log"

    # 1. Start indexing, and SIGKILL the server once some batches are written.
    enough = anyio.Event()
    seen: list[tuple[float, float | None]] = []
    finished: list[Any] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))
        if done >= KILL_AFTER_FILES and total is not None and done < total:
            enough.set()

    async with _server(project, config, errlog) as (process, session):

        async def index() -> None:
            try:
                finished.append(await session.call_tool("index_path", {"path": "."}, progress_callback=on_progress))
            except MCPError as exc:  # the kill closes the connection under the pending call
                assert "Connection closed" in str(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(index)
            with anyio.fail_after(90):
                await enough.wait()
            os.kill(process.pid, signal.SIGKILL)
            with anyio.fail_after(10):
                await process.wait()
            tg.cancel_scope.cancel()  # the pending call would wait for an answer that never comes
    assert process.returncode == -signal.SIGKILL
    assert not finished, "the run finished before the kill: make the tree bigger"
    assert seen and seen[-1][1] is not None and seen[-1][0] < seen[-1][1]  # killed before the end

    # 2. Restart and index again: the run completes and reports the whole tree.
    async with _server(project, config, errlog) as (_, session):
        with anyio.fail_after(120):
            result = await session.call_tool("index_path", {"path": "."})
        assert not result.is_error, result.content
        again = result.structured_content
        assert again["total_files"] == FILES and again["files_skipped"] == 0
        # Files the killed run had fully written are not read a second time (their pending vectors,
        # if the kill came before they were filled in, are filled in by this run).
        assert 0 < again["files_unchanged"] <= FILES
        assert again["files_indexed"] == FILES - again["files_unchanged"]
        found = await session.call_tool("hybrid_search", {"query": "compute_value_1234", "top_k": 1})
        assert not found.is_error and found.structured_content["hits"][0]["file_path"] == "pkg04/module_1234.py"

    # 3. Compare with a clean run over the same tree in another store.
    if backend == "chromadb":
        fresh_state = tmp_path / "fresh"
        await _fresh_index(make_settings(fresh_state, project, embedding={"batch_size": BATCH}), project)
        recovered, clean = chroma_state(state), chroma_state(fresh_state)
    else:
        url = request.getfixturevalue("pg_url")
        fresh_table = f"{table}_fresh"
        fresh = make_settings(tmp_path / "fresh", project, backend="postgresql", pg_url=url, table=fresh_table)
        await _fresh_index(fresh, project)
        recovered, clean = await pg_state(url, table), await pg_state(url, fresh_table)
    assert len(recovered["manifest"]) == FILES
    assert recovered["manifest"] == clean["manifest"]
    assert recovered["chunks"] == clean["chunks"]
    assert recovered["ids"] == clean["ids"]
