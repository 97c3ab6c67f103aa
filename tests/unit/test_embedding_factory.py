"""Choosing and building the embedding provider from the config."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from agent_brain_mcp.config import EmbeddingSettings
from agent_brain_mcp.embeddings import EmbeddingProvider, create_embedding_provider
from agent_brain_mcp.embeddings.hashing import HashingProvider
from agent_brain_mcp.embeddings.ollama import OllamaProvider
from agent_brain_mcp.embeddings.openai import OpenAIProvider
from agent_brain_mcp.errors import UnknownProviderError


def test_unknown_provider_error_lists_the_known_names() -> None:
    settings = EmbeddingSettings.model_construct(provider="word2vec")
    with pytest.raises(UnknownProviderError) as caught:
        create_embedding_provider(settings, env={})
    message = str(caught.value)
    assert "word2vec" in message
    for name in ("local", "openai", "ollama", "hash"):
        assert name in message


def test_hash_provider_uses_the_configured_dimension() -> None:
    provider = create_embedding_provider(EmbeddingSettings(provider="hash", dimension=64), env={})
    assert isinstance(provider, HashingProvider)
    assert provider.identity.dimension == 64


def test_hash_provider_defaults_to_256_dimensions() -> None:
    provider = create_embedding_provider(EmbeddingSettings(provider="hash"), env={})
    assert provider.identity.dimension == 256


def test_openai_provider_uses_openai_defaults_and_the_key_from_the_named_env_var() -> None:
    provider = create_embedding_provider(
        EmbeddingSettings(provider="openai", api_key_env="MY_EMBED_KEY"), env={"MY_EMBED_KEY": "sk-from-env"}
    )
    assert isinstance(provider, OpenAIProvider)
    assert provider.identity.model == "text-embedding-3-small"
    assert provider.identity.dimension == 1536
    assert provider.display_url == "https://api.openai.com/v1"
    assert provider._api_key == "sk-from-env"
    assert provider.batch_size == 256, "an unset batch_size keeps the provider's own default"
    assert "sk-from-env" not in repr(provider)


def test_openai_provider_without_the_env_var_sends_no_key() -> None:
    provider = create_embedding_provider(
        EmbeddingSettings(provider="openai", base_url="http://localhost:8080/v1", model="bge-small", dimension=384),
        env={},
    )
    assert isinstance(provider, OpenAIProvider)
    assert provider._api_key is None
    assert provider.identity.dimension == 384
    assert provider.display_url == "http://localhost:8080/v1"


def test_openai_provider_passes_batch_size_and_timeout_when_configured() -> None:
    provider = create_embedding_provider(EmbeddingSettings(provider="openai", batch_size=10, timeout_seconds=5), env={})
    assert provider.batch_size == 10
    assert provider._timeout == 5


def test_ollama_provider_uses_ollama_defaults() -> None:
    provider = create_embedding_provider(EmbeddingSettings(provider="ollama", dimension=768), env={})
    assert isinstance(provider, OllamaProvider)
    assert provider.identity.model == "nomic-embed-text"
    assert provider.identity.dimension == 768
    assert provider.display_url == "http://localhost:11434"


def test_ollama_provider_takes_model_and_base_url_from_the_config() -> None:
    provider = create_embedding_provider(
        EmbeddingSettings(provider="ollama", model="mxbai-embed-large", base_url="http://gpu:11434", dimension=1024),
        env={},
    )
    assert provider.identity.model == "mxbai-embed-large"
    assert provider.display_url == "http://gpu:11434"


def test_every_provider_is_an_embedding_provider() -> None:
    for settings in (
        EmbeddingSettings(provider="hash"),
        EmbeddingSettings(provider="openai"),
        EmbeddingSettings(provider="ollama"),
    ):
        assert isinstance(create_embedding_provider(settings, env={}), EmbeddingProvider)


@pytest.mark.skipif(
    importlib.util.find_spec("agent_brain_mcp.embeddings.local_onnx") is None,
    reason="the local ONNX provider module is not written yet",
)
def test_local_provider_builds_the_onnx_provider_without_loading_the_model() -> None:
    provider = create_embedding_provider(EmbeddingSettings(provider="local", batch_size=8), env={})
    assert type(provider).__name__ == "LocalOnnxProvider"


def test_importing_the_package_loads_no_provider_module_and_no_http_library() -> None:
    code = (
        "import sys, agent_brain_mcp.embeddings as e; "
        "heavy = [m for m in ('httpx', 'numpy', 'onnxruntime', 'openai', 'ollama', 'agent_brain_mcp.embeddings.openai', "
        "'agent_brain_mcp.embeddings.ollama', 'agent_brain_mcp.embeddings.local_onnx') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PYTHONPATH": ":".join(sys.path)},
    )
    assert result.stdout.strip() == ""
