"""File-level retrieval metrics: rank files from chunk hits, Acc@k, MRR@k, summaries. Pure functions.

A *file ranking* is a list of file paths, best first, each file once: ``rank_files`` turns a list of
chunk hits (one path per hit, in rank order) into it by keeping each file's first (best) hit.
``Acc@k`` is 1 when at least one gold file is among the first k files (the definition of the
issues/ and commits/ sets' own BM25 baseline); ``MRR@k`` is 1 / the rank of the first gold file
within the first k, else 0. ``distinct_in_top`` counts the distinct files among the first n chunk
hits (how many of the first 5 slots an agent sees are different files).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from retrieval_metrics import check_k, dedupe

__all__ = ["CUTOFFS", "acc_at_k", "distinct_in_top", "first_gold_rank", "mrr_at_k", "rank_files", "summarize"]

CUTOFFS = (1, 5, 10)


def rank_files(paths: Iterable[str]) -> list[str]:
    """The files of a list of chunk hits, best first, each once (its first hit's place)."""
    return dedupe(paths)


def first_gold_rank(ranking: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based rank of the first gold file in a file ranking, or ``None`` when none is there."""
    wanted = set(gold)
    for i, path in enumerate(rank_files(ranking), start=1):
        if path in wanted:
            return i
    return None


def acc_at_k(rank: int | None, k: int) -> float:
    check_k(k)
    return 1.0 if rank is not None and rank <= k else 0.0


def mrr_at_k(rank: int | None, k: int = 10) -> float:
    check_k(k)
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def distinct_in_top(paths: Sequence[str], n: int = 5) -> int:
    """How many different files the first ``n`` chunk hits come from."""
    return len(set(paths[:n]))


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Means over per-query rows ``{"rank": int | None, "distinct5": int | None}``.

    Returns ``queries``, ``acc@1``, ``acc@5``, ``acc@10``, ``mrr@10`` and ``distinct5`` (the mean
    over the rows that have one; ``None`` when no row has one, e.g. for a whole-file baseline).
    """
    n = len(rows)
    out: dict[str, Any] = {"queries": n}
    for k in CUTOFFS:
        out[f"acc@{k}"] = sum(acc_at_k(r["rank"], k) for r in rows) / n if n else 0.0
    out["mrr@10"] = sum(mrr_at_k(r["rank"], 10) for r in rows) / n if n else 0.0
    distinct = [r["distinct5"] for r in rows if r.get("distinct5") is not None]
    out["distinct5"] = sum(distinct) / len(distinct) if distinct else None
    return out
