"""PostgreSQL + pgvector: one database, one transaction per batch, native full-text search."""

from agent_brain_mcp.backends.postgres.backend import PostgresBackend, migrate

__all__ = ["PostgresBackend", "migrate"]
