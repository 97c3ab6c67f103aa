"""Embeddings from a local Ollama server (``POST /api/embed``, Ollama 0.3 or newer).

The ``ollama`` client does the HTTP; it has no retries of its own, so ``tenacity`` retries what may
pass (429, 5xx: a model still loading; a refused or dropped connection) with exponential backoff.
Both are imported when the provider first talks to the server, never at start-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agent_brain_mcp.embeddings._remote import (
    dropped,
    nonempty,
    normalise_vectors,
    redact_url,
    refused,
    too_slow,
    unreachable,
)
from agent_brain_mcp.embeddings.base import EmbeddingIdentity, EmbeddingProvider
from agent_brain_mcp.errors import EmbeddingError

if TYPE_CHECKING:
    import ollama

logger = logging.getLogger(__name__)

_PROBE_TEXT = "dimension probe"
MAX_RETRY_DELAY = 20.0


class OllamaProvider(EmbeddingProvider):
    """Sends batches to ``{base_url}/api/embed`` through the ``ollama`` client.

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
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if retries < 0 or retry_delay < 0:
            raise ValueError("retries and retry_delay must not be negative")
        self.batch_size = batch_size
        self._model = model
        self._dimension = dimension
        self._load_lock = threading.Lock()
        self._base_url = base_url.rstrip("/")
        self.display_url = redact_url(self._base_url)
        self._timeout = timeout
        self._retries = retries
        self._retry_delay = retry_delay
        self._client: ollama.Client | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OllamaProvider(model={self._model!r}, base_url={self.display_url!r})"

    @property
    def identity(self) -> EmbeddingIdentity:
        if self._dimension is None:
            self.load()
        assert self._dimension is not None
        return EmbeddingIdentity(provider="ollama", model=self._model, dimension=self._dimension)

    def load(self) -> None:
        self._open()
        if self._dimension is not None:
            return
        with self._load_lock:
            if self._dimension is None:
                self._embed([_PROBE_TEXT], is_query=False)
                logger.info("ollama model %s at %s has %s dimensions", self._model, self.display_url, self._dimension)

    def _open(self) -> ollama.Client:
        with self._client_lock:
            if self._client is None:
                import ollama

                self._client = ollama.Client(host=self._base_url, timeout=self._timeout)
            return self._client

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        embeddings = self._request(list(nonempty(texts)))
        vectors = normalise_vectors(embeddings, count=len(texts), dimension=self._dimension, where=self.display_url)
        if self._dimension is None:
            self._dimension = len(vectors[0])
        return vectors

    def _request(self, texts: list[str]) -> Any:
        """The reply's embeddings, retrying what may pass; every failure an ``EmbeddingError``."""
        import httpx
        import ollama
        import pydantic
        from tenacity import Retrying, before_sleep_log, retry_if_exception, stop_after_attempt, wait_exponential

        client = self._open()
        retrying = Retrying(
            stop=stop_after_attempt(self._retries + 1),
            wait=wait_exponential(multiplier=self._retry_delay, max=MAX_RETRY_DELAY),
            retry=retry_if_exception(_may_pass),
            before_sleep=before_sleep_log(logger, logging.WARNING),
            reraise=True,
        )
        where = self.display_url
        try:
            return retrying(client.embed, model=self._model, input=texts).embeddings
        except ollama.ResponseError as exc:
            raise EmbeddingError(self._explain(exc.status_code, exc.error)) from None
        except ConnectionError as exc:  # the client's own, for a refused connection
            raise EmbeddingError(unreachable(where)) from exc
        except httpx.TimeoutException as exc:
            raise EmbeddingError(too_slow(where, self._timeout, 1)) from exc
        except httpx.TransportError as exc:
            raise EmbeddingError(dropped(where, exc)) from exc
        except pydantic.ValidationError:
            raise EmbeddingError(
                f"the Ollama server at {where} sent a reply without 'embeddings': is it Ollama 0.3 or newer?"
            ) from None

    def _explain(self, status: int, error: str) -> str:
        where = self.display_url
        if status != 404:
            return refused(f"{where}/api/embed", status, error)
        lowered = error.lower()
        if "model" in lowered and "not found" in lowered:
            return (
                f"the Ollama server at {where} does not have the model {self._model!r}: "
                f"run `ollama pull {self._model}` (or change embedding.model)"
            )
        return (
            f"the server at {where} has no /api/embed endpoint (HTTP 404): is it Ollama 0.3 "
            "or newer? check embedding.base_url"
        )

    def close(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client._client.close()  # ollama.Client has no close() of its own: its httpx client


def _may_pass(exc: BaseException) -> bool:
    """A busy or restarting server (429, 5xx; refused or dropped connections) may answer the next try."""
    import httpx
    import ollama

    if isinstance(exc, ollama.ResponseError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, ConnectionError | httpx.RemoteProtocolError | httpx.ReadError)
