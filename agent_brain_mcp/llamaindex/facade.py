"""The configured index for synchronous LlamaIndex code, and our Chroma collection for its own store."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

from agent_brain_mcp.config import Settings, load_settings
from agent_brain_mcp.llamaindex.documents import add_documents, remove_documents
from agent_brain_mcp.llamaindex.embedding import AgentBrainEmbedding
from agent_brain_mcp.llamaindex.retriever import AgentBrainRetriever, Mode
from agent_brain_mcp.models import IndexResult, IndexStatus
from agent_brain_mcp.runtime import build_service
from agent_brain_mcp.service import RetrievalService


class AgentBrain:
    """The index the config names, served by an event loop on a thread of its own.

    ``with AgentBrain.open() as brain:`` opens the store and loads the model exactly as the MCP
    server does; every method blocks until the service has answered, and the store is closed on exit.
    """

    def __init__(self, portal: BlockingPortal, service: RetrievalService, settings: Settings) -> None:
        self._portal = portal
        self.service = service
        self.settings = settings

    @classmethod
    @contextmanager
    def open(
        cls,
        config: str | Path | None = None,
        *,
        project_dir: str | Path | None = None,
        settings: Settings | None = None,
    ) -> Iterator[AgentBrain]:
        """The config file ``config`` (default: ``$AGENT_BRAIN_CONFIG`` or ``.claude/agent-brain/config.yaml``
        under ``project_dir``, default the current folder), or ready ``settings``."""
        if settings is None:
            cwd = Path(project_dir) if project_dir is not None else None
            settings = load_settings(Path(config) if config is not None else None, cwd=cwd)
        with start_blocking_portal() as portal:
            service = portal.call(build_service, settings)
            try:
                yield cls(portal, service, settings)
            finally:
                portal.call(service.close)

    def as_retriever(
        self,
        mode: Mode = "hybrid",
        top_k: int = 10,
        *,
        path_prefix: str | None = None,
        language: str | None = None,
        alpha: float | None = None,
    ) -> AgentBrainRetriever:
        return AgentBrainRetriever(
            self.service,
            mode=mode,
            top_k=top_k,
            path_prefix=path_prefix,
            language=language,
            alpha=alpha,
            portal=self._portal,
        )

    def index_path(self, path: str, **options: Any) -> IndexResult:
        """What the ``index_path`` tool does (``include``, ``exclude``, ``force``)."""
        result: IndexResult = self._portal.call(functools.partial(self.service.index_path, path, **options))
        return result

    def add_documents(self, name: str, documents: Sequence[Any]) -> IndexResult:
        """Index LlamaIndex ``Document``s under the virtual root ``llamaindex://<name>``."""
        result: IndexResult = self._portal.call(add_documents, self.service, name, documents)
        return result

    def remove_documents(self, name: str, doc_ids: Sequence[str] | None = None) -> int:
        """Remove some documents of ``name``, or all of them; returns the chunks removed."""
        return self._portal.call(remove_documents, self.service, name, doc_ids)

    def status(self) -> IndexStatus:
        return self._portal.call(self.service.status)

    def embed_model(self) -> AgentBrainEmbedding:
        """The index's own model as a LlamaIndex embed model (for ``VectorStoreIndex.from_vector_store``)."""
        return AgentBrainEmbedding(self.service.embedder)


def chroma_collection(settings: Settings) -> Any:
    """Our Chroma collection (embedded folder or server), for ``ChromaVectorStore(chroma_collection=...)``.

    Open it for reading: writes through another store bypass our manifest and keyword index.
    """
    import chromadb
    from chromadb.config import Settings as ChromaClientSettings

    chroma = settings.storage.chromadb
    client_settings = ChromaClientSettings(anonymized_telemetry=False, allow_reset=False)
    if chroma.host:
        client: Any = chromadb.HttpClient(host=chroma.host, port=chroma.port, ssl=chroma.ssl, settings=client_settings)
    else:
        client = chromadb.PersistentClient(
            path=str(settings.resolve(chroma.persist_dir) / "chroma"), settings=client_settings
        )
    return client.get_collection(name=chroma.collection, embedding_function=None)
