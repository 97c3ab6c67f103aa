"""What the OpenAI and Ollama providers share around their client libraries.

The clients (``openai``, ``ollama``) do the HTTP, the retries and the backoff; this module keeps
the parts that are ours: URLs and error bodies fit for messages (no ``user:password@``, trimmed),
and the checks every reply gets (one vector per text, one length, the expected dimension, finite
numbers) before the vectors are L2-normalised.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from agent_brain_mcp.errors import EmbeddingError

BODY_SNIPPET_CHARS = 300


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


def unreachable(where: str) -> str:
    return f"cannot reach the embedding server at {where}: is it running? check embedding.base_url"


def dropped(where: str, exc: BaseException) -> str:
    return (
        f"the embedding server at {where} dropped the connection ({type(exc).__name__}: {exc}); "
        "check that embedding.base_url points at an embedding API"
    )


def too_slow(where: str, timeout: float, attempts: int) -> str:
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    return (
        f"the embedding server at {where} did not answer within {timeout:g}s{tries}: "
        "raise embedding.timeout_seconds or lower embedding.batch_size"
    )


def refused(where: str, status: int, body: str) -> str:
    """The generic message for an HTTP error status (after any retries)."""
    hint = " (rate limited: lower embedding.batch_size or try again later)" if status == 429 else ""
    return f"the embedding server at {where} returned HTTP {status}{hint}: {short_body(body)}"


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
