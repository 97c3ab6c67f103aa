"""Hostile trees and careless arguments through the real tools (in-process MCP client, real Chroma).

The run finishes with the bad part skipped and reported, nothing outside the root or secret
becomes searchable, argument errors read as one sentence, and the server keeps answering.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from support import make_settings, open_service

from agent_brain_mcp.errors import IndexBusyError
from agent_brain_mcp.indexing.progress import WALK, IndexProgress
from agent_brain_mcp.server import build_server

pytestmark = pytest.mark.anyio

HOSTILE_GLOB = "a*a*a*a*a*a*a*a*a*a*a*a*b"


def _text(result: Any) -> str:
    return str(result.content[0].text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path.resolve() / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def handle_payment():\n    return 'paid'\n", encoding="utf-8")
    return root


async def test_a_file_swapped_after_the_walk_for_a_symlink_outside_the_root_is_not_indexed(
    tmp_path: Path, project: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("SECRET_TOKEN = 'leaked-value'\n", encoding="utf-8")
    victim = project / "src" / "victim.py"
    victim.write_text("harmless = 1\n", encoding="utf-8")

    async def swap(event: IndexProgress) -> None:
        if event.phase == WALK:  # the walk is over, nothing is read yet
            victim.unlink()
            victim.symlink_to(outside)

    async with open_service(make_settings(tmp_path / "state", project)) as service:
        result = await service.index_path(".", progress=swap)
        assert ("src/victim.py", result.skipped[0].reason) == (result.skipped[0].path, result.skipped[0].reason)
        assert "symlink" in result.skipped[0].reason
        hits = await service.hybrid_search("SECRET_TOKEN leaked-value", top_k=5)
        assert all("SECRET_TOKEN" not in h.text for h in hits.hits)


async def test_a_file_swapped_for_a_fifo_during_the_run_is_skipped_and_the_run_finishes(
    tmp_path: Path, project: Path
) -> None:
    victim = project / "src" / "victim.py"
    victim.write_text("harmless = 1\n", encoding="utf-8")

    async def swap(event: IndexProgress) -> None:
        if event.phase == WALK:
            victim.unlink()
            os.mkfifo(victim)

    async with open_service(make_settings(tmp_path / "state", project)) as service:
        try:
            with anyio.fail_after(20):
                result = await service.index_path(".", progress=swap)
        finally:
            if victim.exists():  # release a reader blocked in open() on the old code
                with contextlib.suppress(OSError):
                    os.close(os.open(victim, os.O_WRONLY | os.O_NONBLOCK))
        assert result.files_indexed == 1
        assert [(s.path, s.reason.split(" (")[0]) for s in result.skipped] == [("src/victim.py", "not a regular file")]


@pytest.mark.parametrize("backend", ["chromadb", "postgresql"])
async def test_non_utf8_file_names_are_indexed_under_a_printable_name_and_the_result_comes_back(
    backend: str, tmp_path: Path, project: Path, request: pytest.FixtureRequest
) -> None:
    folder = os.fsencode(project) + b"/caf\xe9_dir"
    os.mkdir(folder)
    with open(folder + b"/na\xefve.py", "wb") as fh:
        fh.write(b"def naive_unicode_handler():\n    return 'ok'\n")
    with open(os.fsencode(project) + b"/logo_\xe9.png", "wb") as fh:
        fh.write(b"\x89PNG\r\n")
    settings = make_settings(tmp_path / "state", project)
    if backend == "postgresql":
        pg = {"pg_url": request.getfixturevalue("pg_url"), "table": request.getfixturevalue("pg_table")}
        settings = make_settings(tmp_path / "state", project, backend="postgresql", **pg)
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("index_path", {"path": "."})
        assert not result.is_error, _text(result)
        assert result.structured_content["files_indexed"] == 2
        assert {"path": "logo_\\xe9.png", "reason": "binary"} in result.structured_content["skipped"]
        hits = await client.call_tool("hybrid_search", {"query": "naive_unicode_handler", "top_k": 1})
        assert hits.structured_content["hits"][0]["file_path"] == "caf\\xe9_dir/na\\xefve.py"


async def test_a_hostile_glob_does_not_freeze_the_server(tmp_path: Path, project: Path) -> None:
    for i in range(20):
        (project / f"{'a' * 60}{i}.py").write_text(f"value_{i} = {i}\n", encoding="utf-8")
    (project / ".gitignore").write_text(HOSTILE_GLOB + "\n", encoding="utf-8")
    async with Client(build_server(make_settings(tmp_path / "state", project))) as client:
        await client.call_tool("index_status", {})  # the warm-up is done
        started = time.perf_counter()
        with anyio.fail_after(30):
            result = await client.call_tool("index_path", {"path": ".", "exclude": [HOSTILE_GLOB]})
        assert not result.is_error, _text(result)
        assert result.structured_content["files_indexed"] == 22
        assert time.perf_counter() - started < 10


async def test_a_second_foreground_index_path_fails_at_once_with_a_busy_error(tmp_path: Path, project: Path) -> None:
    release = anyio.Event()
    entered = anyio.Event()

    async def hold(event: IndexProgress) -> None:
        entered.set()
        await release.wait()

    async with open_service(make_settings(tmp_path / "state", project)) as service, anyio.create_task_group() as tg:
        tg.start_soon(lambda: service.index_path(".", progress=hold))
        try:
            await entered.wait()
            started = time.perf_counter()
            with pytest.raises(IndexBusyError, match="in progress") as caught, anyio.fail_after(5):
                await service.index_path(".")  # before: waited for the first run (forever, here)
            assert time.perf_counter() - started < 1.0
            assert "index_status" in str(caught.value)
        finally:
            release.set()


async def test_secret_files_in_a_home_like_folder_are_skipped_and_not_searchable(tmp_path: Path) -> None:
    home = tmp_path.resolve() / "home"
    files = {
        ".ssh/id_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----\nSSH_KEY_MATERIAL\n",
        ".aws/credentials": "[default]\naws_secret_access_key = AWS_SECRET_MATERIAL\n",
        ".netrc": "machine example.com password NETRC_SECRET_MATERIAL\n",
        "proj/.env": "API_KEY=DOTENV_SECRET_MATERIAL\n",
        "proj/notes.md": "# Notes\nnothing secret here\n",
    }
    for rel, text in files.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(text, encoding="utf-8")
    async with open_service(make_settings(tmp_path / "state", home)) as service:
        result = await service.index_path(".")
        assert result.files_indexed == 1
        assert result.skipped_by_reason == {"secret": 4}
        for word in ["SSH_KEY_MATERIAL", "AWS_SECRET_MATERIAL", "NETRC_SECRET_MATERIAL", "DOTENV_SECRET_MATERIAL"]:
            hits = await service.hybrid_search(word, top_k=5)
            assert all(word not in h.text for h in hits.hits)
        explicit = await service.index_path("proj", include=[".env"])
        assert explicit.files_indexed == 1


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("search", {"query": "x", "top_k": 0}, "top_k must be between 1 and 200, got 0."),
        ("search", {"query": "x", "top_k": True}, "top_k must be an integer between 1 and 200, got true"),
        ("search", {"query": "x", "top_k": "many"}, 'top_k must be an integer between 1 and 200, got "many".'),
        ("search", {}, "query is required."),
        ("hybrid_search", {"query": "x", "alpha": 2}, "alpha must be between 0 and 1, got 2."),
        ("hybrid_search", {"query": "x", "max_chars": 5}, "max_chars must be between 100 and 2000000, got 5."),
        ("hybrid_search", {"query": "x", "alpha": False}, "alpha must be a number between 0 and 1, got false"),
        ("index_path", {"path": ".", "include": "*.py"}, 'include must be a list of strings, got "*.py".'),
        ("index_path", {"path": ".", "force": "perhaps"}, 'force must be true or false, got "perhaps".'),
        ("cancel_indexing", {"job_id": 7}, "job_id must be a string, got 7."),
    ],
)
async def test_argument_errors_are_one_plain_sentence(
    tmp_path: Path, project: Path, tool: str, args: dict[str, Any], expected: str
) -> None:
    async with Client(build_server(make_settings(tmp_path / "state", project))) as client:
        result = await client.call_tool(tool, args)
        assert result.is_error
        text = _text(result)
        assert text.endswith(expected), text
        assert "pydantic" not in text and "validation error" not in text


async def test_a_huge_path_prefix_is_refused_with_a_clear_message(tmp_path: Path, project: Path) -> None:
    async with Client(build_server(make_settings(tmp_path / "state", project))) as client:
        await client.call_tool("index_path", {"path": "."})
        result = await client.call_tool("search", {"query": "payment", "path_prefix": "src/" * 250_000})
        assert result.is_error
        assert "path_prefix must be at most 4096 characters" in _text(result)
        assert "Internal error" not in _text(result)
