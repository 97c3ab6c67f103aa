"""The vector store of the PostgreSQL backend: the table ``<table>_vectors`` (revision 0003).

Same rows and rules as Chroma's SQLite file (see ``vector_store.py``); every call is one statement
(or one transaction) on the backend's own engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from agent_brain_mcp.backends.vector_store import VectorStore

ExecFn = Callable[..., Awaitable[list[Any]]]  # (sql, params, write=...) -> rows


class PgVectorStore(VectorStore):
    def __init__(self, execute: ExecFn, table: str) -> None:
        self._exec = execute
        self._table = table

    async def _get(self, keys: list[bytes], now: int) -> list[tuple[bytes, int, bytes]]:
        rows = await self._exec(
            f"UPDATE {self._table} SET used = :now WHERE key = ANY(:keys) RETURNING key, dim, vector",
            {"now": now, "keys": keys},
            write=True,
        )
        return [(bytes(r[0]), int(r[1]), bytes(r[2])) for r in rows]

    async def _put(self, rows: list[tuple[bytes, int, bytes]], now: int) -> None:
        await self._exec(
            f"INSERT INTO {self._table} (key, dim, vector, used) VALUES (:key, :dim, :vector, :used) "
            "ON CONFLICT (key) DO UPDATE SET dim = excluded.dim, vector = excluded.vector, used = excluded.used",
            [{"key": k, "dim": d, "vector": v, "used": now} for k, d, v in rows],
            write=True,
        )

    async def _prune(self, max_vectors: int) -> int:
        rows = await self._exec(
            f"WITH doomed AS (SELECT key FROM {self._table} ORDER BY used DESC, key OFFSET :keep) "
            f"DELETE FROM {self._table} t USING doomed WHERE t.key = doomed.key RETURNING 1",
            {"keep": max_vectors},
            write=True,
        )
        return len(rows)

    async def count(self) -> int:
        rows = await self._exec(f"SELECT count(*) FROM {self._table}")
        return int(rows[0][0])
