"""Embeddings from OpenAI or any server that speaks its ``/embeddings`` API (vLLM, LM Studio, TEI...).

The ``openai`` client does the HTTP, the retries (429, 5xx, dropped connections and timeouts, with
exponential backoff that honours ``Retry-After``) and the ``Authorization`` header; it is imported
when the provider first talks to the server, never at start-up. Its errors become ``EmbeddingError``
messages that say which config key to fix, with the API key scrubbed from them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from agent_brain_mcp.embeddings._remote import (
    dropped,
    nonempty,
    normalise_vectors,
    redact_url,
    refused,
    short_body,
    too_slow,
    unreachable,
)
from agent_brain_mcp.embeddings.base import EmbeddingIdentity, EmbeddingProvider
from agent_brain_mcp.errors import EmbeddingError

if TYPE_CHECKING:
    import openai

logger = logging.getLogger(__name__)

KNOWN_DIMENSIONS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}

_PROBE_TEXT = "dimension probe"


class OpenAIProvider(EmbeddingProvider):
    """Sends batches to ``{base_url}/embeddings`` through the ``openai`` client; the key (if any) goes
    only in the Authorization header.

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
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if dimensions is not None and dimensions < 1:
            raise ValueError("dimensions must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.batch_size = batch_size
        self._model = model
        self._dimensions = dimensions
        self._dimension: int | None = dimensions or KNOWN_DIMENSIONS.get(model)
        self._load_lock = threading.Lock()
        self._base_url = base_url.rstrip("/")
        self.display_url = redact_url(self._base_url)
        self._api_key = api_key or None
        self._timeout = timeout
        self._retries = retries
        self._api_key_env = api_key_env
        self._needs_key = urlsplit(base_url).hostname == "api.openai.com"
        self._client: openai.OpenAI | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenAIProvider(model={self._model!r}, base_url={self.display_url!r})"

    @property
    def identity(self) -> EmbeddingIdentity:
        if self._dimension is None:
            self.load()
        assert self._dimension is not None
        return EmbeddingIdentity(provider="openai", model=self._model, dimension=self._dimension)

    def load(self) -> None:
        self._refuse_without_a_key()
        self._open()
        if self._dimension is not None:
            return
        with self._load_lock:
            if self._dimension is None:
                self._embed([_PROBE_TEXT], is_query=False)
                logger.info(
                    "embedding model %s at %s has %s dimensions", self._model, self.display_url, self._dimension
                )

    def _open(self) -> openai.OpenAI:
        """The client, created once (thread-safe). A query string in ``base_url`` is sent with every request."""
        with self._client_lock:
            if self._client is None:
                import openai

                parts = urlsplit(self._base_url)
                self._client = openai.OpenAI(
                    # Never OPENAI_API_KEY from the environment: only the key embedding.api_key_env names.
                    # Without one, a placeholder the requests omit (below): a local server gets no header.
                    api_key=self._api_key or "unused",
                    organization="",
                    project="",
                    base_url=urlunsplit(parts._replace(query="")),
                    default_query=dict(parse_qsl(parts.query)) or None,
                    timeout=self._timeout,
                    max_retries=self._retries,
                )
            return self._client

    def _refuse_without_a_key(self) -> None:
        """OpenAI's own API always wants a key: say so at once instead of retrying the network.

        Any other server may need none (a local one), so there only a refusal mentions the key.
        """
        if self._needs_key and not self._api_key:
            raise EmbeddingError(
                f"embedding.provider is openai with base_url {self.display_url}, but the env var "
                f"{self._api_key_env or 'named by embedding.api_key_env'} is not set: export your API key in it "
                "(embedding.api_key_env names the variable), or point embedding.base_url at a local "
                "OpenAI-compatible server that needs no key"
            )

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        self._refuse_without_a_key()
        client = self._open()
        import openai

        extra: dict[str, Any] = {} if self._dimensions is None else {"dimensions": self._dimensions}
        if not self._api_key:
            extra["extra_headers"] = {"Authorization": openai.Omit()}

        try:
            # The raw reply: our own checks below say what is wrong with a malformed one. "float": what
            # every OpenAI-compatible server speaks (the client would ask for base64 otherwise).
            raw = client.embeddings.with_raw_response.create(
                model=self._model, input=nonempty(texts), encoding_format="float", **extra
            )
        except openai.APIError as exc:
            raise EmbeddingError(self._scrub(self._explain(exc))) from None
        try:
            reply = json.loads(raw.http_response.content)
        except ValueError:
            text = short_body(raw.http_response.text)
            raise EmbeddingError(
                self._scrub(f"the embedding server at {self.display_url} sent a reply that is not JSON: {text}")
            ) from None
        vectors = normalise_vectors(
            _ordered_embeddings(reply, len(texts), self.display_url),
            count=len(texts),
            dimension=self._dimension,
            where=self.display_url,
        )
        if self._dimension is None:
            self._dimension = len(vectors[0])
        return vectors

    def _explain(self, exc: openai.APIError) -> str:
        """What went wrong and which config key fixes it (``from None`` above: the client's own text may hold the key)."""
        import openai

        where = self.display_url
        if isinstance(exc, openai.APITimeoutError):
            return too_slow(where, self._timeout, self._retries + 1)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__
            if cause is not None and type(cause).__name__ in ("ConnectError", "ConnectTimeout"):
                return unreachable(where)
            return dropped(where, cause or exc)
        if not isinstance(exc, openai.APIStatusError):
            return f"the embedding server at {where} sent a reply the client could not read: {exc}"
        status, body = exc.status_code, exc.response.text
        shown = f"{where}/embeddings"
        if status in (401, 403):
            return f"{self._auth_message()} (HTTP {status} from {shown})"
        if status == 404:
            return (
                f"the embedding server at {where} returned HTTP 404 for /embeddings with model {self._model!r}: "
                f"check embedding.base_url (it usually ends in /v1) and embedding.model ({short_body(body)})"
            )
        return refused(shown, status, body)

    def _auth_message(self) -> str:
        env_name = f" ({self._api_key_env})" if self._api_key_env else ""
        if self._api_key:
            return (
                "the server refused the API key: set the env var named by embedding.api_key_env"
                f"{env_name} to a valid key"
            )
        return (
            f"the server wants an API key and none was sent: set the env var named by embedding.api_key_env{env_name}"
        )

    def _scrub(self, message: str) -> str:
        return message.replace(self._api_key, "***") if self._api_key else message

    def close(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


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
