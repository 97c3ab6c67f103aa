"""Shaping hits for an agent: merge overlapping or adjacent chunks of a file, fit a character budget."""

from __future__ import annotations

from dataclasses import replace

from agent_brain_mcp.backends.base import ScoredChunk
from agent_brain_mcp.fusion import rrf_score


def _lines(hit: ScoredChunk) -> dict[int, str]:
    return dict(zip(range(hit.start_line, hit.end_line + 1), hit.text.split("\n"), strict=False))


def _one_line_each(hit: ScoredChunk) -> bool:
    """Its text has a line per line of its span (not so for a notebook cell stored as one JSON string)."""
    return hit.text.count("\n") == hit.end_line - hit.start_line


def _min_rank(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _merge_two(best: ScoredChunk, other: ScoredChunk) -> ScoredChunk:
    lines = _lines(other) | _lines(best)
    start, end = min(lines), max(lines)
    text = "\n".join(lines.get(n, "") for n in range(start, end + 1))
    return replace(
        best,
        start_line=start,
        end_line=end,
        text=text,
        symbol=best.symbol or other.symbol,
        vector_rank=_min_rank(best.vector_rank, other.vector_rank),
        keyword_rank=_min_rank(best.keyword_rank, other.keyword_rank),
        boost=max(best.boost, other.boost),
    )


def merge_adjacent(hits: list[ScoredChunk]) -> list[ScoredChunk]:
    """Fold each hit into a better-ranked hit of the same file whose lines overlap or touch it.

    The merged hit keeps the better hit's place and score, spans both line ranges, and keeps the
    best rank each side gave any of its parts. Order is otherwise unchanged.
    """
    merged: list[ScoredChunk] = []
    for hit in hits:
        for i, kept in enumerate(merged):
            same_file = kept.root == hit.root and kept.rel_path == hit.rel_path
            if (
                same_file
                and _one_line_each(hit)
                and _one_line_each(kept)
                and hit.start_line <= kept.end_line + 1
                and kept.start_line <= hit.end_line + 1
            ):
                merged[i] = _merge_two(kept, hit)
                break
        else:
            merged.append(hit)
    # A merge can make a hit touch another kept hit of its file: repeat until stable.
    return merged if len(merged) == len(hits) else merge_adjacent(merged)


def rescore_fused(hits: list[ScoredChunk], alpha: float, k: int) -> list[ScoredChunk]:
    """Give each (possibly merged) hybrid hit the fused score of the best rank each side gave any of
    its parts, and order by it: evidence the two sides found in neighbouring chunks of one passage
    adds up, as if the passage had been ranked as one piece; a definition's boost is added. Ties keep
    the given order."""
    rescored = [replace(h, score=rrf_score(h.vector_rank, h.keyword_rank, alpha, k) + h.boost) for h in hits]
    return sorted(rescored, key=lambda h: -h.score)


def fit_budget(hits: list[ScoredChunk], max_chars: int) -> tuple[list[ScoredChunk], bool]:
    """Hits in order until their texts fill ``max_chars``; the last one cut at a line boundary.

    Returns the hits and whether anything was cut or left out.
    """
    out: list[ScoredChunk] = []
    used = 0
    for hit in hits:
        room = max_chars - used
        if len(hit.text) <= room:
            out.append(hit)
            used += len(hit.text)
            continue
        lines = hit.text.split("\n")
        kept: list[str] = []
        size = 0
        for line in lines:
            if size + len(line) + (1 if kept else 0) > room:
                break
            size += len(line) + (1 if kept else 0)
            kept.append(line)
        if kept:
            end_line = min(hit.end_line, hit.start_line + len(kept) - 1)
            out.append(replace(hit, text="\n".join(kept), end_line=end_line))
        return out, True
    return out, False
