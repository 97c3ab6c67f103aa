"""The text content agents read: compact Markdown instead of pretty-printed JSON.

A search result becomes one short first line (mode, hit count, index size, the root when all hits
share one, truncation), then per hit a header ``path:start-end  symbol  (vector #r, keyword #r)``
and the chunk's text in a fenced block tagged with its language. The fence is longer than any run
of backticks in the text, so nothing inside is escaped. ``structuredContent`` carries the same
result as JSON for clients that parse it. A ``group_by="file"`` result reads as one ``## path
(ranks)`` heading per file, each followed by its best chunks (``lines a-b  symbol`` and the fence).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from agent_brain_mcp.models import FileHit, SearchHit, SearchResult

_BACKTICKS = re.compile(r"`+")
_FENCE_LANGUAGE = re.compile(r"[^A-Za-z0-9_+#.-]")


def tool_result(structured: BaseModel, text: str) -> CallToolResult:
    """A tool result whose text is ``text`` and whose ``structuredContent`` is the model, unchanged."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=structured.model_dump(mode="json", by_alias=True),
    )


def fence(text: str, language: str = "") -> str:
    """``text`` in a fenced block that no backtick run inside it can close."""
    longest = max((len(m.group(0)) for m in _BACKTICKS.finditer(text)), default=0)
    marker = "`" * max(3, longest + 1)
    return f"{marker}{_FENCE_LANGUAGE.sub('', language)}\n{text}\n{marker}"  # a trailing blank line stays one


def ranks(vector_rank: int | None, keyword_rank: int | None, score: float | None = None) -> str:
    """``(vector #1, keyword #3)``: which side found a hit; ``score`` too when the ranks do not imply it."""
    parts = [f"vector #{vector_rank}"] if vector_rank is not None else []
    if keyword_rank is not None:
        parts.append(f"keyword #{keyword_rank}")
    if score is not None:
        parts.append(f"score {score:.3g}")
    return f"({', '.join(parts)})"


def location(path: str, start_line: int, end_line: int) -> str:
    return f"{path}:{start_line}" if start_line == end_line else f"{path}:{start_line}-{end_line}"


def _hit_path(hit: SearchHit, one_root: bool) -> str:
    if one_root:
        return hit.file_path
    return f"{hit.root.rstrip('/')}/{hit.file_path}"


def render_hit(hit: SearchHit, one_root: bool = True, with_score: bool = True) -> str:
    """One hit: its header line, then its text fenced with its language."""
    header = location(_hit_path(hit, one_root), hit.start_line, hit.end_line)
    if hit.symbol:
        header += f"  {hit.symbol}"
    header += f"  {ranks(hit.vector_rank, hit.keyword_rank, hit.score if with_score else None)}"
    return f"{header}\n{fence(hit.text, hit.language)}"


def coverage_note(result: SearchResult) -> str | None:
    """What a search could not see while vectors are being filled in (None once they all exist)."""
    if result.mode == "keyword" or result.vector_coverage >= 1.0:
        return None
    share = f"{result.vector_coverage:.0%}"
    unseen = f"{1 - result.vector_coverage:.0%}"
    if result.mode == "vector":
        return (
            f"Vector coverage {share}: indexing is still filling in vectors, so this search could not see "
            f"{unseen} of the chunks. hybrid_search finds them by keyword now; or search again later."
        )
    return (
        f"Vector coverage {share}: indexing is still filling in vectors; keyword matches cover every chunk, "
        f"semantic matches only {share} of them. Search again later for full semantic ranking."
    )


def _summary(result: SearchResult, roots: Sequence[str]) -> str:
    noun = "hit" if len(result.hits) == 1 else "hits"
    line = f"{result.mode} search: {len(result.hits)} {noun} of {result.chunks_in_index} indexed chunks"
    if len(roots) == 1:
        line += f", paths relative to {roots[0]}"
    if result.truncated:
        line += ". Truncated by max_chars: the last hit is cut or some are left out (raise max_chars for more)"
    return line + "."


def render_file(file: FileHit, one_root: bool = True) -> str:
    """One file of a ``group_by="file"`` result: a ``## path`` line with its ranks, then its best chunks."""
    path = file.file_path if one_root else f"{file.root.rstrip('/')}/{file.file_path}"
    notes = [note for note, on in (("defines it", file.defines), ("path named", file.path_named)) if on]
    header = f"## {path}  {ranks(file.vector_rank, file.keyword_rank)}"
    if notes:
        header += f"  {', '.join(notes)}"
    chunks = []
    for hit in file.hits:
        line = f"lines {hit.start_line}-{hit.end_line}" if hit.end_line != hit.start_line else f"line {hit.start_line}"
        if hit.symbol:
            line += f"  {hit.symbol}"
        chunks.append(f"{line}\n{fence(hit.text, hit.language)}")
    return "\n\n".join([header, *chunks])


def _render_files(result: SearchResult, files: list[FileHit]) -> str:
    roots = list(dict.fromkeys(f.root for f in files))
    noun = "file" if len(files) == 1 else "files"
    line = f"{result.mode} search by file: {len(files)} {noun} of {result.chunks_in_index} indexed chunks"
    if len(roots) == 1:
        line += f", paths relative to {roots[0]}"
    if result.truncated:
        line += ". Truncated by max_chars: some chunks are cut or left out (raise max_chars for more)"
    blocks = [line + "."]
    if (note := coverage_note(result)) is not None:
        blocks.append(note)
    if not files:
        blocks.append("No files: try other words, hybrid_search for exact names, or check index_status.")
    blocks.extend(render_file(f, len(roots) <= 1) for f in files)
    return "\n\n".join(blocks) + "\n"


def render_search(result: SearchResult) -> str:
    """A whole search result as Markdown (see the module docstring)."""
    if result.files is not None:
        return _render_files(result, result.files)
    roots = list(dict.fromkeys(h.root for h in result.hits))
    blocks = [_summary(result, roots)]
    if (note := coverage_note(result)) is not None:
        blocks.append(note)
    if not result.hits:
        blocks.append("No hits: try other words, hybrid_search for exact names, or check index_status.")
    # A hybrid score is the fused score of the two ranks shown (weights in the first line's mode):
    # it adds nothing an agent can use, while a cosine similarity says how close a lone vector hit is.
    with_score = result.mode != "hybrid"
    blocks.extend(render_hit(hit, len(roots) <= 1, with_score) for hit in result.hits)
    return "\n\n".join(blocks) + "\n"
