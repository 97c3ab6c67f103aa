"""A LlamaIndex retriever over the retrieval service: the same ranking the MCP tools give."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from anyio.from_thread import BlockingPortal
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from agent_brain_mcp.models import SearchResult
from agent_brain_mcp.service import RetrievalService

Mode = Literal["hybrid", "vector", "keyword"]
MODES: tuple[str, ...] = ("hybrid", "vector", "keyword")


class AgentBrainRetriever(BaseRetriever):
    """Retrieves chunks with ``hybrid_search`` (default), ``search`` (``mode="vector"``) or BM25 alone.

    Each node carries the chunk's text; its metadata holds ``file_path`` (relative to ``root``),
    ``root``, ``start_line``, ``end_line``, ``language``, ``symbol`` and the two ranks. Async use
    (``aretrieve``, ``aquery``) works on the loop the service was opened on; synchronous use needs
    the ``portal`` the service runs on (``AgentBrain.open().as_retriever()`` passes it).
    """

    def __init__(
        self,
        service: RetrievalService,
        *,
        mode: Mode = "hybrid",
        top_k: int = 10,
        path_prefix: str | None = None,
        language: str | None = None,
        alpha: float | None = None,
        portal: BlockingPortal | None = None,
        **kwargs: Any,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        super().__init__(**kwargs)
        self._service = service
        self._mode = mode
        self._top_k = top_k
        self._path_prefix = path_prefix
        self._language = language
        self._alpha = alpha
        self._portal = portal

    async def asearch(self, query: str) -> SearchResult:
        """The service's own result for ``query`` (on the service's loop)."""
        svc, prefix, language = self._service, self._path_prefix, self._language
        if self._mode == "hybrid":
            return await svc.hybrid_search(query, self._top_k, prefix, language, alpha=self._alpha)
        if self._mode == "vector":
            return await svc.search(query, self._top_k, prefix, language)
        return await svc.keyword_search(query, self._top_k, prefix, language)

    async def _nodes(self, query: str) -> list[NodeWithScore]:
        return to_nodes(await self.asearch(query))

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if self._portal is None:
            raise RuntimeError(
                "this retriever was built on an async service: call aretrieve()/aquery() on its event loop, "
                "or open the index with AgentBrain.open() and use its as_retriever() from synchronous code"
            )
        return self._portal.call(self._nodes, query_bundle.query_str)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if self._portal is None:
            return await self._nodes(query_bundle.query_str)
        return await asyncio.wrap_future(self._portal.start_task_soon(self._nodes, query_bundle.query_str))


def to_nodes(result: SearchResult) -> list[NodeWithScore]:
    """Search hits as LlamaIndex nodes: the text, the score, and where the text comes from."""
    nodes = []
    for hit in result.hits:
        metadata: dict[str, Any] = {
            "file_path": hit.file_path,
            "root": hit.root,
            "start_line": hit.start_line,
            "end_line": hit.end_line,
            "language": hit.language,
            "symbol": hit.symbol,
            "vector_rank": hit.vector_rank,
            "keyword_rank": hit.keyword_rank,
        }
        node = TextNode(
            id_=f"{hit.root}/{hit.file_path}:{hit.start_line}-{hit.end_line}",
            text=hit.text,
            metadata=metadata,
            # The LLM sees where a chunk is from; the ranks are for the caller, not the prompt.
            excluded_llm_metadata_keys=["vector_rank", "keyword_rank"],
            excluded_embed_metadata_keys=list(metadata),
        )
        nodes.append(NodeWithScore(node=node, score=hit.score))
    return nodes
