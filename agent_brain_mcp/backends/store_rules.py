"""Rules every store follows the same way: the meta keys, path prefixes, LIKE patterns, the writer lock's wait.

Both backends (and the test double) call these, so the two stores cannot drift apart on them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from agent_brain_mcp.embeddings.base import EmbeddingIdentity
from agent_brain_mcp.errors import IndexBusyError

# -- the index's own metadata (a key -> text table in every store) ---------------------------------------
IDENTITY_KEYS = ("embedding_provider", "embedding_model", "embedding_dimension")


def identity_meta(identity: EmbeddingIdentity) -> dict[str, str]:
    """The meta rows that record the model an index is built with."""
    return dict(zip(IDENTITY_KEYS, (identity.provider, identity.model, str(identity.dimension)), strict=True))


def identity_from_meta(meta: Mapping[str, str | None]) -> EmbeddingIdentity | None:
    """The recorded model, or None when the index has none (empty, or reset)."""
    provider, model, dimension = (meta.get(key) for key in IDENTITY_KEYS)
    if not (provider and model and dimension):
        return None
    return EmbeddingIdentity(provider, model, int(dimension))


def pipeline_version_key(root: str) -> str:
    """The meta key of the chunker/tokeniser version ``root`` was indexed with."""
    return f"pipeline_version:{root}"


# -- path prefixes and LIKE patterns -------------------------------------------------------------------------
def like_escape(value: str) -> str:
    """``value`` as a literal inside a LIKE pattern with ``ESCAPE '\\'``."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_prefix(prefix: str) -> str:
    """A LIKE pattern (``ESCAPE '\\'``) for every text that starts with ``prefix``."""
    return like_escape(prefix) + "%"


def under_folder_pattern(scope: str) -> str:
    """A LIKE pattern for the relative paths of files inside the folder ``scope``."""
    return like_prefix(scope.rstrip("/") + "/")


def path_prefix_sql(param: str) -> str:
    """SQL (SQLite and PostgreSQL) for ``matches_path_prefix`` with the pattern ``like_prefix(prefix)`` in ``param``."""
    return f"(rel_path LIKE {param} ESCAPE '\\' OR (root || '/' || rel_path) LIKE {param} ESCAPE '\\')"


def matches_path_prefix(root: str, rel_path: str, prefix: str) -> bool:
    """A search's ``path_prefix`` filter: a path relative to its root, or an absolute path, starts with it."""
    return rel_path.startswith(prefix) or f"{root}/{rel_path}".startswith(prefix)


# -- the writer lock -------------------------------------------------------------------------------------------
LOCK_POLL_S = 0.1


async def wait_for_lock(try_once: Callable[[], Awaitable[bool]], timeout: float, busy: Callable[[], str]) -> None:
    """Call ``try_once`` every ``LOCK_POLL_S`` until it takes the lock; after ``timeout`` seconds raise
    ``IndexBusyError`` with ``busy()`` (what holds it) and the advice every store gives."""
    deadline = time.monotonic() + timeout
    while not await try_once():
        if time.monotonic() >= deadline:
            raise IndexBusyError(
                f"Another process is indexing {busy()}; waited {timeout:g}s. "
                "Searches still work; call index_path again when that run has finished."
            )
        await asyncio.sleep(LOCK_POLL_S)
