"""HTTP plumbing shared by the OpenAI and Ollama providers.

One lazily-opened ``httpx.Client``, a bounded retry loop for 429/5xx and connection
failures, error messages that say what to fix, and the vector checks/normalisation both
providers need. The API key is only ever placed in the ``Authorization`` header: every
message built here is scrubbed of it, and it is never logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from agent_brain_mcp.errors import EmbeddingError

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

BODY_SNIPPET_CHARS = 300

# (status, body text) -> a tailored error message, or None for the generic one.
ErrorHook = Callable[[int, str], "str | None"]


def redact_url(url: str) -> str:
    """The URL without any ``user:password@`` part, fit for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def short_body(text: str, limit: int = BODY_SNIPPET_CHARS) -> str:
    """The useful part of an error body: OpenAI/Ollama ``error`` messages, else the raw text, trimmed."""
    message = text.strip()
    try:
        parsed = json.loads(message)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "error" in parsed:
        error = parsed["error"]
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message = error["message"]
        elif isinstance(error, str):
            message = error
    message = " ".join(message.split())
    if not message:
        return "(empty body)"
    return message if len(message) <= limit else message[: limit - 3] + "..."


class JsonPoster:
    """POSTs JSON to one server with bounded retries, turning every failure into ``EmbeddingError``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        api_key: str | None = None,
        retries: int = 2,
        retry_delay: float = 0.5,
        max_retry_delay: float = 20.0,
        auth_message: str = "the server refused the request: check its access settings",
        error_hook: ErrorHook | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if retries < 0 or retry_delay < 0 or max_retry_delay < 0:
            raise ValueError("retries and retry delays must not be negative")
        self._base_url = base_url.rstrip("/")
        self.display_url = redact_url(self._base_url)
        self._timeout = timeout
        self._api_key = api_key or None
        self._retries = retries
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._auth_message = auth_message
        self._error_hook = error_hook
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:  # never show the key
        return f"JsonPoster({self.display_url!r})"

    def open(self) -> httpx.Client:
        """Create the client once (idempotent, thread-safe)."""
        with self._client_lock:
            if self._client is None:
                import httpx

                headers = {"Content-Type": "application/json", "Accept": "application/json"}
                if self._api_key:
                    headers["Authorization"] = f"Bearer {self._api_key}"
                self._client = httpx.Client(timeout=self._timeout, headers=headers)
            return self._client

    def close(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def scrub(self, message: str) -> str:
        """Remove the API key from a message, whatever put it there."""
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return message

    def error(self, message: str) -> EmbeddingError:
        return EmbeddingError(self.scrub(message))

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST ``payload`` to ``base_url + path`` and return the decoded JSON reply."""
        import httpx

        client = self.open()
        url = _join(self._base_url, path)
        shown = _join(self.display_url, path)
        attempts = self._retries + 1
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            try:
                response = client.post(url, json=payload)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt < attempts:
                    self._wait(attempt, f"cannot connect ({type(exc).__name__})", None)
                    continue
                raise self.error(
                    f"cannot reach the embedding server at {self.display_url}: is it running? check embedding.base_url"
                ) from exc
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if attempt < attempts:
                    self._wait(attempt, f"connection dropped ({type(exc).__name__})", None)
                    continue
                raise self.error(
                    f"the embedding server at {self.display_url} dropped the connection "
                    f"({type(exc).__name__}: {exc}); check that embedding.base_url points at an "
                    "embedding API"
                ) from exc
            except httpx.TimeoutException as exc:
                raise self.error(
                    f"the embedding server at {self.display_url} did not answer within {self._timeout:g}s: "
                    "raise embedding.timeout_seconds or lower embedding.batch_size"
                ) from exc
            except httpx.HTTPError as exc:
                raise self.error(
                    f"the request to the embedding server at {self.display_url} failed: {type(exc).__name__}: {exc}"
                ) from exc

            status = response.status_code
            if 200 <= status < 300:
                try:
                    return response.json()
                except ValueError as exc:
                    raise self.error(
                        f"the embedding server at {shown} sent a reply that is not JSON: {short_body(response.text)}"
                    ) from exc

            body = response.text
            if status in (401, 403):
                raise self.error(f"{self._auth_message} (HTTP {status} from {shown})")
            if self._error_hook is not None:
                tailored = self._error_hook(status, body)
                if tailored:
                    raise self.error(tailored)
            if (status == 429 or status >= 500) and attempt < attempts:
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
                self._wait(attempt, f"HTTP {status}", retry_after)
                continue
            hint = ""
            if status == 429:
                hint = " (rate limited: lower embedding.batch_size or try again later)"
            raise self.error(f"the embedding server at {shown} returned HTTP {status}{hint}: {short_body(body)}")
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises

    def _wait(self, attempt: int, reason: str, retry_after: float | None) -> None:
        delay = self._retry_delay * (2 ** (attempt - 1))
        if retry_after is not None:
            delay = max(delay, retry_after)
        delay = min(delay, self._max_retry_delay)
        logger.warning(
            "embedding request to %s failed (%s); retrying in %.2fs (attempt %d of %d)",
            self.display_url,
            reason,
            delay,
            attempt + 1,
            self._retries + 1,
        )
        if delay > 0:
            time.sleep(delay)


def _join(base_url: str, path: str) -> str:
    """``path`` appended to the URL's path, before any query (``.../v1?api-key=...`` + ``/embeddings``)."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + path))


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
    return seconds if seconds >= 0 else None


def normalise_vectors(vectors: Any, *, count: int, dimension: int | None, where: str) -> list[list[float]]:
    """Check ``count`` vectors of one length (``dimension`` if known) and L2-normalise them.

    ``where`` names the server in messages. Zero vectors stay zero.
    """
    if not isinstance(vectors, list):
        raise EmbeddingError(f"the embedding server at {where} sent no list of vectors")
    if len(vectors) != count:
        raise EmbeddingError(f"the embedding server at {where} returned {len(vectors)} vectors for {count} texts")
    if count == 0:
        return []
    lengths = {len(v) if isinstance(v, list) else -1 for v in vectors}
    if -1 in lengths:
        raise EmbeddingError(f"the embedding server at {where} sent a vector that is not a list of numbers")
    if len(lengths) != 1:
        raise EmbeddingError(
            f"the embedding server at {where} returned vectors of different lengths: {sorted(lengths)}"
        )
    got = lengths.pop()
    if got == 0:
        raise EmbeddingError(f"the embedding server at {where} returned empty vectors")
    if dimension is not None and got != dimension:
        raise EmbeddingError(
            f"the embedding server at {where} returned {got}-dimensional vectors, expected {dimension}: "
            "set embedding.dimension to match the model (and re-index if the model changed)"
        )
    try:
        array = np.asarray(vectors, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EmbeddingError(f"the embedding server at {where} sent a vector with non-numeric values") from exc
    if not np.isfinite(array).all():
        raise EmbeddingError(f"the embedding server at {where} sent a vector containing NaN or infinity")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: list[list[float]] = (array / norms).tolist()
    return normalised


def nonempty(texts: Sequence[str]) -> list[str]:
    """Embedding APIs reject empty strings: send a single space instead."""
    return [text if text else " " for text in texts]
