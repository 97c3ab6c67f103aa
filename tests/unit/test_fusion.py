"""The ranking formulas: BM25's idf and the reciprocal-rank fusion of the semantic and keyword rankings."""

from __future__ import annotations

import pytest

from agent_brain_mcp.backends.base import ScoredChunk
from agent_brain_mcp.fusion import DEFAULT_ALPHA, DEFAULT_RRF_K, bm25_idf, reciprocal_rank_fusion


def _hit(chunk_id: str, score: float = 0.5) -> ScoredChunk:
    return ScoredChunk(
        id=chunk_id,
        root="/repo",
        rel_path=f"src/{chunk_id}.py",
        start_line=1,
        end_line=10,
        language="python",
        symbol=None,
        text=f"text of {chunk_id}",
        score=score,
    )


def _ranking(*ids: str) -> list[ScoredChunk]:
    return [_hit(i, score=1.0 - n / 100) for n, i in enumerate(ids)]


def _ids(hits: list[ScoredChunk]) -> list[str]:
    return [h.id for h in hits]


def test_a_chunk_found_by_both_sides_outranks_chunks_found_by_one() -> None:
    vector = _ranking("v1", "both")
    keyword = _ranking("k1", "both")
    fused = reciprocal_rank_fusion(vector, keyword, top_k=10)
    assert fused[0].id == "both"
    assert set(_ids(fused)) == {"v1", "k1", "both"}


def test_with_a_large_k_a_chunk_low_on_both_sides_beats_one_at_the_top_of_only_one_side() -> None:
    vector = _ranking("v1", "v2", "v3", "both")
    keyword = _ranking("k1", "k2", "k3", "both")
    fused = reciprocal_rank_fusion(vector, keyword, top_k=10, k=60, alpha=0.5)
    assert fused[0].id == "both"


def test_alpha_one_gives_pure_vector_order() -> None:
    vector = _ranking("a", "b", "c", "d")
    keyword = _ranking("d", "c", "b", "a", "x")
    fused = reciprocal_rank_fusion(vector, keyword, top_k=10, alpha=1.0)
    assert _ids(fused) == ["a", "b", "c", "d"]  # keyword-only "x" scores zero and is dropped


def test_alpha_zero_gives_pure_keyword_order() -> None:
    vector = _ranking("a", "b", "c", "d", "y")
    keyword = _ranking("d", "c", "b", "a")
    fused = reciprocal_rank_fusion(vector, keyword, top_k=10, alpha=0.0)
    assert _ids(fused) == ["d", "c", "b", "a"]  # vector-only "y" scores zero and is dropped


def test_ranks_on_each_side_are_recorded_one_based() -> None:
    vector = _ranking("a", "b", "c")
    keyword = _ranking("c", "d")
    fused = {h.id: h for h in reciprocal_rank_fusion(vector, keyword, top_k=10)}
    assert (fused["a"].vector_rank, fused["a"].keyword_rank) == (1, None)
    assert (fused["b"].vector_rank, fused["b"].keyword_rank) == (2, None)
    assert (fused["c"].vector_rank, fused["c"].keyword_rank) == (3, 1)
    assert (fused["d"].vector_rank, fused["d"].keyword_rank) == (None, 2)


def test_stale_ranks_on_the_inputs_are_replaced() -> None:
    stale = _hit("a")
    stale.vector_rank, stale.keyword_rank = 9, 9
    [fused] = reciprocal_rank_fusion([], [stale], top_k=5)
    assert (fused.vector_rank, fused.keyword_rank) == (None, 1)


@pytest.mark.parametrize("top_k", [0, 1, 3, 5])
def test_top_k_limits_the_result_and_keeps_the_best(top_k: int) -> None:
    vector = _ranking("a", "b", "c", "d", "e")
    keyword = _ranking("e", "d", "f", "g")
    full = reciprocal_rank_fusion(vector, keyword, top_k=100)
    limited = reciprocal_rank_fusion(vector, keyword, top_k=top_k)
    assert len(limited) == min(top_k, len(full))
    assert _ids(limited) == _ids(full)[:top_k]


def test_the_fused_score_follows_the_weighted_rrf_formula() -> None:
    vector = _ranking("a", "b")
    keyword = _ranking("b", "c")
    fused = {h.id: h.score for h in reciprocal_rank_fusion(vector, keyword, top_k=10, alpha=0.7, k=10)}
    assert fused["a"] == pytest.approx(0.7 / 11)
    assert fused["b"] == pytest.approx(0.7 / 12 + 0.3 / 11)
    assert fused["c"] == pytest.approx(0.3 / 12)


def test_the_frozen_defaults_are_k_5_and_alpha_0_6() -> None:
    [hit] = reciprocal_rank_fusion(_ranking("a"), _ranking("a"), top_k=1)
    assert (DEFAULT_RRF_K, DEFAULT_ALPHA) == (5, 0.6)
    assert hit.score == pytest.approx(0.6 / 6 + 0.4 / 6)


def test_by_default_the_semantic_side_weighs_more() -> None:
    fused = reciprocal_rank_fusion(_ranking("v"), _ranking("k"), top_k=10)
    assert _ids(fused) == ["v", "k"] and fused[0].score > fused[1].score


def test_results_are_sorted_by_fused_score_descending() -> None:
    vector = _ranking("a", "b", "c", "d")
    keyword = _ranking("d", "e", "a", "f")
    fused = reciprocal_rank_fusion(vector, keyword, top_k=10)
    scores = [h.score for h in fused]
    assert scores == sorted(scores, reverse=True)
    assert len(fused) == len(set(_ids(fused))) == 6


def test_ties_keep_vector_order() -> None:
    fused = reciprocal_rank_fusion(_ranking("v"), _ranking("k"), top_k=10, alpha=0.5)
    assert fused[0].score == fused[1].score
    assert _ids(fused) == ["v", "k"]


def test_the_chunk_payload_comes_through_unchanged() -> None:
    original = _hit("a")
    [fused] = reciprocal_rank_fusion([original], [], top_k=1)
    assert (fused.rel_path, fused.text, fused.start_line, fused.end_line, fused.root) == (
        original.rel_path,
        original.text,
        original.start_line,
        original.end_line,
        original.root,
    )


def test_the_input_hits_are_not_modified() -> None:
    vector = _ranking("a", "b")
    keyword = _ranking("b")
    before = [(h.score, h.vector_rank, h.keyword_rank) for h in vector + keyword]
    reciprocal_rank_fusion(vector, keyword, top_k=10)
    assert [(h.score, h.vector_rank, h.keyword_rank) for h in vector + keyword] == before


def test_empty_rankings_give_no_results() -> None:
    assert reciprocal_rank_fusion([], [], top_k=10) == []


def test_one_empty_side_gives_the_other_sides_order() -> None:
    assert _ids(reciprocal_rank_fusion(_ranking("a", "b", "c"), [], top_k=10)) == ["a", "b", "c"]
    assert _ids(reciprocal_rank_fusion([], _ranking("c", "b", "a"), top_k=10)) == ["c", "b", "a"]


def test_original_similarity_scores_do_not_affect_the_fused_order() -> None:
    vector = [_hit("a", score=0.10), _hit("b", score=0.99)]  # only the rank counts
    fused = reciprocal_rank_fusion(vector, [], top_k=10)
    assert _ids(fused) == ["a", "b"]


def test_idf_falls_with_document_frequency_and_never_goes_negative() -> None:
    values = [bm25_idf(df, 100_000) for df in (1, 10, 1_000, 50_000, 100_000)]
    assert values == sorted(values, reverse=True)
    assert values[-1] > 0 and values[0] > 10 * values[-2]
