"""`make demo`: index this repository through the real server over stdio, then search it.

What a newcomer runs to see it work: a real MCP client (the SDK's ClientSession) spawns
`agent-brain-mcp`, exactly as Claude Code would, and prints what the tools return.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

REPO = Path(__file__).resolve().parent.parent
QUERIES = [
    ("search", "how are unchanged files skipped when re-indexing"),
    ("hybrid_search", "reciprocal_rank_fusion alpha"),
    ("hybrid_search", "where is the embedding model loaded from"),
]


def _command() -> tuple[str, list[str]]:
    script = Path(sys.executable).parent / "agent-brain-mcp"
    return (str(script), []) if script.exists() else (sys.executable, ["-m", "agent_brain_mcp"])


async def main() -> None:
    command, args = _command()
    params = StdioServerParameters(command=command, args=[*args, "--quiet"], cwd=str(REPO))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        started = time.perf_counter()
        await session.initialize()
        print(f"connected to agent-brain-mcp in {time.perf_counter() - started:.2f}s")

        async def progress(done: float, total: float | None, message: str | None) -> None:
            print(f"  progress {done:.0f}/{total or 0:.0f}: {message}", flush=True)

        result = await session.call_tool("index_path", {"path": "."}, progress_callback=progress)
        if result.is_error:
            raise SystemExit(f"index_path failed: {result.content[0].text}")
        print(result.structured_content["summary"])
        for tool, query in QUERIES:
            found = await session.call_tool(tool, {"query": query, "top_k": 3})
            print(f"\n{tool}({query!r}):")
            for hit in found.structured_content["hits"]:
                first = hit["text"].strip().splitlines()[0][:90] if hit["text"].strip() else ""
                print(f"  {hit['score']:.3f}  {hit['file_path']}:{hit['start_line']}-{hit['end_line']}  {first}")
        status = await session.call_tool("index_status", {})
        s = status.structured_content
        print(
            f"\nindex: {s['backend']} at {s['location']}, {s['files']} files, {s['chunks']} chunks, {s['embedding_model']}"
        )


if __name__ == "__main__":
    anyio.run(main)
