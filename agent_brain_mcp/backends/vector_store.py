"""Never embed the same text twice: vectors kept by (model identity, exact embedding text).

A content-addressed store beside the index, consulted by the pipeline before it calls the model:
a second root, a second worktree of a repository, a branch switched back and forth, a re-chunk that
leaves a chunk's text unchanged and ``force=true`` without a model change all reuse the vectors.

- The key is the SHA-256 of the model identity (provider, model, dimension) and the text, so a
  model change is a different key and vectors of two models never mix.
- A vector is stored as little-endian float32 bytes with its dimension. A row whose bytes do not
  match the dimension the model makes, or that hold NaN/inf, is treated as missing: a torn or
  tampered store costs a re-embedding, never a wrong vector. The store is only an optimisation;
  any failure to read or write it is logged and the model is asked instead.
- Growth is bounded: every run marks the vectors it used; at the end of a run the least recently
  used beyond ``indexing.vector_store_max_vectors`` are deleted.
- Rows are the same on every backend (key, dimension, float32 bytes), so a future mover between
  backends copies them as they are and the target re-embeds nothing: it indexes with this store.

Chroma keeps it in ``<persist_dir>/vectors.sqlite3`` (this module); PostgreSQL in the table
``<table>_vectors`` (revision 0003, ``pg_vector_store.py``).
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from agent_brain_mcp.embeddings.base import EmbeddingIdentity

log = logging.getLogger(__name__)

_SQL_BATCH = 500  # keys per statement (SQLite's default limit on bound variables is 999+)


def vector_key(identity: EmbeddingIdentity, text: str) -> bytes:
    """The store's key for ``text`` embedded by the model ``identity`` names."""
    head = f"{identity.provider}\x00{identity.model}\x00{identity.dimension}\x00"
    return hashlib.sha256(head.encode() + text.encode("utf-8", "surrogatepass")).digest()


def pack(vector: Sequence[float]) -> bytes:
    import numpy as np

    return np.asarray(vector, dtype="<f4").tobytes()


def unpack(blob: bytes, dimension: int) -> list[float] | None:
    """The vector in ``blob``, or None when it is not ``dimension`` finite float32 values."""
    import numpy as np

    if not isinstance(blob, bytes | bytearray | memoryview) or len(blob) != 4 * dimension:
        return None
    values = np.frombuffer(bytes(blob), dtype="<f4")
    if not np.isfinite(values).all():
        return None
    vector: list[float] = values.tolist()
    return vector


def _packed(vector: Sequence[float], dimension: int) -> bytes | None:
    """``pack(vector)``, or None when it is not ``dimension`` finite float32 values. One numpy pass
    (a Python loop over every float took half of the ~10 ms a batch of 128 vectors cost)."""
    import numpy as np

    try:
        with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf: refused below
            values = np.asarray(vector, dtype="<f4")
    except (TypeError, ValueError):
        return None
    ok = values.shape == (dimension,) and bool(np.isfinite(values).all())
    return values.tobytes() if ok else None


class VectorStore(abc.ABC):
    """Vectors by key; every method is safe to call from the event loop and never raises on a
    damaged store (it logs, and the caller embeds what was not found)."""

    async def get(self, keys: Iterable[bytes], dimension: int) -> dict[bytes, list[float]]:
        """The usable vectors of ``keys`` (marked as used now); missing or damaged ones are left out."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        try:
            rows = await self._get(wanted, int(time.time()))
        except Exception as exc:  # noqa: BLE001 - an optimisation must not fail a run
            log.warning("vector store: read failed, embedding instead: %s", exc)
            return {}
        found: dict[bytes, list[float]] = {}
        for key, dim, blob in rows:
            vector = unpack(blob, dimension) if dim == dimension else None
            if vector is not None:
                found[bytes(key)] = vector
        return found

    async def put(self, items: Mapping[bytes, Sequence[float]], dimension: int) -> None:
        packed = ((key, _packed(v, dimension)) for key, v in items.items())
        rows = [(key, dimension, blob) for key, blob in packed if blob is not None]
        if not rows:
            return
        try:
            await self._put(rows, int(time.time()))
        except Exception as exc:  # noqa: BLE001
            log.warning("vector store: write failed (the vectors will be embedded again next time): %s", exc)

    async def prune(self, max_vectors: int) -> int:
        """Delete the least recently used vectors beyond ``max_vectors``; returns how many went."""
        try:
            return await self._prune(max_vectors)
        except Exception as exc:  # noqa: BLE001
            log.warning("vector store: pruning failed: %s", exc)
            return 0

    @abc.abstractmethod
    async def _get(self, keys: list[bytes], now: int) -> list[tuple[bytes, int, bytes]]: ...

    @abc.abstractmethod
    async def _put(self, rows: list[tuple[bytes, int, bytes]], now: int) -> None: ...

    @abc.abstractmethod
    async def _prune(self, max_vectors: int) -> int: ...

    @abc.abstractmethod
    async def count(self) -> int: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the store's resources."""


class SqliteVectorStore(VectorStore):
    """The store as one SQLite file (WAL, one transaction per call); a damaged file is set aside."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as exc:
                aside = self.path.with_name(self.path.name + ".damaged")
                log.warning("vector store %s is damaged (%s): moved to %s, starting empty", self.path, exc, aside)
                self.path.replace(aside)
                self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, dim INTEGER NOT NULL, "
                "vector BLOB NOT NULL, used INTEGER NOT NULL) WITHOUT ROWID"
            )
            db.execute("CREATE INDEX IF NOT EXISTS vectors_used ON vectors (used)")
            db.execute("SELECT count(*) FROM vectors").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _run_get(self, keys: list[bytes], now: int) -> list[tuple[bytes, int, bytes]]:
        rows: list[tuple[bytes, int, bytes]] = []
        with self._lock, self._conn() as db:
            for start in range(0, len(keys), _SQL_BATCH):
                part = keys[start : start + _SQL_BATCH]
                marks = ",".join("?" * len(part))
                rows += db.execute(f"SELECT key, dim, vector FROM vectors WHERE key IN ({marks})", part).fetchall()  # noqa: S608
                db.execute(f"UPDATE vectors SET used = ? WHERE key IN ({marks})", [now, *part])  # noqa: S608
        return rows

    def _run_put(self, rows: list[tuple[bytes, int, bytes]], now: int) -> None:
        with self._lock, self._conn() as db:
            db.executemany(
                "INSERT INTO vectors (key, dim, vector, used) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET dim = excluded.dim, vector = excluded.vector, used = excluded.used",
                [(*row, now) for row in rows],
            )

    def _run_prune(self, max_vectors: int) -> int:
        with self._lock, self._conn() as db:
            (total,) = db.execute("SELECT count(*) FROM vectors").fetchone()
            if total <= max_vectors:
                return 0
            db.execute(
                "DELETE FROM vectors WHERE key IN (SELECT key FROM vectors ORDER BY used ASC LIMIT ?)",
                (total - max_vectors,),
            )
            return int(total - max_vectors)

    async def _get(self, keys: list[bytes], now: int) -> list[tuple[bytes, int, bytes]]:
        return await asyncio.to_thread(self._run_get, keys, now)

    async def _put(self, rows: list[tuple[bytes, int, bytes]], now: int) -> None:
        await asyncio.to_thread(self._run_put, rows, now)

    async def _prune(self, max_vectors: int) -> int:
        return await asyncio.to_thread(self._run_prune, max_vectors)

    async def count(self) -> int:
        def _count() -> int:
            with self._lock:
                return int(self._conn().execute("SELECT count(*) FROM vectors").fetchone()[0])

        return await asyncio.to_thread(_count)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
