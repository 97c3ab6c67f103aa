"""Retrieval metrics with the standard trec_eval definitions, for binary relevance. Pure functions.

A *ranking* is a sequence of document ids, best first. Only its first occurrence of a document
counts: later duplicates are dropped before any cut-off is applied (so a document can neither score
twice nor push others out of the top k). *Relevant* is the set of documents judged relevant
(``relevant_docs`` keeps the qrels entries with a score > 0).

- ``ndcg_at_k``: DCG@k = sum over ranks i <= k of rel_i / log2(i + 1); the ideal DCG puts
  min(|relevant|, k) relevant documents at the top; nDCG = DCG / IDCG (trec_eval ``ndcg_cut_k``).
- ``recall_at_k``: |relevant in the top k| / |relevant| (trec_eval ``recall_k``).
- ``mrr_at_k``: 1 / rank of the first relevant document within the top k, else 0 (MRR@10 as in
  MS MARCO; trec_eval ``recip_rank`` with a cut-off).

Each per-query function returns 0.0 for a query without relevant documents; ``evaluate_run``
leaves such queries out of the averages, as trec_eval does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "check_k",
    "dedupe",
    "evaluate_run",
    "mrr_at_k",
    "ndcg_at_k",
    "percentile",
    "recall_at_k",
    "relevant_docs",
]


def dedupe(ranking: Iterable[str]) -> list[str]:
    """The ranking with every document's first occurrence only, order kept."""
    seen: set[str] = set()
    out: list[str] = []
    for doc in ranking:
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
    return out


def relevant_docs(judgments: Mapping[str, float]) -> set[str]:
    """The documents of one query's qrels that count as relevant (score > 0)."""
    return {doc for doc, score in judgments.items() if score > 0}


def check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def ndcg_at_k(ranking: Sequence[str], relevant: set[str] | frozenset[str], k: int = 10) -> float:
    check_k(k)
    if not relevant:
        return 0.0
    top = dedupe(ranking)[:k]
    dcg = sum(1.0 / math.log2(i + 1) for i, doc in enumerate(top, start=1) if doc in relevant)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


def recall_at_k(ranking: Sequence[str], relevant: set[str] | frozenset[str], k: int = 100) -> float:
    check_k(k)
    if not relevant:
        return 0.0
    found = sum(1 for doc in dedupe(ranking)[:k] if doc in relevant)
    return found / len(relevant)


def mrr_at_k(ranking: Sequence[str], relevant: set[str] | frozenset[str], k: int = 10) -> float:
    check_k(k)
    if not relevant:
        return 0.0
    for i, doc in enumerate(dedupe(ranking)[:k], start=1):
        if doc in relevant:
            return 1.0 / i
    return 0.0


def evaluate_run(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, float]],
    query_ids: Iterable[str] | None = None,
) -> dict[str, object]:
    """Mean nDCG@10, Recall@100 and MRR@10 over the queries with at least one relevant document.

    ``query_ids`` are the queries that were asked (default: every query in ``qrels``); a query
    asked but missing from ``run`` has an empty ranking and scores 0. Returns the means under
    ``ndcg@10``, ``recall@100``, ``mrr@10``, the number of queries averaged (``queries``) and
    the per-query values (``per_query``: query id -> metric -> value).
    """
    asked = list(qrels) if query_ids is None else list(query_ids)
    per_query: dict[str, dict[str, float]] = {}
    for qid in asked:
        relevant = relevant_docs(qrels.get(qid, {}))
        if not relevant:
            continue
        ranking = run.get(qid, ())
        per_query[qid] = {
            "ndcg@10": ndcg_at_k(ranking, relevant, 10),
            "recall@100": recall_at_k(ranking, relevant, 100),
            "mrr@10": mrr_at_k(ranking, relevant, 10),
        }
    n = len(per_query)
    means = {
        name: (sum(m[name] for m in per_query.values()) / n if n else 0.0)
        for name in ("ndcg@10", "recall@100", "mrr@10")
    }
    return {**means, "queries": n, "per_query": per_query}


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"p must be between 0 and 100, got {p}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
