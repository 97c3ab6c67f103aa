"""Property-based tests of the MCP tools: whatever the arguments, every call comes back as a result
or an ``isError`` result, never a crash or a traceback, and the server keeps answering.

One in-process server (the SDK's ``Client`` on ``build_server``: hash embedder, Chroma, the sample
project indexed) lives on one event loop in a blocking portal for the whole module; hypothesis
drives it synchronously through ``portal.call``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from mcp import Client
from support import SAMPLE_FILES, make_settings, write_tree

from agent_brain_mcp.server import build_server

EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
CALL_TIMEOUT_S = 30

texts = st.text(max_size=200)
# Any int, including ones far outside int64; any float, including NaN and the infinities.
ints = st.integers() | st.sampled_from([0, 1, 200, 201, -1, 2**31, 2**63, -(2**63), 10**30])
# Valid values are drawn often enough that most calls get past argument validation to the store.
top_ks = st.none() | st.integers(1, 200) | ints
max_charses = st.none() | st.none() | st.integers(100, 5000) | ints
prefixes = st.none() | texts | st.sampled_from(["src/", "src/payments", "docs/guide.md", "/", "%", "_", "src/%_'\\"])
languages = st.none() | texts | st.sampled_from(["python", "PYTHON", "markdown", "typescript", "text", ""])
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1.0])
globs = st.none() | st.lists(texts, max_size=4) | st.lists(st.sampled_from(["*.py", "docs/", "!src/", "**/x", "["]))


class Server:
    """The in-process client, called synchronously from hypothesis' thread."""

    def __init__(self, portal: BlockingPortal, client: Client) -> None:
        self._portal = portal
        self._client = client
        self.files = 0  # files in the index once the project is indexed

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        async def bounded() -> Any:
            with anyio.fail_after(CALL_TIMEOUT_S):
                return await self._client.call_tool(tool, args)

        return self._portal.call(bounded)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("properties")
    project = write_tree(base / "project", SAMPLE_FILES)
    with start_blocking_portal(backend="asyncio") as portal:
        client = Client(build_server(make_settings(base / "state", project)))
        with portal.wrap_async_context_manager(client) as connected:
            srv = Server(portal, connected)
            indexed = srv.call("index_path", {"path": "."})
            assert not indexed.is_error, indexed.content
            srv.files = indexed.structured_content["total_files"]
            assert srv.files == 7  # SAMPLE_FILES: 4 code files, 2 markdown, .gitignore
            yield srv


def _check(result: Any) -> None:
    """A result or an isError result with a readable message; never a traceback."""
    if result.is_error:
        assert result.content and result.content[0].text.strip()
        event(f"error: {result.content[0].text[:60]}")
    else:
        event("result")
        assert result.structured_content is not None
    for block in result.content:
        assert "Traceback" not in getattr(block, "text", "")


def _still_answers(server: Server) -> None:
    ok = server.call("hybrid_search", {"query": "retry_with_backoff", "top_k": 1})
    assert not ok.is_error, ok.content
    assert ok.structured_content["hits"][0]["file_path"] == "src/payments/retry.py"


def _args(**values: Any) -> dict[str, Any]:
    """Leave out arguments drawn as None half of the time: absent and null both must work."""
    return {k: v for k, v in values.items() if v is not None}


@EXAMPLES
@given(query=texts, top_k=top_ks, path_prefix=prefixes, language=languages, max_chars=max_charses)
def test_search_with_any_arguments_returns_a_result_or_an_error(
    server: Server, query: str, top_k: int | None, path_prefix: str | None, language: str | None, max_chars: int | None
) -> None:
    args = _args(top_k=top_k, path_prefix=path_prefix, language=language, max_chars=max_chars)
    _check(server.call("search", {"query": query, **args}))


@EXAMPLES
@given(
    query=texts,
    top_k=top_ks,
    path_prefix=prefixes,
    language=languages,
    alpha=st.none() | st.floats(0, 1) | floats,
    max_chars=max_charses,
)
def test_hybrid_search_with_any_arguments_returns_a_result_or_an_error(
    server: Server,
    query: str,
    top_k: int | None,
    path_prefix: str | None,
    language: str | None,
    alpha: float | None,
    max_chars: int | None,
) -> None:
    args = _args(top_k=top_k, path_prefix=path_prefix, language=language, alpha=alpha, max_chars=max_chars)
    result = server.call("hybrid_search", {"query": query, **args})
    _check(result)
    if alpha is not None and math.isfinite(alpha) and not 0.0 <= alpha <= 1.0:
        assert result.is_error
    # NaN and the infinities cannot travel in JSON: the client sends them as null, i.e. the default.


@EXAMPLES
@given(path=st.sampled_from([".", "src", "docs/guide.md"]) | texts, include=globs, exclude=globs, force=st.booleans())
def test_index_path_with_any_globs_returns_a_result_or_an_error_and_loses_nothing(
    server: Server, path: str, include: list[str] | None, exclude: list[str] | None, force: bool
) -> None:
    result = server.call("index_path", {"path": path, **_args(include=include, exclude=exclude), "force": force})
    _check(result)
    if not result.is_error:
        # A call's own globs only narrow what it looks at: nothing indexed is ever dropped by them.
        assert result.structured_content["files_removed"] == 0
        assert result.structured_content["total_files"] == server.files


@EXAMPLES
@given(tool=st.sampled_from(["search", "hybrid_search", "index_path", "index_status"]), args=st.dictionaries(
    st.sampled_from(["query", "top_k", "path", "alpha", "include", "path_prefix", "language", "force", "extra"]),
    st.none() | st.booleans() | ints | floats | texts | st.lists(texts, max_size=3) | st.dictionaries(texts, ints, max_size=2),
    max_size=5,
))  # fmt: skip
def test_any_argument_types_give_a_result_or_an_error(server: Server, tool: str, args: dict[str, Any]) -> None:
    _check(server.call(tool, args))


def test_the_server_answers_normal_calls_after_all_of_that(server: Server) -> None:
    _still_answers(server)
    status = server.call("index_status", {})
    assert not status.is_error and status.structured_content["ready"] is True
    assert status.structured_content["files"] == server.files
