"""The evaluation metrics (benchmarks/retrieval_metrics.py) against hand-computed values."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from retrieval_metrics import (
    dedupe,
    evaluate_run,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
    relevant_docs,
)


def test_no_relevant_document_retrieved_scores_zero_everywhere() -> None:
    ranking = ["a", "b", "c"]
    assert ndcg_at_k(ranking, {"x"}) == 0.0
    assert recall_at_k(ranking, {"x"}) == 0.0
    assert mrr_at_k(ranking, {"x"}) == 0.0


def test_empty_ranking_scores_zero() -> None:
    assert ndcg_at_k([], {"x"}) == 0.0
    assert recall_at_k([], {"x"}) == 0.0
    assert mrr_at_k([], {"x"}) == 0.0


def test_the_only_relevant_document_at_rank_one_is_perfect() -> None:
    ranking = ["a", "b", "c"]
    assert ndcg_at_k(ranking, {"a"}) == 1.0
    assert recall_at_k(ranking, {"a"}) == 1.0
    assert mrr_at_k(ranking, {"a"}) == 1.0


def test_one_relevant_document_at_rank_three() -> None:
    ranking = ["a", "b", "r", "d"]
    # DCG = 1/log2(4) = 0.5; IDCG = 1/log2(2) = 1
    assert ndcg_at_k(ranking, {"r"}) == pytest.approx(0.5)
    assert mrr_at_k(ranking, {"r"}) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, {"r"}) == 1.0


def test_two_relevant_one_at_rank_one_and_one_at_rank_three() -> None:
    ranking = ["r1", "b", "r2", "d"]
    dcg = 1 / math.log2(2) + 1 / math.log2(4)  # 1.5
    idcg = 1 / math.log2(2) + 1 / math.log2(3)  # 1.6309...
    assert ndcg_at_k(ranking, {"r1", "r2"}) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(ranking, {"r1", "r2"}) == pytest.approx(0.919721, abs=1e-6)
    assert mrr_at_k(ranking, {"r1", "r2"}) == 1.0
    assert recall_at_k(ranking, {"r1", "r2"}) == 1.0


def test_two_relevant_only_one_found_at_rank_three() -> None:
    ranking = ["a", "b", "r1", "d"]
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at_k(ranking, {"r1", "r2"}) == pytest.approx(0.5 / idcg)
    assert recall_at_k(ranking, {"r1", "r2"}) == 0.5
    assert mrr_at_k(ranking, {"r1", "r2"}) == pytest.approx(1 / 3)


def test_ideal_dcg_is_capped_at_ten_relevant_documents() -> None:
    relevant = {f"r{i}" for i in range(15)}
    ranking = sorted(relevant)  # 15 relevant documents, all retrieved at the top
    assert ndcg_at_k(ranking, relevant, 10) == pytest.approx(1.0)
    assert recall_at_k(ranking, relevant, 100) == 1.0


def test_relevant_document_below_the_cut_off_does_not_count() -> None:
    ranking = [f"d{i}" for i in range(10)] + ["r"]  # "r" at rank 11
    assert ndcg_at_k(ranking, {"r"}, 10) == 0.0
    assert mrr_at_k(ranking, {"r"}, 10) == 0.0
    assert recall_at_k(ranking, {"r"}, 10) == 0.0
    assert recall_at_k(ranking, {"r"}, 100) == 1.0


def test_recall_is_cut_at_100() -> None:
    ranking = [f"d{i}" for i in range(99)] + ["r1", "r2"]  # r1 at rank 100, r2 at rank 101
    assert recall_at_k(ranking, {"r1", "r2"}) == 0.5
    assert recall_at_k(ranking, {"r1", "r2"}, 101) == 1.0


def test_duplicates_are_ignored_and_do_not_push_documents_down() -> None:
    # "a" repeated (several chunks of one document): the relevant doc is at rank 2, not 4.
    ranking = ["a", "a", "a", "r"]
    assert dedupe(ranking) == ["a", "r"]
    assert ndcg_at_k(ranking, {"r"}) == pytest.approx(1 / math.log2(3))
    assert mrr_at_k(ranking, {"r"}) == 0.5
    # a relevant document listed twice counts once
    assert ndcg_at_k(["r", "r"], {"r"}) == 1.0
    assert recall_at_k(["r", "r"], {"r", "s"}) == 0.5
    # duplicates do not use up the cut-off
    assert recall_at_k(["a"] * 200 + ["r"], {"r"}, 100) == 1.0


def test_no_relevant_documents_scores_zero() -> None:
    assert ndcg_at_k(["a"], set()) == 0.0
    assert recall_at_k(["a"], set()) == 0.0
    assert mrr_at_k(["a"], set()) == 0.0


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], {"a"}, 0)


def test_relevant_docs_keeps_positive_scores_only() -> None:
    assert relevant_docs({"a": 1, "b": 0, "c": 2, "d": -1}) == {"a", "c"}


def test_evaluate_run_averages_over_queries_with_relevant_documents() -> None:
    qrels = {
        "q1": {"r": 1},  # found at rank 1 -> all 1
        "q2": {"s": 1, "t": 1},  # s at rank 2, t not retrieved
        "q3": {"u": 0},  # no relevant document: left out of the average
        "q4": {"v": 1},  # asked, but no results at all -> 0
    }
    run = {"q1": ["r", "x"], "q2": ["x", "s", "s"], "q3": ["u"]}
    result = evaluate_run(run, qrels, ["q1", "q2", "q3", "q4"])
    assert result["queries"] == 3
    ndcg_q2 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert result["ndcg@10"] == pytest.approx((1 + ndcg_q2 + 0) / 3)
    assert result["recall@100"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert result["mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert set(result["per_query"]) == {"q1", "q2", "q4"}  # type: ignore[arg-type]


def test_evaluate_run_only_scores_the_queries_asked() -> None:
    qrels = {"q1": {"r": 1}, "q2": {"s": 1}}
    result = evaluate_run({"q1": ["r"]}, qrels, ["q1"])
    assert result["queries"] == 1
    assert result["ndcg@10"] == 1.0


def test_percentile_interpolates_like_numpy() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(values, 50) == 30.0
    assert percentile(values, 95) == pytest.approx(48.0)
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 50.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    with pytest.raises(ValueError):
        percentile([], 50)
