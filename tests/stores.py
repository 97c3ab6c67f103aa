"""What each store of an index holds, read directly (importable as ``stores``: tests/ is on sys.path).

Used by the crash tests to compare a recovered index with a clean one: every store must hold each
chunk exactly once, and the same chunks as the others.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from agent_brain_mcp.backends.chroma.catalog import Catalog
from agent_brain_mcp.backends.chroma.keyword_index import KeywordIndex

COLLECTION = "agent_brain"

Chunk = tuple[str, int, int, str]
Manifest = set[tuple[str, int, int, str, int, str]]


def catalog_rows(state: Path) -> tuple[Manifest, list[Chunk], int, int]:
    """Manifest, chunk rows, generation and the number of unfinished-write records of a catalog."""
    db = sqlite3.connect(state / "catalog.sqlite3")
    try:
        manifest = set(db.execute("SELECT rel_path, size, mtime_ns, sha256, chunk_count, language FROM files"))
        chunks = list(db.execute("SELECT rel_path, start_line, end_line, text FROM chunks"))
        generation = int(db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        has_pending = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'pending'").fetchone()
        pending = int(db.execute("SELECT COUNT(*) FROM pending").fetchone()[0]) if has_pending else 0
    finally:
        db.close()
    return manifest, chunks, generation, pending


def awaiting_vectors(state: Path) -> int:
    """Chunk rows of a catalog whose vector is pending (written keyword first)."""
    db = sqlite3.connect(state / "catalog.sqlite3")
    try:
        has = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'awaiting'").fetchone()
        return int(db.execute("SELECT COUNT(*) FROM awaiting").fetchone()[0]) if has else 0
    finally:
        db.close()


def chroma_rows(state: Path) -> tuple[list[str], list[Chunk], int]:
    """Ids, (rel_path, start, end, document) and count of the Chroma collection of an index folder."""
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient
    from chromadb.config import Settings as ChromaClientSettings

    SharedSystemClient.clear_system_cache()  # a cached client would not see what another process wrote
    client = chromadb.PersistentClient(
        path=str(state / "chroma"), settings=ChromaClientSettings(anonymized_telemetry=False)
    )
    collection = client.get_collection(COLLECTION)
    got = collection.get(include=["documents", "metadatas"])
    chunks = [
        (str(m["rel_path"]), int(m["start_line"]), int(m["end_line"]), d)  # type: ignore[arg-type]
        for d, m in zip(got["documents"] or [], got["metadatas"] or [], strict=True)
    ]
    return list(got["ids"]), chunks, collection.count()


def keyword_ids(state: Path) -> tuple[list[str], int]:
    """The chunks the keyword index holds once opened as the server opens it (snapshot + change log)."""
    catalog = Catalog(state / "catalog.sqlite3")
    index = KeywordIndex(state / "keyword", catalog)
    try:
        current = index.ensure_current()
        assert current.generation is not None
        return current.live_ids(), current.generation
    finally:
        index.close()
        catalog.close()


def chroma_state(state: Path, *, settled: bool = True) -> dict[str, Any]:
    """Every store of a Chroma index, checked to agree; ``settled``: no unfinished write is recorded."""
    manifest, catalog_chunks, generation, pending = catalog_rows(state)
    ids, chroma_chunks, count = chroma_rows(state)
    kw_ids, kw_generation = keyword_ids(state)
    chunk_total = sum(row[4] for row in manifest)
    if settled:
        assert pending == 0
        assert awaiting_vectors(state) == 0  # every vector was filled in
    # No duplicates anywhere: every store holds each chunk exactly once, and the same chunks.
    assert count == len(ids) == len(set(ids)) == chunk_total
    assert len(catalog_chunks) == len(set(catalog_chunks)) == chunk_total
    assert len(kw_ids) == len(set(kw_ids)) == chunk_total and set(kw_ids) == set(ids)
    assert kw_generation == generation  # the BM25 side reflects the final manifest
    assert set(chroma_chunks) == set(catalog_chunks)
    return {"manifest": manifest, "chunks": set(chroma_chunks), "ids": set(ids)}


async def pg_state(url: str, table: str) -> dict[str, Any]:
    """The PostgreSQL tables of an index, checked to hold each chunk once."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            files = await conn.execute(
                text(f"SELECT rel_path, size, mtime_ns, sha256, chunk_count, language FROM {table}_files")
            )
            manifest = {tuple(r) for r in files.all()}
            rows = (
                await conn.execute(text(f"SELECT node_id, rel_path, start_line, end_line, text FROM data_{table}"))
            ).all()
            stored = await conn.execute(text(f"SELECT term, df FROM {table}_terms WHERE df <> 0"))
            terms = {str(r[0]): int(r[1]) for r in stored.all()}
            recount = await conn.execute(
                text(
                    f"SELECT lexeme, count(*) FROM data_{table}, unnest(tsvector_to_array(text_search_tsv)) AS lexeme "
                    f"GROUP BY lexeme UNION ALL SELECT '', count(*) FROM data_{table} "
                    f"UNION ALL SELECT ' ', COALESCE(sum(length(text_search_tsv)), 0) FROM data_{table}"
                )
            )
            exact = {str(r[0]): int(r[1]) for r in recount.all() if int(r[1]) != 0}
            pending = (await conn.execute(text(f"SELECT COUNT(*) FROM data_{table} WHERE embedding IS NULL"))).scalar()
    finally:
        await engine.dispose()
    ids = [r[0] for r in rows]
    chunks = [(r[1], r[2], r[3], r[4]) for r in rows]
    chunk_total = sum(row[4] for row in manifest)
    # The keyword side is a generated column of the same rows, so one row per chunk covers both.
    assert len(ids) == len(set(ids)) == len(set(chunks)) == chunk_total
    # The document frequencies (BM25's statistics, <table>_terms) are those of the rows.
    assert terms == exact, {
        k: (terms.get(k), exact.get(k)) for k in terms.keys() | exact.keys() if terms.get(k) != exact.get(k)
    }
    assert pending == 0  # every vector was filled in
    return {"manifest": manifest, "chunks": set(chunks), "ids": set(ids), "terms": terms}
