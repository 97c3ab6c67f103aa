"""Cut a file's text into chunks that keep exact 1-based line spans.

Code in a language tree-sitter knows is cut along its syntax (see ``code_chunker``: one chunk per
definition where the limits allow, the enclosing definitions as the chunk's symbol); markdown at
headings (the heading trail becomes the symbol); Jupyter notebooks by cell (see ``notebooks``);
everything else, and whatever is still too big, into windows of lines that prefer to end at a
blank line or before a top-level statement, with overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from agent_brain_mcp.indexing import code_chunker, notebooks
from agent_brain_mcp.indexing.grammars import CODE_LANGUAGES, Parsers
from agent_brain_mcp.indexing.languages import MARKDOWN

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")  # closing #s need a space before them: "## C#"
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Chunk:
    text: str
    start_line: int
    end_line: int
    symbol: str | None = None
    language: str | None = None  # when it differs from the file's (a notebook's cells)


@dataclass(frozen=True)
class ChunkLimits:
    max_lines: int = 40
    overlap_lines: int = 5
    max_chars: int = 1000


def embedding_text(rel_path: str, chunk: Chunk) -> str:
    """What is embedded and keyword-indexed: the path and symbol name the chunk, then its text."""
    header = f"{rel_path} > {chunk.symbol}" if chunk.symbol else rel_path
    return f"{header}\n{chunk.text}"


# The parsers of callers that bring none: grammars load once per process, parsers once per thread.
_PARSERS = Parsers()


def chunk_text(text: str, language: str, limits: ChunkLimits, parsers: Parsers | None = None) -> list[Chunk]:
    """Chunks of ``text`` (newlines already normalised to ``\\n``); code is parsed with ``parsers``."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        return []
    if language == MARKDOWN:
        return _chunk_markdown(lines, limits)
    if language == notebooks.NOTEBOOK:
        try:
            return _chunk_notebook(notebooks.parse(text), limits, parsers)
        except notebooks.NotANotebook:
            pass  # not notebook JSON after all: read it as plain text
    if language in CODE_LANGUAGES:
        spans = code_chunker.spans(lines, language, limits.max_lines, limits.max_chars, parsers or _PARSERS)
        if spans is not None:
            return _from_spans(lines, spans, limits)
    return _windows(lines, 0, limits, None)


def _chunk_notebook(notebook: notebooks.Notebook, limits: ChunkLimits, parsers: Parsers | None) -> list[Chunk]:
    """Each cell chunked as its own language, relocated to the lines of the .ipynb that hold it."""
    chunks: list[Chunk] = []
    for cell in notebook.cells:
        language = notebooks.cell_language(notebook, cell)
        for chunk in chunk_text("\n".join(cell.lines), language, limits, parsers):
            start, end = notebooks.relocate(chunk.start_line, chunk.end_line, cell)
            label = f"cell {cell.number}"
            symbol = f"{label} / {chunk.symbol}" if chunk.symbol else label
            chunks.append(replace(chunk, start_line=start, end_line=end, symbol=symbol, language=language))
    return chunks


def _from_spans(lines: list[str], spans: list[code_chunker.Span], limits: ChunkLimits) -> list[Chunk]:
    chunks: list[Chunk] = []
    for span in spans:
        if span.whole:
            chunks.append(Chunk("\n".join(lines[span.start : span.end + 1]), span.start + 1, span.end + 1, span.symbol))
        else:
            chunks.extend(_windows(lines[span.start : span.end + 1], span.start, limits, span.symbol))
    return chunks


def _is_break_before(line: str) -> bool:
    """A line that starts a new top-level statement (no indentation, not a closing bracket)."""
    return bool(line) and not line[0].isspace() and line[0] not in ")]}" and not line.startswith(("else", "elif"))


def _window_end(lines: list[str], start: int, limits: ChunkLimits, floor: int = 0) -> int:
    """Exclusive end of the window that starts at ``start``; a preferred boundary must lie past ``floor``."""
    end, chars = start, 0
    while end < len(lines) and end - start < limits.max_lines:
        cost = len(lines[end]) + 1
        if end > start and chars + cost > limits.max_chars:
            break
        chars += cost
        end += 1
    if end >= len(lines):
        return end
    # Prefer a natural boundary in the second half of the window.
    for k in range(end - 1, max(start + (end - start) // 2, floor), -1):
        if not lines[k].strip():
            return k + 1
        if _is_break_before(lines[k]) and k > start:
            return k
    return end


def split_long_line(line: str, max_chars: int) -> list[str]:
    """Consecutive pieces of ``line`` (they concatenate back to it), each at most ``max_chars``,
    cut after a space when one lies in the last quarter of a piece (so prose is not cut mid-word)."""
    pieces: list[str] = []
    pos = 0
    while pos < len(line):
        end = min(pos + max_chars, len(line))
        if end < len(line):
            space = line.rfind(" ", pos + (max_chars * 3) // 4, end)
            if space > pos:
                end = space + 1
        pieces.append(line[pos:end])
        pos = end
    return pieces


def _windows(lines: list[str], offset: int, limits: ChunkLimits, symbol: str | None) -> list[Chunk]:
    """Line windows over ``lines``; ``offset`` is the 0-based line number of ``lines[0]``."""
    chunks: list[Chunk] = []
    start = prev_end = 0
    while start < len(lines):
        if len(lines[start]) > limits.max_chars:  # a minified line, or a paragraph on one line
            line_no = offset + start + 1
            pieces = split_long_line(lines[start], limits.max_chars)
            chunks.extend(Chunk(p, line_no, line_no, symbol) for p in pieces if p.strip())
            start += 1
            prev_end = max(prev_end, start)
            continue
        end = _window_end(lines, start, limits, prev_end)
        body = "\n".join(lines[start:end])
        if body.strip() and end > prev_end:  # a window inside the previous one would only repeat it
            chunks.append(Chunk(body, offset + start + 1, offset + end, symbol))
        prev_end = max(prev_end, end)
        if end >= len(lines):
            break
        nxt = end - limits.overlap_lines if not _is_break_before(lines[end]) else end
        start = max(nxt, start + 1)
    return chunks


def _markdown_sections(lines: list[str]) -> list[tuple[int, int, str | None]]:
    """(start, end, heading trail) for each section; headings inside code fences do not count."""
    sections: list[tuple[int, int, str | None]] = []
    trail: list[tuple[int, str]] = []
    start, symbol, fence = 0, None, None
    for i, line in enumerate(lines):
        fence_match = _FENCE.match(line)
        if fence_match:
            marker = fence_match.group(1)
            fence = None if fence == marker else (fence or marker)
            continue
        heading = None if fence else _HEADING.match(line)
        if heading:
            if i > start:
                sections.append((start, i, symbol))
            level = len(heading.group(1))
            trail = [(lvl, t) for lvl, t in trail if lvl < level] + [(level, heading.group(2))]
            symbol = " / ".join(t for _, t in trail)
            start = i
    sections.append((start, len(lines), symbol))
    return sections


def _chunk_markdown(lines: list[str], limits: ChunkLimits) -> list[Chunk]:
    merged: list[tuple[int, int, str | None]] = []
    for start, end, symbol in _markdown_sections(lines):
        if merged:
            m_start, _, m_symbol = merged[-1]
            size = sum(len(x) + 1 for x in lines[m_start:end])
            if size <= limits.max_chars // 2 and end - m_start <= limits.max_lines:
                merged[-1] = (m_start, end, m_symbol or symbol)  # tiny neighbours travel together
                continue
        merged.append((start, end, symbol))
    chunks: list[Chunk] = []
    for start, end, symbol in merged:
        chunks.extend(_windows(lines[start:end], start, limits, symbol))
    return chunks
