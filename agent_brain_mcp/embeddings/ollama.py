"""Embeddings from a local Ollama server (``POST /api/embed``, Ollama 0.3 or newer)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from agent_brain_mcp.embeddings._http import JsonPoster, nonempty, normalise_vectors
from agent_brain_mcp.embeddings.base import EmbeddingIdentity, EmbeddingProvider
from agent_brain_mcp.errors import EmbeddingError

logger = logging.getLogger(__name__)

_PROBE_TEXT = "dimension probe"


class OllamaProvider(EmbeddingProvider):
    """POSTs batches to ``{base_url}/api/embed``.

    The dimension is the configured one, else learned by ``load()`` from one probe embedding
    (which also proves the model is pulled); ``identity`` triggers that probe if needed.
    """

    def __init__(
        self,
        model: str = "nomic-embed-text",
        base_url: str = "http://localhost:11434",
        dimension: int | None = None,
        batch_size: int = 32,
        timeout: float = 60.0,
        *,
        retries: int = 2,
        retry_delay: float = 0.5,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if dimension is not None and dimension < 1:
            raise ValueError("dimension must be at least 1")
        self.batch_size = batch_size
        self._model = model
        self._dimension = dimension
        self._load_lock = threading.Lock()
        self._http = JsonPoster(
            base_url,
            timeout=timeout,
            retries=retries,
            retry_delay=retry_delay,
            auth_message="the server refused the request: check the proxy in front of Ollama",
            error_hook=self._tailor_error,
        )

    def __repr__(self) -> str:
        return f"OllamaProvider(model={self._model!r}, base_url={self._http.display_url!r})"

    @property
    def identity(self) -> EmbeddingIdentity:
        if self._dimension is None:
            self.load()
        assert self._dimension is not None
        return EmbeddingIdentity(provider="ollama", model=self._model, dimension=self._dimension)

    def load(self) -> None:
        self._http.open()
        if self._dimension is not None:
            return
        with self._load_lock:
            if self._dimension is None:
                self._embed([_PROBE_TEXT], is_query=False)
                logger.info(
                    "ollama model %s at %s has %s dimensions",
                    self._model,
                    self._http.display_url,
                    self._dimension,
                )

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        reply = self._http.post("/api/embed", {"model": self._model, "input": nonempty(texts)})
        where = self._http.display_url
        embeddings = reply.get("embeddings") if isinstance(reply, dict) else None
        if embeddings is None:
            raise EmbeddingError(
                f"the Ollama server at {where} sent a reply without 'embeddings': is it Ollama 0.3 or newer?"
            )
        vectors = normalise_vectors(embeddings, count=len(texts), dimension=self._dimension, where=where)
        if self._dimension is None:
            self._dimension = len(vectors[0])
        return vectors

    def close(self) -> None:
        self._http.close()

    def _tailor_error(self, status: int, body: str) -> str | None:
        if status != 404:
            return None
        lowered = body.lower()
        if "model" in lowered and "not found" in lowered:
            return (
                f"the Ollama server at {self._http.display_url} does not have the model {self._model!r}: "
                f"run `ollama pull {self._model}` (or change embedding.model)"
            )
        return (
            f"the server at {self._http.display_url} has no /api/embed endpoint (HTTP 404): is it Ollama 0.3 "
            "or newer? check embedding.base_url"
        )
