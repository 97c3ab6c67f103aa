"""The PostgreSQL keyword side at scale: document frequencies kept exact by every write, BM25-like
ranking from them, and a bounded number of rows ranked per query however common the query's tokens.

The candidate budget is lowered on the backend under test so that a few hundred chunks behave like
100k chunks with the default budget. Everything runs against the session's real PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
from support import make_settings

from agent_brain_mcp.backends.base import ChunkRecord, FileRecord, FileWrite, ScoredChunk, SearchFilters
from agent_brain_mcp.backends.postgres.backend import PostgresBackend
from agent_brain_mcp.backends.postgres.keyword_plan import KeywordBudget
from agent_brain_mcp.backends.postgres.migrations import run_migrations
from agent_brain_mcp.backends.postgres.schema import SchemaParams
from agent_brain_mcp.embeddings.base import EmbeddingIdentity

pytestmark = pytest.mark.anyio

DIM = 8
ROOT = "/projects/demo"


# -- helpers --------------------------------------------------------------------------------------
async def raw(url: str, sql: str, *args: Any) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=10)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close(timeout=10)


@pytest.fixture(autouse=True)
async def _drop_tables(pg_url: str, pg_table: str) -> AsyncIterator[None]:
    yield
    with anyio.fail_after(30):
        for name in ("data_", "_files", "_roots", "_meta", "_terms", "alembic_version_"):
            table = f"{name}{pg_table}" if name.endswith("_") else f"{pg_table}{name}"
            await raw(pg_url, f"DROP TABLE IF EXISTS {table}")


@asynccontextmanager
async def open_backend(url: str, table: str, tmp_path: Path, budget: int = 40, cap: int = 10) -> AsyncIterator[Any]:
    settings = make_settings(
        tmp_path / "state",
        tmp_path,
        "hash",
        backend="postgresql",
        pg_url=url,
        table=table,
        embedding={"dimension": DIM},
    )
    backend = PostgresBackend(settings, tmp_path / "state", KeywordBudget(budget, cap))
    await backend.open()
    try:
        identity = EmbeddingIdentity("hash", "", DIM)
        await backend.prepare(identity)
        await backend.set_identity(identity)
        yield backend
    finally:
        await backend.close()


def vector(seed: str) -> list[float]:
    rng = np.random.default_rng(int(hashlib.sha1(seed.encode()).hexdigest()[:8], 16))
    v = rng.normal(size=DIM)
    return [float(x) for x in v / np.linalg.norm(v)]


def files(specs: dict[str, str]) -> list[FileWrite]:
    """One single-chunk file per ``rel_path: text``; .md files are markdown, the rest python."""
    writes = []
    for rel, text in specs.items():
        language = "markdown" if rel.endswith(".md") else "python"
        chunk = ChunkRecord(f"{rel}#0", rel, 0, 1, 1, language, None, text, f"{rel}\n{text}", vector(rel))
        writes.append(FileWrite(FileRecord(rel, len(text), 1, "0" * 64, 1, language), [chunk]))
    return writes


def corpus(n: int = 300) -> dict[str, str]:
    """``n`` files where "common" is in every one (often many times) and "helper" in a third; one
    python file and one markdown file hold the rare "zebrafish"."""
    specs = {}
    for i in range(n):
        folder = "src" if i % 2 else "lib"
        words = ["common"] * (1 + i % 7) + (["helper"] if i % 3 == 0 else []) + [f"value{i}"]
        specs[f"{folder}/mod_{i:03d}.py"] = " ".join(words)
    specs["lib/aquarium.py"] = "zebrafish tank common"
    specs["docs/fish.md"] = "A zebrafish is a small fish common in labs"
    return specs


async def expected_terms(url: str, table: str) -> dict[str, int]:
    rows = await raw(
        url,
        f"SELECT lexeme, count(*) FROM data_{table}, unnest(tsvector_to_array(text_search_tsv)) AS lexeme GROUP BY 1",
    )
    totals = await raw(url, f"SELECT count(*), COALESCE(sum(length(text_search_tsv)), 0) FROM data_{table}")
    return {**{r[0]: r[1] for r in rows}, "": totals[0][0], " ": totals[0][1]}


async def stored_terms(url: str, table: str) -> dict[str, int]:
    return {r[0]: r[1] for r in await raw(url, f"SELECT term, df FROM {table}_terms")}


async def assert_terms_exact(url: str, table: str, *, zeros_allowed: bool = True) -> None:
    stored = await stored_terms(url, table)
    assert all(df >= 0 for df in stored.values())
    if not zeros_allowed:
        assert not [t for t, df in stored.items() if df == 0 and t not in ("", " ")]
    nonzero = {t: df for t, df in stored.items() if df or t in ("", " ")}
    assert nonzero == await expected_terms(url, table)


async def ranked_candidates(backend: PostgresBackend, call: Awaitable[Any]) -> int:
    """How many rows the keyword statement of ``call`` ranked (EXPLAIN ANALYZE of the statement it sent,
    after the same look-up, in one transaction)."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    engine = backend._engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await call
    finally:
        event.remove(engine, "before_cursor_execute", record)
    lookup, statement = [s for s in seen if "lexeme" in s[0] or "ts_rank" in s[0]][-2:]
    async with backend._engine.connect() as conn:
        await conn.exec_driver_sql(lookup[0], tuple(lookup[1]))
        result = await conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement[0], tuple(statement[1]))
        plan = result.scalar_one()
        await conn.rollback()
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def walk(node: dict[str, Any]) -> int:
        if node.get("Alias") == "c1":  # the candidates, before scoring
            return int(node["Actual Rows"] * node.get("Actual Loops", 1))
        return sum(walk(child) for child in node.get("Plans", []))

    return walk(plan[0]["Plan"])


def paths(hits: list[ScoredChunk]) -> list[str]:
    return [h.rel_path for h in hits]


# -- document frequencies -------------------------------------------------------------------------
async def test_document_frequencies_stay_exact_through_writes_rewrites_and_removals(
    pg_url: str, pg_table: str, tmp_path: Path
) -> None:
    async with open_backend(pg_url, pg_table, tmp_path) as backend:
        await backend.write_files(ROOT, files({"a.py": "alpha beta beta", "b.py": "beta gamma", "c.md": "gamma delta"}))
        await assert_terms_exact(pg_url, pg_table)
        assert (await stored_terms(pg_url, pg_table))["beta"] == 2

        await backend.write_files(ROOT, files({"a.py": "epsilon only"}))  # replaces a.py's chunk
        await backend.write_files("/projects/other", files({"a.py": "alpha zeta"}))
        await assert_terms_exact(pg_url, pg_table)
        assert (await stored_terms(pg_url, pg_table))["beta"] == 1

        assert await backend.remove_files(ROOT, ["b.py", "missing.py"]) == 1
        await assert_terms_exact(pg_url, pg_table)
        assert await backend.remove_root("/projects/other") == 1
        await assert_terms_exact(pg_url, pg_table)

        await backend.finish_run(ROOT)  # drops the lexemes no chunk holds any more
        await assert_terms_exact(pg_url, pg_table, zeros_allowed=False)
        assert "beta" not in await stored_terms(pg_url, pg_table)

        await backend.reset()
        assert await stored_terms(pg_url, pg_table) == {}
        await backend.set_identity(EmbeddingIdentity("hash", "", DIM))
        await backend.write_files(ROOT, files({"a.py": "alpha"}))
        await assert_terms_exact(pg_url, pg_table)


async def test_migration_0002_counts_the_chunks_already_there_and_downgrades_cleanly(
    pg_url: str, pg_table: str
) -> None:
    from sqlalchemy import pool
    from sqlalchemy.ext.asyncio import create_async_engine

    params = SchemaParams(pg_table, DIM)
    engine = create_async_engine(pg_url, poolclass=pool.NullPool)

    async def migrate(*args: Any) -> None:
        async with engine.begin() as conn:
            await conn.run_sync(run_migrations, params, *args)

    async def state() -> tuple[str, str, bool, str | None]:
        version = (await raw(pg_url, f"SELECT version_num FROM {params.version_table}"))[0][0]
        storage = (
            await raw(
                pg_url,
                "SELECT attstorage::text FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'text_search_tsv'",
                params.chunks,
            )
        )[0][0]
        terms = bool(await raw(pg_url, "SELECT 1 FROM pg_tables WHERE tablename = $1", params.terms))
        gin = await raw(pg_url, "SELECT reloptions::text FROM pg_class WHERE relname = $1", f"{params.chunks}_tsv_gin")
        return version, storage, terms, gin[0][0]

    try:
        with anyio.fail_after(60):
            await migrate("0001")
            for i, text in enumerate(["alpha beta", "beta gamma gamma", "delta"]):
                await raw(
                    pg_url,
                    f"INSERT INTO {params.chunks} (text, metadata_, node_id, embedding, root, rel_path, ordinal, "
                    "start_line, end_line, language, search_tokens) "
                    "VALUES ($1, '{}', $2, $3, 'r', $4, 0, 1, 1, 'python', $5)",
                    text,
                    f"f{i}.py#0",
                    str(vector(text)),
                    f"f{i}.py",
                    text,
                )
            assert await state() == ("0001", "x", False, None)

            await migrate("0002")
            assert await state() == ("0002", "m", True, "{gin_pending_list_limit=256}")
            await assert_terms_exact(pg_url, pg_table)
            assert (await stored_terms(pg_url, pg_table))["beta"] == 2

            await migrate("0001", True)
            assert await state() == ("0001", "x", False, None)
            assert len(await raw(pg_url, f"SELECT id FROM {params.chunks}")) == 3  # the chunks stay

            await migrate("0002")
            assert await state() == ("0002", "m", True, "{gin_pending_list_limit=256}")
            await assert_terms_exact(pg_url, pg_table)
    finally:
        await engine.dispose()


# -- ranking ----------------------------------------------------------------------------------------
async def test_a_common_token_does_not_hide_the_chunk_with_the_rare_one(
    pg_url: str, pg_table: str, tmp_path: Path
) -> None:
    async with open_backend(pg_url, pg_table, tmp_path, budget=40, cap=10) as backend:
        await backend.write_files(ROOT, files(corpus()))
        none = SearchFilters()
        hits = await backend.keyword_search("common zebrafish", 5, none)
        assert set(paths(hits[:2])) == {"lib/aquarium.py", "docs/fish.md"}
        assert all(h.score > 0 for h in hits) and len(hits) == 5

        hybrid = await backend.hybrid_search(
            vector("q"), "common zebrafish", 5, none, alpha=0.5, rrf_k=5, candidates=20
        )
        by_path = {h.rel_path: h for h in hybrid}
        assert by_path["lib/aquarium.py"].keyword_rank in (1, 2) and by_path["docs/fish.md"].keyword_rank in (1, 2)

        # 302 chunks hold "common": a query of only common tokens still answers, from a bounded sample.
        for query in ("common", "common helper"):
            only_common = await backend.keyword_search(query, 5, none)
            assert len(only_common) == 5 and all("common" in h.text for h in only_common)
            ranked = await ranked_candidates(backend, backend.keyword_search(query, 5, none))
            assert 0 < ranked <= 2 * 10, (query, ranked)  # the sample cap

        ranked = await ranked_candidates(backend, backend.keyword_search("common zebrafish", 5, none))
        assert ranked <= 40 + 10  # the core budget and the sample cap


async def test_rare_token_matches_rank_first_and_pruning_keeps_the_same_top_hits(
    pg_url: str, pg_table: str, tmp_path: Path
) -> None:
    specs = corpus()
    # Rows that repeat the common tokens a lot, against rows that hold the rare one once.
    specs |= {f"src/noisy_{i}.py": "common helper " * 30 for i in range(5)}
    specs |= {f"src/rare_{i}.py": f"frobnicate then common filler{i} words and more words" for i in range(8)}
    async with open_backend(pg_url, pg_table, tmp_path, budget=40, cap=10) as pruned:
        await pruned.write_files(ROOT, files(specs))
        top = paths(await pruned.keyword_search("common helper frobnicate", 8, SearchFilters()))
    assert sorted(top) == sorted(f"src/rare_{i}.py" for i in range(8)), top
    async with open_backend(pg_url, pg_table, tmp_path, budget=10**9) as unpruned:
        assert paths(await unpruned.keyword_search("common helper frobnicate", 8, SearchFilters())) == top
        full = await unpruned.keyword_search("common helper frobnicate", 20, SearchFilters())
        assert {p for p in paths(full[8:]) if p.startswith("src/noisy_")}, "then the rows with many common tokens"


async def test_filters_bound_every_mode_when_the_rare_token_is_outside_them(
    pg_url: str, pg_table: str, tmp_path: Path
) -> None:
    async with open_backend(pg_url, pg_table, tmp_path, budget=40, cap=10) as backend:
        await backend.write_files(ROOT, files(corpus()))
        for filters, allowed in (
            (SearchFilters(path_prefix="src/"), lambda h: h.rel_path.startswith("src/")),
            (SearchFilters(path_prefix=f"{ROOT}/src"), lambda h: h.rel_path.startswith("src/")),
            (SearchFilters(language="python"), lambda h: h.language == "python"),
            (SearchFilters(language="markdown"), lambda h: h.language == "markdown"),
        ):
            keyword = await backend.keyword_search("common zebrafish", 10, filters)
            hybrid = await backend.hybrid_search(
                vector("q"), "common zebrafish", 10, filters, alpha=0.5, rrf_k=5, candidates=20
            )
            for hits in (keyword, hybrid):
                assert hits and all(allowed(h) for h in hits), (filters, paths(hits))
            # "zebrafish" is only in lib/ and docs/: under src/ the common token still finds rows.
            assert len(keyword) == (1 if filters.language == "markdown" else 10), filters
        markdown = await backend.keyword_search("common zebrafish", 10, SearchFilters(language="markdown"))
        assert paths(markdown) == ["docs/fish.md"]
        assert await backend.keyword_search("common zebrafish", 10, SearchFilters(path_prefix="nowhere/")) == []


async def test_the_planner_setting_for_keyword_queries_does_not_leak_into_the_pool(
    pg_url: str, pg_table: str, tmp_path: Path
) -> None:
    async with open_backend(pg_url, pg_table, tmp_path) as backend:
        await backend.write_files(ROOT, files(corpus(20)))
        assert await backend.keyword_search("common zebrafish", 3, SearchFilters())
        for _ in range(3):
            async with backend._engine.connect() as conn:
                assert (await conn.exec_driver_sql("SHOW enable_seqscan")).scalar_one() == "on"


async def test_queries_of_very_common_tokens_rank_a_sample_of_pages(pg_url: str, pg_table: str, tmp_path: Path) -> None:
    # "common" (302 rows) is over 10 x the budget: its rows are drawn from a TABLESAMPLE of the pages,
    # here every page (4 * cap >= 302) and every row (cap >= 302): the exact BM25 order of a full scan.
    async with open_backend(pg_url, pg_table, tmp_path, budget=10, cap=400) as backend:
        await backend.write_files(ROOT, files(corpus()))
        from sqlalchemy import event

        sent: list[str] = []
        event.listen(backend._engine.sync_engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
        hits = await backend.keyword_search("common zebrafish", 5, SearchFilters())
        assert any("TABLESAMPLE SYSTEM" in s for s in sent)
        assert set(paths(hits[:2])) == {"lib/aquarium.py", "docs/fish.md"} and len(hits) == 5
        sampled = await backend.keyword_search("common", 5, SearchFilters())
    async with open_backend(pg_url, pg_table, tmp_path, budget=10**9) as exact:
        assert paths(sampled) == paths(await exact.keyword_search("common", 5, SearchFilters()))
