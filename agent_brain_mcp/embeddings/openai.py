"""Embeddings from OpenAI or any server that speaks its ``/embeddings`` API (vLLM, LM Studio, TEI...)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from agent_brain_mcp.embeddings._http import JsonPoster, nonempty, normalise_vectors, short_body
from agent_brain_mcp.embeddings.base import EmbeddingIdentity, EmbeddingProvider
from agent_brain_mcp.errors import EmbeddingError

logger = logging.getLogger(__name__)

KNOWN_DIMENSIONS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}

_PROBE_TEXT = "dimension probe"


class OpenAIProvider(EmbeddingProvider):
    """POSTs batches to ``{base_url}/embeddings``; the key (if any) goes only in the Authorization header.

    The dimension is ``dimensions`` if configured, else known for OpenAI's own models, else
    learned by ``load()`` from one probe embedding (``identity`` triggers that probe if needed).
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 256,
        timeout: float = 60.0,
        *,
        api_key_env: str | None = None,
        retries: int = 2,
        retry_delay: float = 0.5,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if dimensions is not None and dimensions < 1:
            raise ValueError("dimensions must be at least 1")
        self.batch_size = batch_size
        self._model = model
        self._dimensions = dimensions
        self._dimension: int | None = dimensions or KNOWN_DIMENSIONS.get(model)
        self._load_lock = threading.Lock()
        self._api_key_env = api_key_env
        self._has_key = bool(api_key)
        self._needs_key = urlsplit(base_url).hostname == "api.openai.com"
        env_name = f" ({api_key_env})" if api_key_env else ""
        if api_key:
            auth_message = (
                "the server refused the API key: set the env var named by embedding.api_key_env"
                f"{env_name} to a valid key"
            )
        else:
            auth_message = (
                "the server wants an API key and none was sent: set the env var named by "
                f"embedding.api_key_env{env_name}"
            )
        self._http = JsonPoster(
            base_url,
            timeout=timeout,
            api_key=api_key,
            retries=retries,
            retry_delay=retry_delay,
            auth_message=auth_message,
            error_hook=self._tailor_error,
        )

    def __repr__(self) -> str:
        return f"OpenAIProvider(model={self._model!r}, base_url={self._http.display_url!r})"

    @property
    def identity(self) -> EmbeddingIdentity:
        if self._dimension is None:
            self.load()
        assert self._dimension is not None
        return EmbeddingIdentity(provider="openai", model=self._model, dimension=self._dimension)

    def load(self) -> None:
        self._refuse_without_a_key()
        self._http.open()
        if self._dimension is not None:
            return
        with self._load_lock:
            if self._dimension is None:
                self._embed([_PROBE_TEXT], is_query=False)
                logger.info(
                    "embedding model %s at %s has %s dimensions",
                    self._model,
                    self._http.display_url,
                    self._dimension,
                )

    def _refuse_without_a_key(self) -> None:
        """OpenAI's own API always wants a key: say so at once instead of retrying the network.

        Any other server may need none (a local one), so there only a refusal mentions the key.
        """
        if self._needs_key and not self._has_key:
            raise EmbeddingError(
                f"embedding.provider is openai with base_url {self._http.display_url}, but the env var "
                f"{self._api_key_env or 'named by embedding.api_key_env'} is not set: export your API key in it "
                "(embedding.api_key_env names the variable), or point embedding.base_url at a local "
                "OpenAI-compatible server that needs no key"
            )

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        self._refuse_without_a_key()
        payload: dict[str, Any] = {"model": self._model, "input": nonempty(texts)}
        if self._dimensions is not None:
            payload["dimensions"] = self._dimensions
        reply = self._http.post("/embeddings", payload)
        where = self._http.display_url
        vectors = normalise_vectors(
            _ordered_embeddings(reply, len(texts), where),
            count=len(texts),
            dimension=self._dimension,
            where=where,
        )
        if self._dimension is None:
            self._dimension = len(vectors[0])
        return vectors

    def close(self) -> None:
        self._http.close()

    def _tailor_error(self, status: int, body: str) -> str | None:
        if status == 404:
            return (
                f"the embedding server at {self._http.display_url} returned HTTP 404 for /embeddings "
                f"with model {self._model!r}: check embedding.base_url (it usually ends in /v1) and "
                f"embedding.model ({short_body(body)})"
            )
        return None


def _ordered_embeddings(reply: Any, count: int, where: str) -> list[Any]:
    """The ``embedding`` lists of an OpenAI reply, in input order (by ``index``)."""
    data = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise EmbeddingError(f"the embedding server at {where} sent a reply without a 'data' list of embeddings")
    if len(data) != count:
        raise EmbeddingError(f"the embedding server at {where} returned {len(data)} vectors for {count} texts")
    if all("index" in item for item in data):
        indices = [item["index"] for item in data]
        if not all(type(i) is int for i in indices) or sorted(indices) != list(range(count)):
            raise EmbeddingError(
                f"the embedding server at {where} returned vectors with indices {indices[:10]} for {count} texts"
            )
        data = sorted(data, key=lambda item: item["index"])
    return [item.get("embedding") for item in data]
