"""One writer per table: a session advisory lock, held on a dedicated connection for a whole run."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from agent_brain_mcp.errors import BackendUnavailableError, IndexBusyError

log = logging.getLogger(__name__)

_LOCK_POLL_S = 0.1


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
                    f"Another process is indexing the PostgreSQL table {table!r} (it holds the writer "
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
