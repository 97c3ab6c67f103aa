"""PostgreSQL + pgvector: one database, one transaction per batch, native full-text search.

The backend is imported on first use, not with the package: the embedded server's keeper
(``python -m agent_brain_mcp.backends.postgres.reuse``) must start without SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_brain_mcp.backends.postgres.backend import PostgresBackend, migrate

__all__ = ["PostgresBackend", "migrate"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from agent_brain_mcp.backends.postgres import backend

        return getattr(backend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
