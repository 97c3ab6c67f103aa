"""The PostgreSQL keyword side at scale: document frequencies kept exact by every write (revision
0002). Everything runs against the session's real PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
from support import make_settings

from agent_brain_mcp.backends.base import ChunkRecord, FileRecord, FileWrite
from agent_brain_mcp.backends.pg_schema import SchemaParams
from agent_brain_mcp.backends.postgres import PostgresBackend, run_migrations
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
async def open_backend(url: str, table: str, tmp_path: Path) -> AsyncIterator[Any]:
    settings = make_settings(
        tmp_path / "state",
        tmp_path,
        "hash",
        backend="postgresql",
        pg_url=url,
        table=table,
        embedding={"dimension": DIM},
    )
    backend = PostgresBackend(settings, tmp_path / "state")
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

            await migrate()  # what the server and `agent-brain-mcp migrate` run
            assert await state() == ("0002", "m", True, "{gin_pending_list_limit=256}")
            await assert_terms_exact(pg_url, pg_table)
            assert (await stored_terms(pg_url, pg_table))["beta"] == 2

            await migrate("0001", True)
            assert await state() == ("0001", "x", False, None)
            assert len(await raw(pg_url, f"SELECT id FROM {params.chunks}")) == 3  # the chunks stay

            await migrate()
            assert await state() == ("0002", "m", True, "{gin_pending_list_limit=256}")
            await assert_terms_exact(pg_url, pg_table)
    finally:
        await engine.dispose()
