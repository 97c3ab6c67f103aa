"""Property-based tests of indexing over generated trees: any file names (any bytes but ``/`` and
NUL), shapes (depth, FIFOs, sockets, symlinks in and out of the root, dangling ones) and ignore-file
contents. Whatever the tree, ``index_path`` comes back with a result (never an error or a hang),
and the server still answers ``index_status`` within a second afterwards.

One in-process server (hash embedder, Chroma) lives for the module in a blocking portal; each
generated tree is a new folder of the project, indexed as its own root.
"""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from support import make_settings

from agent_brain_mcp.server import build_server

EXAMPLES = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
INDEX_TIMEOUT_S = 30
STATUS_TIMEOUT_S = 1.0
HOSTILE_GLOB = "a*a*a*a*a*a*a*a*a*a*a*a*b"

names = st.binary(min_size=1, max_size=24).filter(
    lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b"..")
)
# Sprinkle the special names a walker must treat with care.
names = names | st.sampled_from([b".gitignore", b".env", b"id_rsa", b"caf\xe9", b"a" * 60 + b".py", b"\xff\xfe"])
rel_paths = st.lists(names, min_size=1, max_size=4)
kinds = st.sampled_from(
    ["file", "file", "file", "dir", "fifo", "socket", "link_in", "link_out", "dangling", "link_dir"]
)
ignore_lines = st.lists(
    st.text(max_size=30) | st.sampled_from([HOSTILE_GLOB, "*", "!*.py", "**/", "[", "\\", "/", "!", "*.py", "a/**/b"]),
    max_size=8,
)
entries = st.lists(st.tuples(rel_paths, kinds, st.binary(max_size=200)), max_size=12)


class Server:
    def __init__(self, portal: BlockingPortal, client: Client) -> None:
        self._portal = portal
        self._client = client

    def call(self, tool: str, args: dict[str, Any], timeout: float) -> Any:
        async def bounded() -> Any:
            with anyio.fail_after(timeout):
                return await self._client.call_tool(tool, args)

        return self._portal.call(bounded)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trees").resolve()


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[Server]:
    (project / "work").mkdir()
    (project / "outside-secret.txt").write_text("SECRET_TOKEN outside the root\n", encoding="utf-8")
    with start_blocking_portal(backend="asyncio") as portal:
        client = Client(build_server(make_settings(project / "state", project / "work")))
        with portal.wrap_async_context_manager(client) as connected:
            srv = Server(portal, connected)
            srv.call("index_status", {}, INDEX_TIMEOUT_S)  # the warm-up is done
            yield srv


_cases = itertools.count()


def _build(base: bytes, outside: bytes, items: list[tuple[list[bytes], str, bytes]], depth: int) -> None:
    deep = base + b"/" + b"/".join([b"d"] * depth) if depth else base
    os.makedirs(deep, exist_ok=True)
    with open(deep + b"/deep.py", "wb") as fh:
        fh.write(b"deep = 1\n")
    for parts, kind, content in items:
        path = base + b"/" + b"/".join(parts)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _make(path, kind, content, base, outside)
        except OSError:
            continue  # a name generated twice as a file and a folder, a socket path too long...


def _make(path: bytes, kind: str, content: bytes, base: bytes, outside: bytes) -> None:
    if kind == "file":
        with open(path, "xb") as fh:
            fh.write(content)
    elif kind == "dir":
        os.mkdir(path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.bind(path)
        finally:
            sock.close()
    elif kind == "link_in":
        os.symlink(base + b"/" + b"work-file.py", path)
    elif kind == "link_out":
        os.symlink(outside, path)
    elif kind == "dangling":
        os.symlink(b"/nonexistent/" + os.path.basename(path), path)
    elif kind == "link_dir":
        os.symlink(base, path)


@EXAMPLES
@given(
    items=entries,
    ignore=ignore_lines,
    depth=st.integers(0, 40),
    exclude=st.none() | st.lists(st.sampled_from([HOSTILE_GLOB, "*.py", "!x", "**/d/"]), min_size=1, max_size=2),
)
def test_any_tree_is_indexed_with_a_result_and_the_server_keeps_answering(
    server: Server,
    project: Path,
    items: list[tuple[list[bytes], str, bytes]],
    ignore: list[str],
    depth: int,
    exclude: list[str] | None,
) -> None:
    case = project / "work" / f"case{next(_cases)}"
    base = os.fsencode(case)
    os.mkdir(base)
    (case / "work-file.py").write_text("x = 1\n", encoding="utf-8")
    # Written first: a generated item of the same name is then skipped, never a FIFO we would block on.
    (case / ".gitignore").write_bytes("\n".join(ignore).encode("utf-8", "surrogatepass"))
    _build(base, os.fsencode(project / "outside-secret.txt"), items, depth)
    args: dict[str, Any] = {"path": str(case.relative_to(project / "work"))}
    if exclude:
        args["exclude"] = exclude
    result = server.call("index_path", args, INDEX_TIMEOUT_S)
    assert not result.is_error, result.content[0].text
    indexed = result.structured_content
    assert "SECRET_TOKEN" not in str(indexed)
    status = server.call("index_status", {}, STATUS_TIMEOUT_S)
    assert not status.is_error
    hits = server.call("hybrid_search", {"query": "SECRET_TOKEN outside the root", "top_k": 5}, INDEX_TIMEOUT_S)
    assert all("SECRET_TOKEN" not in hit["text"] for hit in hits.structured_content["hits"])
