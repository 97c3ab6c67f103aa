"""Characters and tokens an agent reads per search hit: the SDK's JSON text vs our Markdown.

Indexes this repository (every file the walker takes) through the real service with the bundled
model, runs the 20 questions of `benchmarks/queries/agent-brain-mcp.yaml` through `search` and
`hybrid_search` (top_k 10), and renders each result twice:

- before: what the MCP SDK puts in the text content for a tool returning the pydantic model
  (`pydantic_core.to_json(result, fallback=str, indent=2)`, see `_convert_to_content` in
  `mcp/server/mcpserver/utilities/func_metadata.py`);
- after: `agent_brain_mcp.render.render_search`, what the server now sends.

Equal information is checked per hit (path, lines, symbol, ranks, language, the text itself, and
for `search` the cosine score to 3 significant digits; a hybrid score is the fused score of the two
ranks shown, so it is implied) and per result (mode, hit count, index size, truncation, the root once);
the query is not echoed back (the agent wrote it). Tokens: tiktoken's cl100k_base, loaded offline
from the copy llama-index-core ships (installed by the dev extra).

Usage: python benchmarks/bench_result_text.py [--state-dir DIR] [--top-k 10] [--provider local]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pydantic_core
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

from support import make_settings, open_service  # noqa: E402

from agent_brain_mcp.models import SearchResult  # noqa: E402
from agent_brain_mcp.render import render_search  # noqa: E402


def tokenizer() -> Any:
    import llama_index.core

    cache = Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache))
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def sdk_json_text(result: SearchResult) -> str:
    return pydantic_core.to_json(result, fallback=str, indent=2).decode()


def check_equal_information(result: SearchResult, markdown: str) -> None:
    """Every fact of the JSON text is in the Markdown (the query aside)."""
    roots = {h.root for h in result.hits}
    first = markdown.split("\n", 1)[0]
    assert first.startswith(f"{result.mode} search: {len(result.hits)} hit") and str(result.chunks_in_index) in first
    assert ("Truncated" in first) == result.truncated
    if len(roots) == 1:
        assert markdown.count(next(iter(roots))) >= 1
    for hit in result.hits:
        lines = f"{hit.start_line}" if hit.start_line == hit.end_line else f"{hit.start_line}-{hit.end_line}"
        header = next(line for line in markdown.split("\n") if line.startswith(f"{hit.file_path}:{lines}  "))
        assert (hit.symbol or "") in header
        # a hybrid score is rrf_score(vector_rank, keyword_rank): implied by the ranks shown
        assert result.mode == "hybrid" or f"score {hit.score:.3g}" in header
        for side, rank in (("vector", hit.vector_rank), ("keyword", hit.keyword_rank)):
            assert (f"{side} #{rank}" in header) == (rank is not None)
        assert f"{hit.language}\n{hit.text}\n`" in markdown


async def measure(state: Path, provider: str, top_k: int) -> dict[str, Any]:
    spec = yaml.safe_load((HERE / "queries" / "agent-brain-mcp.yaml").read_text(encoding="utf-8"))
    settings = make_settings(state, REPO, provider)
    enc = tokenizer()
    rows: dict[str, list[tuple[int, ...]]] = {"search": [], "hybrid_search": []}
    example = ""
    async with open_service(settings) as service:
        indexed = await service.index_path(str(REPO))
        print(f"indexed {indexed.total_files} files / {indexed.total_chunks} chunks", file=sys.stderr)
        for item in spec["queries"]:
            for mode in rows:
                result: SearchResult = await getattr(service, mode)(item["query"], top_k)
                before, after = sdk_json_text(result), render_search(result)
                check_equal_information(result, after)
                code = (sum(len(h.text) for h in result.hits), sum(len(enc.encode(h.text)) for h in result.hits))
                tokens = (len(enc.encode(before)), len(enc.encode(after)))
                rows[mode].append((len(result.hits), len(before), len(after), *tokens, *code))
                if mode == "hybrid_search" and not example:
                    example = render_search(result.model_copy(update={"hits": result.hits[:2]}))
    return {"rows": rows, "example": example, "files": indexed.total_files, "chunks": indexed.total_chunks}


def _line(name: str, rows: list[list[int]]) -> str:
    hits, jc, mc, jt, mt, cc, ct = (sum(r[i] for r in rows) for i in range(7))
    return (
        f"| {name} | {hits} | {jc / hits:.0f} -> {mc / hits:.0f} (**{mc / jc:.2f}**) "
        f"| {jt / hits:.0f} -> {mt / hits:.0f} (**{mt / jt:.2f}**) | {cc / hits:.0f} / {ct / hits:.0f} "
        f"| {(jc - cc) / hits:.0f} -> {(mc - cc) / hits:.0f} ({(mc - cc) / (jc - cc):.2f}) "
        f"| {(jt - ct) / hits:.0f} -> {(mt - ct) / hits:.0f} ({(mt - ct) / (jt - ct):.2f}) |"
    )


def report(data: dict[str, Any]) -> str:
    out = [
        f"corpus: this repository, {data['files']} files / {data['chunks']} chunks; 20 queries x 2 tools, top_k 10",
        "",
        "| tool | hits | chars/hit JSON -> Markdown | tokens/hit | the hits' code alone: chars / tokens per hit "
        "| rest (chars/hit) | rest (tokens/hit) |",
        "|---|---|---|---|---|---|---|",
    ]
    everything: list[list[int]] = []
    for mode, rows in data["rows"].items():
        out.append(_line(mode, rows))
        everything += rows
    out.append(_line("both", everything))
    small = [r for r in everything if r[0] and r[5] / r[0] <= 600]
    if small:
        out.append(_line("results whose hits average <= 600 code chars", small))
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--provider", default="local", choices=["local", "hash"])
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-text-") as tmp:
        data = asyncio.run(measure(args.state_dir or Path(tmp), args.provider, args.top_k))
    print(report(data))
    print("\nexample (hybrid_search, first 2 hits):\n")
    print(data["example"])
    if args.json:
        args.json.write_text(json.dumps(data, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
