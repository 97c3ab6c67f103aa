"""The schema's migrations (Alembic revisions in migrations/) and the ``migrate`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_brain_mcp.backends.postgres.schema import SchemaParams
from agent_brain_mcp.config import Settings
from agent_brain_mcp.embeddings.base import EmbeddingIdentity
from agent_brain_mcp.embeddings.factory import known_dimension
from agent_brain_mcp.errors import BackendUnavailableError, ConfigError

# The newest revision in migrations/versions (a unit test holds it to Alembic's head): a schema
# already there needs no Alembic at all, which saves every command about a second.
HEAD_REVISION = "0004"


def schema_params_for(settings: Settings, dimension: int | None = None) -> SchemaParams:
    """Schema parameters from the config; the dimension from the model when not given."""
    pg = settings.storage.postgresql
    emb = settings.embedding
    dim = dimension or known_dimension(emb)
    if dim is None:
        raise ConfigError(
            f"embedding.dimension: cannot tell the dimension of {emb.provider}:{emb.model}; set it in the config"
        )
    return SchemaParams(pg.table, dim, pg.hnsw_m, pg.hnsw_ef_construction)


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
    from agent_brain_mcp.backends.postgres.backend import PostgresBackend

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
