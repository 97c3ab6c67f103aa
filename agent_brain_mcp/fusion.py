"""Reciprocal-rank fusion of a semantic and a keyword ranking."""

from __future__ import annotations

from dataclasses import replace

from agent_brain_mcp.backends.base import ScoredChunk

# Chosen on BEIR SciFact and CoSQA together (benchmarks/tune_fusion.py --service-top-k 10: the best mean
# nDCG@10 of what hybrid_search returns, over a k x alpha grid; an interior point; the repository
# questions agree; see docs/BENCHMARKS.md) and frozen: no per-dataset or per-query switches.
DEFAULT_RRF_K = 5
DEFAULT_ALPHA = 0.6


def rrf_score(vector_rank: int | None, keyword_rank: int | None, alpha: float, k: int) -> float:
    """``alpha / (k + vector_rank) + (1 - alpha) / (k + keyword_rank)``; a missing rank adds nothing."""
    score = alpha / (k + vector_rank) if vector_rank is not None else 0.0
    return score + ((1.0 - alpha) / (k + keyword_rank) if keyword_rank is not None else 0.0)


def reciprocal_rank_fusion(
    vector: list[ScoredChunk],
    keyword: list[ScoredChunk],
    *,
    top_k: int,
    alpha: float = DEFAULT_ALPHA,
    k: int = DEFAULT_RRF_K,
) -> list[ScoredChunk]:
    """Fuse two rankings: ``alpha / (k + vector_rank) + (1 - alpha) / (k + keyword_rank)``.

    ``alpha=1`` is pure vector order, ``alpha=0`` pure keyword order. Ties keep vector order.
    """
    ranked: dict[str, ScoredChunk] = {}
    for rank, hit in enumerate(vector, start=1):
        ranked[hit.id] = replace(hit, vector_rank=rank, keyword_rank=None)
    for rank, hit in enumerate(keyword, start=1):
        ranked[hit.id] = replace(ranked.get(hit.id) or replace(hit, vector_rank=None), keyword_rank=rank)
    fused = [replace(h, score=rrf_score(h.vector_rank, h.keyword_rank, alpha, k)) for h in ranked.values()]
    order = sorted(fused, key=lambda h: -h.score)
    return [h for h in order if h.score > 0][:top_k]
