"""Alembic environment (async template), with the URL and schema parameters from our own config.

Two ways in:
- the server (and ``agent-brain-mcp migrate``) passes a live connection and the ``SchemaParams``
  in ``config.attributes``;
- ``alembic upgrade head`` from a shell reads ``.claude/agent-brain/config.yaml`` (or
  ``$AGENT_BRAIN_CONFIG`` / ``$AGENT_BRAIN_DATABASE_URL``), like the server would.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

config = context.config


def _params_from_project_config() -> tuple[str, object]:
    from agent_brain_mcp.backends.postgres.migrations import schema_params_for
    from agent_brain_mcp.backends.postgres.url import database_url
    from agent_brain_mcp.config import load_settings

    settings = load_settings()
    return database_url(settings.storage.postgresql), schema_params_for(settings)


def do_run_migrations(connection: Connection, params: object) -> None:
    config.attributes["schema"] = params
    context.configure(connection=connection, target_metadata=None, version_table=params.version_table)  # type: ignore[attr-defined]
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    from sqlalchemy import pool
    from sqlalchemy.ext.asyncio import create_async_engine

    url, params = _params_from_project_config()
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations, params)
        await connection.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported: the schema depends on the configured dimension")
elif connection is not None:
    do_run_migrations(connection, config.attributes["schema"])
else:
    asyncio.run(run_async_migrations())
