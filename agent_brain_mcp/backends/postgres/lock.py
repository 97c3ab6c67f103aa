"""One writer per table: a session advisory lock, held on a dedicated connection for a whole run."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from agent_brain_mcp.backends.store_rules import wait_for_lock
from agent_brain_mcp.errors import BackendUnavailableError

log = logging.getLogger(__name__)


def writer_lock_key(table: str) -> str:
    """The advisory-lock key (hashed with ``hashtext``) one writer of ``table`` holds for a run."""
    return f"agent-brain-writer:{table}"


@asynccontextmanager
async def advisory_writer_lock(
    engine: Any, table: str, timeout: float, unavailable: Callable[[BaseException], BackendUnavailableError]
) -> AsyncIterator[None]:
    """A session advisory lock on a dedicated connection, held for the run (then the session ends)."""
    from sqlalchemy import text

    key = {"k": writer_lock_key(table)}
    try:
        conn = await engine.connect()
    except Exception as exc:
        raise unavailable(exc) from exc
    locked = False

    async def try_once() -> bool:
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:k))"), key)).scalar_one()
        await conn.commit()
        return bool(got)

    try:
        await wait_for_lock(try_once, timeout, lambda: f"the PostgreSQL table {table!r} (it holds the writer lock)")
        locked = True
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
