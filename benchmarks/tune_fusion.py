"""Choose the hybrid fusion defaults (RRF k, alpha) on SciFact and CoSQA together, then freeze them.

Uses indexes built by `eval_retrieval.py --state-dir ...` (it indexes; this only queries). For every
query it takes the document rankings of the semantic side and of the keyword side once, then
scores each (k, alpha) of a small grid with reciprocal-rank fusion at document level and reports
nDCG@10 per dataset and their mean. The default is the grid point with the best mean: one setting
for all data, no per-dataset switch.

Usage: python benchmarks/tune_fusion.py --run ../shared/eval/scifact:STATE_DIR[:.txt] --run ../shared/eval/cosqa:STATE_DIR:.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from eval_retrieval import load_dataset  # noqa: E402
from retrieval_metrics import dedupe, ndcg_at_k, relevant_docs  # noqa: E402
from support import open_service  # noqa: E402

from agent_brain_mcp.config import Settings  # noqa: E402

KS = tuple(int(x) for x in os.environ.get("TUNE_KS", "5,10,20,40,60,100").split(","))
ALPHAS = tuple(float(x) for x in os.environ.get("TUNE_ALPHAS", "0.3,0.4,0.5,0.6,0.7").split(","))


def fuse(vector: list[str], keyword: list[str], k: int, alpha: float) -> list[str]:
    scores: dict[str, float] = {}
    for rank, doc in enumerate(vector, start=1):
        scores[doc] = scores.get(doc, 0.0) + alpha / (k + rank)
    for rank, doc in enumerate(keyword, start=1):
        scores[doc] = scores.get(doc, 0.0) + (1 - alpha) / (k + rank)
    return sorted(scores, key=lambda d: -scores[d])


async def rankings(dataset_dir: Path, state: Path) -> tuple[dict[str, list[str]], dict[str, list[str]], dict]:
    dataset = load_dataset(dataset_dir)
    names = json.loads((state / "doc-map.json").read_text(encoding="utf-8"))
    docs_dir = (state / "docs").resolve()
    settings = Settings.model_validate(
        {"storage": {"chromadb": {"persist_dir": str(state / "index")}}, "project_dir": str(docs_dir)}
    )
    vec: dict[str, list[str]] = {}
    kw: dict[str, list[str]] = {}
    async with open_service(settings) as service:
        for qid in dataset.qrels:
            text = dataset.queries.get(qid, "")
            if not text.strip():
                continue
            v = await service.search(text, top_k=200)
            k = await service.keyword_search(text, top_k=200)
            vec[qid] = dedupe(names[h.file_path] for h in v.hits if h.file_path in names)
            kw[qid] = dedupe(names[h.file_path] for h in k.hits if h.file_path in names)
    return vec, kw, dataset.qrels


async def service_level(dataset_dir: Path, state: Path, top_k: int) -> dict[tuple[int, float], float]:
    """nDCG@10 of the service's own hybrid_search (chunk-level fusion, merging) for every grid point."""
    dataset = load_dataset(dataset_dir)
    names = json.loads((state / "doc-map.json").read_text(encoding="utf-8"))
    docs_dir = (state / "docs").resolve()
    settings = Settings.model_validate(
        {"storage": {"chromadb": {"persist_dir": str(state / "index")}}, "project_dir": str(docs_dir)}
    )
    out: dict[tuple[int, float], float] = {}
    async with open_service(settings) as service:
        queries = [(q, dataset.queries.get(q, "")) for q in dataset.qrels if dataset.queries.get(q, "").strip()]
        for k in KS:
            for alpha in ALPHAS:
                scores = []
                for qid, text in queries:
                    result = await service.hybrid_search(text, top_k=top_k, alpha=alpha, rrf_k=k)
                    ranking = dedupe(names[h.file_path] for h in result.hits if h.file_path in names)
                    scores.append(ndcg_at_k(ranking, relevant_docs(dataset.qrels[qid])))
                out[(k, alpha)] = sum(scores) / len(scores)
                print(f"  {dataset_dir.name} k={k} alpha={alpha}: {out[(k, alpha)]:.4f}", file=sys.stderr, flush=True)
    return out


async def main_service(runs: list[str], top_k: int) -> None:
    table = {
        Path(spec.split(":")[0]).name: await service_level(*(Path(p) for p in spec.split(":")[:2]), top_k)
        for spec in runs
    }
    _print(table)


def _print(table: dict[str, dict[tuple[int, float], float]]) -> None:
    names = list(table)
    print("\n| k | alpha | " + " | ".join(names) + " | mean |")
    print("|---|---|" + "---|" * len(names) + "---|")
    best = max(table[names[0]], key=lambda key: sum(table[n][key] for n in names))
    for key in table[names[0]]:
        values = [table[n][key] for n in names]
        mark = " **best**" if key == best else ""
        print(
            f"| {key[0]} | {key[1]} | "
            + " | ".join(f"{x:.4f}" for x in values)
            + f" | {sum(values) / len(values):.4f}{mark} |"
        )
    print(f"\nbest mean nDCG@10: k={best[0]}, alpha={best[1]}")


async def main(runs: list[str]) -> None:
    table: dict[str, dict[tuple[int, float], float]] = {}
    for spec in runs:
        dataset_dir, state = (Path(p) for p in spec.split(":")[:2])
        vec, kw, qrels = await rankings(dataset_dir, state)
        name = dataset_dir.name
        per = {}
        for k in KS:
            for alpha in ALPHAS:
                scores = [ndcg_at_k(fuse(vec[q], kw[q], k, alpha), relevant_docs(qrels[q])) for q in vec]
                per[(k, alpha)] = sum(scores) / len(scores)
        table[name] = per
        v = sum(ndcg_at_k(vec[q], relevant_docs(qrels[q])) for q in vec) / len(vec)
        b = sum(ndcg_at_k(kw[q], relevant_docs(qrels[q])) for q in vec) / len(vec)
        print(f"{name}: semantic alone {v:.4f}, keyword alone {b:.4f} (nDCG@10, {len(vec)} queries)")
    _print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", action="append", required=True, help="DATASET_DIR:STATE_DIR (an indexed eval state)")
    parser.add_argument(
        "--service-top-k",
        type=int,
        help="score the service's own hybrid_search at this top_k (what users get) instead of document-level fusion",
    )
    args = parser.parse_args()
    if args.service_top_k:
        asyncio.run(main_service(args.run, args.service_top_k))
    else:
        asyncio.run(main(args.run))
