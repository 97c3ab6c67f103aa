"""The vector store keeps vectors by (model identity, exact text), bit for bit, on both backends; a
damaged row or file costs a re-embedding, never a wrong vector; growth is bounded."""

from __future__ import annotations

import math
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support import make_settings, open_service

from agent_brain_mcp.backends.vector_store import SqliteVectorStore, VectorStore, pack, vector_key
from agent_brain_mcp.embeddings.base import EmbeddingIdentity

pytestmark = pytest.mark.anyio

MODEL = EmbeddingIdentity("local", "all-MiniLM-L6-v2", 4)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    if request.param == "sqlite":
        sqlite = SqliteVectorStore(tmp_path / "vectors.sqlite3")
        yield sqlite
        sqlite.close()
        return
    settings = make_settings(
        tmp_path / "state",
        tmp_path,
        backend="postgresql",
        pg_url=request.getfixturevalue("pg_url"),
        table=request.getfixturevalue("pg_table"),
    )
    async with open_service(settings) as svc:
        pg = svc.backend.vector_store()
        assert pg is not None
        yield pg


async def test_a_stored_vector_comes_back_bit_for_bit(store: VectorStore) -> None:
    vector = [0.1, -0.2, 1 / 3, 0.0]
    key = vector_key(MODEL, "def f(): pass")
    await store.put({key: vector}, 4)
    found = await store.get([key, vector_key(MODEL, "other text")], 4)
    assert list(found) == [key]
    assert pack(found[key]) == pack(vector)


def test_the_key_names_the_model_and_the_exact_text() -> None:
    keys = {
        vector_key(MODEL, "text"),
        vector_key(MODEL, "text "),
        vector_key(EmbeddingIdentity("local", "all-MiniLM-L6-v2", 8), "text"),
        vector_key(EmbeddingIdentity("openai", "all-MiniLM-L6-v2", 4), "text"),
        vector_key(MODEL, "\udcff lone surrogate"),
    }
    assert len(keys) == 5


async def test_a_vector_of_another_dimension_is_not_returned(store: VectorStore) -> None:
    key = vector_key(MODEL, "text")
    await store.put({key: [0.5, 0.5, 0.5, 0.5]}, 4)
    assert await store.get([key], 8) == {}


async def test_vectors_that_are_not_finite_or_not_the_right_size_are_never_stored(store: VectorStore) -> None:
    nan, short = vector_key(MODEL, "nan"), vector_key(MODEL, "short")
    await store.put({nan: [math.nan, 0.0, 0.0, 1.0], short: [1.0, 0.0]}, 4)
    assert await store.count() == 0


async def test_a_torn_row_is_treated_as_missing(tmp_path: Path) -> None:
    store = SqliteVectorStore(tmp_path / "vectors.sqlite3")
    key, nan_key = vector_key(MODEL, "torn"), vector_key(MODEL, "nan")
    await store.put({key: [1.0, 0.0, 0.0, 0.0], nan_key: [1.0, 0.0, 0.0, 0.0]}, 4)
    db = store._conn()
    with db:
        db.execute("UPDATE vectors SET vector = substr(vector, 1, 10) WHERE key = ?", (key,))
        db.execute("UPDATE vectors SET vector = ? WHERE key = ?", (struct.pack("<4f", math.nan, 0, 0, 0), nan_key))
    assert await store.get([key, nan_key], 4) == {}
    store.close()


async def test_a_damaged_file_is_set_aside_and_the_store_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "vectors.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = SqliteVectorStore(path)
    key = vector_key(MODEL, "text")
    assert await store.get([key], 4) == {}
    await store.put({key: [0.0, 1.0, 0.0, 0.0]}, 4)
    assert list(await store.get([key], 4)) == [key]
    assert (tmp_path / "vectors.sqlite3.damaged").exists()
    store.close()


async def test_pruning_keeps_the_most_recently_used_vectors(
    store: VectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent_brain_mcp.backends.vector_store as module

    clock = iter(range(1000, 2000))
    monkeypatch.setattr(module.time, "time", lambda: next(clock))
    keys = [vector_key(MODEL, f"chunk {i}") for i in range(6)]
    for key in keys:  # one call each: each gets its own time
        await store.put({key: [1.0, 0.0, 0.0, 0.0]}, 4)
    await store.get([keys[0]], 4)  # used again: now the most recent
    assert await store.prune(3) == 3
    assert set(await store.get(keys, 4)) == {keys[0], keys[4], keys[5]}
    assert await store.prune(3) == 0
