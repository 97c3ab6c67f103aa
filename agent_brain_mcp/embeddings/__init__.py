"""Embedding providers. Importing this package loads no model and no HTTP library."""

from agent_brain_mcp.embeddings.base import EmbeddingIdentity, EmbeddingProvider
from agent_brain_mcp.embeddings.factory import create_embedding_provider

__all__ = ["EmbeddingIdentity", "EmbeddingProvider", "create_embedding_provider"]
