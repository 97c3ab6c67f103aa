"""What an agent reads: search results' text is Markdown, their structuredContent the unchanged JSON."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.server.mcpserver import MCPServer
from support import child_env, server_command, write_config

from agent_brain_mcp.models import SearchResult

pytestmark = pytest.mark.anyio


async def _schema_of_a_plain_search_result_tool() -> object:
    """The outputSchema the SDK derives for a tool annotated ``-> SearchResult`` (what clients saw before)."""
    probe = MCPServer(name="probe")

    @probe.tool()
    def plain() -> SearchResult:  # pragma: no cover - never called
        raise NotImplementedError

    return (await probe.list_tools())[0].output_schema


async def test_search_results_read_as_markdown_and_keep_their_structured_content(
    sample_project: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "cfg" / "config.yaml", tmp_path / "state")
    command, args = server_command()
    params = StdioServerParameters(command=command, args=args, env=child_env(config), cwd=str(sample_project))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {t.name: t for t in (await session.list_tools()).tools}
        expected_schema = await _schema_of_a_plain_search_result_tool()
        assert tools["search"].output_schema == expected_schema
        assert tools["hybrid_search"].output_schema == expected_schema

        indexed = await session.call_tool("index_path", {"path": "."})
        assert not indexed.is_error, indexed.content
        root = sample_project.resolve().as_posix()

        # The SDK client itself checks structuredContent against the outputSchema (jsonschema) on every call.
        for tool, query in (("hybrid_search", "DatabasePool acquire"), ("search", "wait longer after a failed try")):
            found = await session.call_tool(tool, {"query": query, "top_k": 3})
            assert not found.is_error, found.content
            result = SearchResult.model_validate(found.structured_content)  # the schema's shape, unchanged
            assert found.structured_content == result.model_dump(mode="json")  # nothing added, nothing dropped
            assert result.hits and all(hit.root == root for hit in result.hits)

            text = found.content[0].text
            first, _, rest = text.partition("\n")
            assert first.startswith(f"{result.mode} search: {len(result.hits)} hits") and root in first
            assert text.count(root) == 1, "the root is said once, not per hit"
            assert not text.lstrip().startswith("{") and '\\"' not in text and "\\n" not in text
            for hit in result.hits:
                header = f"{hit.file_path}:{hit.start_line}-{hit.end_line}"
                assert re.search(rf"^{re.escape(header)}  .*\((vector|keyword) #\d", rest, re.MULTILINE), header
                assert f"```{hit.language}\n{hit.text}\n```" in rest  # the code as it is, unescaped
