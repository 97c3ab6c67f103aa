"""From ranked candidate chunks to what a search returns: chunk hits (definitions first, at most a few
per file on the first page) or, with ``group_by="file"``, files ranked as wholes."""

from __future__ import annotations

from dataclasses import dataclass, replace

from agent_brain_mcp.backends.base import ScoredChunk
from agent_brain_mcp.fusion import rrf_score
from agent_brain_mcp.kinds import kind_of
from agent_brain_mcp.models import FileHit, SearchHit, SearchResult
from agent_brain_mcp.query_terms import QueryTerms
from agent_brain_mcp.ranking import FILE_CHUNKS_SHOWN, boost_definitions, cap_per_file, rank_files
from agent_brain_mcp.results import fit_budget, merge_adjacent, rescore_fused

MERGE_WINDOW = 2
ECHO_CHARS = 300


@dataclass(frozen=True)
class Page:
    """What the caller asked for. ``alpha``/``k`` order the hits by rank (1.0: the semantic side
    alone, 0.0: the keyword side alone); ``fused``: the reported score is the fused one."""

    top_k: int
    max_chars: int | None
    group_by: str
    max_per_file: int | None
    kind: str | None
    alpha: float
    k: int
    fused: bool


def answer(terms: QueryTerms, mode: str, hits: list[ScoredChunk], chunks: int, page: Page) -> SearchResult:
    if page.kind is not None:
        hits = [h for h in hits if kind_of(h.rel_path, h.language) == page.kind]
    hits = boost_definitions(hits, terms, page.k)
    if page.group_by == "file":
        return _files(terms, mode, hits, chunks, page)
    hits = cap_per_file(_merged(_order(hits, page), page), page.top_k, page.max_per_file)
    truncated = False
    if page.max_chars is not None:
        hits, truncated = fit_budget(hits, page.max_chars)
    return SearchResult(
        query=_echo(terms.text), mode=mode, chunks_in_index=chunks, truncated=truncated, hits=[_hit(h) for h in hits]
    )


def _rank_score(hit: ScoredChunk, page: Page) -> float:
    return rrf_score(hit.vector_rank, hit.keyword_rank, page.alpha, page.k) + hit.boost


def _order(hits: list[ScoredChunk], page: Page) -> list[ScoredChunk]:
    """Best first by rank (the fused score of the best rank each side gave any part) plus boost; a
    single-side search keeps its own score (cosine, BM25) for display."""
    if page.fused:
        return rescore_fused(hits, page.alpha, page.k)
    return sorted(hits, key=lambda h: -_rank_score(h, page))


def _merged(ordered: list[ScoredChunk], page: Page) -> list[ScoredChunk]:
    """Neighbours merged within the first ``MERGE_WINDOW x top_k`` candidates (as many as a page of
    results had before files were capped), then the deeper ones, which only fill in for capped files
    and never widen a hit above them."""
    window = MERGE_WINDOW * page.top_k
    head = _order(merge_adjacent(ordered[:window]), page)
    rest = [h for h in ordered[window:] if not any(_touch(h, kept) for kept in head)]
    return head + _order(merge_adjacent(rest), page)


def _touch(a: ScoredChunk, b: ScoredChunk) -> bool:
    same = a.root == b.root and a.rel_path == b.rel_path
    return same and a.start_line <= b.end_line + 1 and b.start_line <= a.end_line + 1


def _files(terms: QueryTerms, mode: str, hits: list[ScoredChunk], chunks: int, page: Page) -> SearchResult:
    scored = [replace(h, score=_rank_score(h, page)) for h in hits]
    ranked = rank_files(scored, terms, page.alpha, page.k)[: page.top_k]
    shown = {(f.root, f.rel_path): _order(merge_adjacent(f.chunks), page)[:FILE_CHUNKS_SHOWN] for f in ranked}
    truncated = False
    if page.max_chars is not None:
        flat, truncated = fit_budget([h for f in ranked for h in shown[(f.root, f.rel_path)]], page.max_chars)
        kept = {h.id: h for h in flat}
        shown = {key: [kept[h.id] for h in hs if h.id in kept] for key, hs in shown.items()}
        ranked = [f for f in ranked if shown[(f.root, f.rel_path)]]
    files = [
        FileHit(
            file_path=f.rel_path,
            root=f.root,
            language=f.language,
            score=round(f.score, 6),
            vector_rank=f.vector_rank,
            keyword_rank=f.keyword_rank,
            defines=any(c.boost > 0 for c in f.chunks),
            path_named=f.path_named,
            hits=[_hit(h) for h in shown[(f.root, f.rel_path)]],
        )
        for f in ranked
    ]
    return SearchResult(
        query=_echo(terms.text), mode=mode, chunks_in_index=chunks, truncated=truncated, hits=[], files=files
    )


def _echo(query: str) -> str:
    """The query as the answer repeats it: a long bug report is not sent back whole."""
    if len(query) <= ECHO_CHARS:
        return query
    return f"{query[:ECHO_CHARS]}… ({len(query):,} characters)"


def _hit(h: ScoredChunk) -> SearchHit:
    return SearchHit(
        file_path=h.rel_path,
        root=h.root,
        start_line=h.start_line,
        end_line=h.end_line,
        language=h.language,
        symbol=h.symbol,
        score=round(h.score, 6),
        vector_rank=h.vector_rank,
        keyword_rank=h.keyword_rank,
        text=h.text,
    )
