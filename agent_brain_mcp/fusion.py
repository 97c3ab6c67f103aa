"""The ranking formulas and their constants: BM25 (both backends' keyword side) and reciprocal-rank fusion.

Every backend scores with these: the Chroma path's in-memory index computes BM25 in numpy, PostgreSQL
in SQL (``backends/postgres/sql.py``), and both fuse with ``rrf_score``'s formula.
"""

from __future__ import annotations

import math
from dataclasses import replace

from agent_brain_mcp.backends.records import ScoredChunk

# BM25 as Lucene computes it (also bm25s' "lucene" method): each query term a chunk holds adds
# idf(df) * tf / (tf + K1 * (1 - B + B * dl / avgdl)). K1 = 1.5 (bm25s' default, what every measured
# figure of the Chroma side used); Lucene's 1.2 was one real query worse at Acc@1 on the keyword mode
# of the file-level evaluation, and equal on the generated ones (docs/BENCHMARKS.md).
BM25_K1 = 1.5
BM25_B = 0.75


def bm25_idf(df: int, total: int) -> float:
    """BM25's (Lucene's) inverse document frequency: never negative, ~0 for a term in every chunk."""
    return math.log(1 + (total - df + 0.5) / (df + 0.5))


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
