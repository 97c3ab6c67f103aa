"""The embedded store: Chroma vectors, a SQLite catalog (the source of truth) and an in-memory BM25 index."""

from agent_brain_mcp.backends.chroma.backend import ChromaBackend

__all__ = ["ChromaBackend"]
