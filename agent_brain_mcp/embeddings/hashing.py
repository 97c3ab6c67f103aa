"""A deterministic feature-hashing embedder, for tests only: no model, no network, stable across runs.

Texts are split into lower-case word tokens (``getUserName`` and ``get_user_name`` both give
``get``, ``user``, ``name`` plus the joined ``getusername``); each token is hashed with
BLAKE2b into a signed bucket and the counts are L2-normalised, so texts sharing words get
similar vectors. It knows nothing about meaning.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

from agent_brain_mcp.embeddings.base import EmbeddingIdentity, EmbeddingProvider

MODEL_NAME = "feature-hash-v1"

_WORD = re.compile(r"\w+")
_LOWER_THEN_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_UPPER_RUN_THEN_WORD = re.compile(r"([A-Z]+)([A-Z][a-z])")
_EMPTY_TOKEN = "\x00empty"  # noqa: S105 - not a password; so an empty text still gets a (fixed) unit vector


def hashed_words(text: str) -> list[str]:
    """The words that are hashed: lower-case, snake_case and camelCase identifiers split into parts.

    Not the keyword tokens of ``indexing/keywords.py`` (no stemming, no stop words): a test embedder only.
    """
    tokens: list[str] = []
    for word in _WORD.findall(text):
        spaced = _UPPER_RUN_THEN_WORD.sub(r"\1 \2", _LOWER_THEN_UPPER.sub(r"\1 \2", word))
        parts = [part.lower() for part in re.split(r"[\s_]+", spaced) if part]
        tokens.extend(parts)
        if len(parts) > 1:
            tokens.append("".join(parts))
    return tokens


def _bucket(token: str, dimension: int) -> tuple[int, float]:
    value = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
    sign = 1.0 if value >> 63 else -1.0
    return value % dimension, sign


class HashingProvider(EmbeddingProvider):
    """Feature-hashing "embeddings" (provider ``hash``, model ``feature-hash-v1``)."""

    def __init__(self, dimension: int = 256, batch_size: int = 64) -> None:
        super().__init__()
        if dimension < 1:
            raise ValueError("dimension must be at least 1")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.dimension = dimension
        self.batch_size = batch_size

    @property
    def identity(self) -> EmbeddingIdentity:
        return EmbeddingIdentity(provider="hash", model=MODEL_NAME, dimension=self.dimension)

    def embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for token in hashed_words(text) or [_EMPTY_TOKEN]:
            index, sign = _bucket(token, self.dimension)
            vector[index] += sign
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:  # every token cancelled out: fall back to the fixed empty-text vector
            index, sign = _bucket(_EMPTY_TOKEN, self.dimension)
            vector[index] = sign
            norm = 1.0
        return [x / norm for x in vector]

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        return [self.embed_one(text) for text in texts]
