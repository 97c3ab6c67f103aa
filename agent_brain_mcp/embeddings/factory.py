"""Build the embedding provider the config names; each provider's module is imported only when chosen."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from agent_brain_mcp.errors import ConfigError, UnknownProviderError

if TYPE_CHECKING:
    from agent_brain_mcp.config import EmbeddingSettings
    from agent_brain_mcp.embeddings.base import EmbeddingProvider

Builder = Callable[["EmbeddingSettings", Mapping[str, str]], "EmbeddingProvider"]


def _batch_size(settings: EmbeddingSettings) -> dict[str, int]:
    """Pass ``batch_size`` only if the config set it, so each provider keeps its own default otherwise."""
    return {"batch_size": settings.batch_size} if "batch_size" in settings.model_fields_set else {}


def _build_local(settings: EmbeddingSettings, env: Mapping[str, str]) -> EmbeddingProvider:
    from agent_brain_mcp.embeddings.local_onnx import LocalOnnxProvider

    return LocalOnnxProvider(batch_size=settings.batch_size)


def api_key_from_env(settings: EmbeddingSettings, env: Mapping[str, str]) -> str | None:
    """The key in ``embedding.api_key_env``, stripped of the newline a copy-paste leaves.

    Raises ``ConfigError`` for whitespace inside the key (never showing it).
    """
    raw = env.get(settings.api_key_env)
    key = raw.strip() if raw else None
    if key and any(ch.isspace() for ch in key):
        raise ConfigError(
            f"the env var {settings.api_key_env} (embedding.api_key_env) holds whitespace inside the key: "
            "check for a copy-paste error and set it to the key alone"
        )
    return key or None


def _build_openai(settings: EmbeddingSettings, env: Mapping[str, str]) -> EmbeddingProvider:
    from agent_brain_mcp.embeddings.openai import OpenAIProvider

    return OpenAIProvider(
        model=settings.model or "text-embedding-3-small",
        base_url=settings.base_url or "https://api.openai.com/v1",
        api_key=api_key_from_env(settings, env),
        dimensions=settings.dimension,
        timeout=settings.timeout_seconds,
        api_key_env=settings.api_key_env,
        **_batch_size(settings),
    )


def _build_ollama(settings: EmbeddingSettings, env: Mapping[str, str]) -> EmbeddingProvider:
    from agent_brain_mcp.embeddings.ollama import OllamaProvider

    return OllamaProvider(
        model=settings.model or "nomic-embed-text",
        base_url=settings.base_url or "http://localhost:11434",
        dimension=settings.dimension,
        timeout=settings.timeout_seconds,
        **_batch_size(settings),
    )


def _build_hash(settings: EmbeddingSettings, env: Mapping[str, str]) -> EmbeddingProvider:
    from agent_brain_mcp.embeddings.hashing import HashingProvider

    return HashingProvider(settings.dimension or 256, **_batch_size(settings))


_BUILDERS: dict[str, Builder] = {
    "local": _build_local,
    "openai": _build_openai,
    "ollama": _build_ollama,
    "hash": _build_hash,
}


# Dimensions of the models a provider uses when the config names none (without loading or asking it).
_DEFAULT_DIMENSIONS = {"local": 384, "hash": 256}
_OLLAMA_DIMENSIONS = {"nomic-embed-text": 768}


def known_dimension(settings: EmbeddingSettings) -> int | None:
    """The dimension of the vectors the configured model makes, when it is known without asking it
    (``embedding.dimension``, or a model whose dimension is published); None otherwise."""
    if settings.dimension:
        return settings.dimension
    if settings.provider == "openai":
        from agent_brain_mcp.embeddings.openai import KNOWN_DIMENSIONS

        return KNOWN_DIMENSIONS.get(settings.model or "text-embedding-3-small")
    if settings.provider == "ollama":
        return _OLLAMA_DIMENSIONS.get(settings.model or "nomic-embed-text")
    return _DEFAULT_DIMENSIONS.get(settings.provider)


def known_provider_names() -> list[str]:
    return sorted(_BUILDERS)


def create_embedding_provider(settings: EmbeddingSettings, env: Mapping[str, str] | None = None) -> EmbeddingProvider:
    """The provider ``settings.provider`` names (not yet loaded). ``env`` defaults to ``os.environ``."""
    builder = _BUILDERS.get(settings.provider)
    if builder is None:
        raise UnknownProviderError(
            f"unknown embedding provider {settings.provider!r}: embedding.provider must be one of "
            f"{', '.join(known_provider_names())}"
        )
    provider = builder(settings, os.environ if env is None else env)
    provider.query_cache_size = settings.query_cache_size
    return provider
