"""Our embedding provider as a LlamaIndex embed model, so LlamaIndex's own stores query our vectors."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from agent_brain_mcp.embeddings.base import EmbeddingProvider


class AgentBrainEmbedding(BaseEmbedding):
    """Embeds with the provider the index was built with (a loaded ``EmbeddingProvider``).

    A query against our Chroma collection or PostgreSQL table through ``VectorStoreIndex`` must be
    embedded by the same model as the chunks; this adapter makes sure it is.
    """

    _provider: EmbeddingProvider = PrivateAttr()

    def __init__(self, provider: EmbeddingProvider, **kwargs: Any) -> None:
        kwargs.setdefault("model_name", provider.identity.describe())
        kwargs.setdefault("embed_batch_size", provider.batch_size)
        super().__init__(**kwargs)
        self._provider = provider

    @classmethod
    def class_name(cls) -> str:
        return "AgentBrainEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._provider.embed_documents([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._provider.embed_documents([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._provider.embed_documents(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await self._provider.aembed_documents([query]))[0]
