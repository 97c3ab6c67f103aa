"""Repeated queries are free: recent query vectors are kept by (model identity, exact text), bounded."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agent_brain_mcp.config import EmbeddingSettings
from agent_brain_mcp.embeddings.base import EmbeddingIdentity, EmbeddingProvider
from agent_brain_mcp.embeddings.factory import create_embedding_provider

pytestmark = pytest.mark.anyio


class Counting(EmbeddingProvider):
    """Query vectors that name the model that made them; every model call is recorded."""

    def __init__(self, cache_size: int = 512) -> None:
        super().__init__()
        self.query_cache_size = cache_size
        self.model = "one"
        self.calls: list[str] = []

    @property
    def identity(self) -> EmbeddingIdentity:
        return EmbeddingIdentity("test", self.model, 2)

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        self.calls.extend(texts)
        return [[float(len(t)), 1.0 if self.model == "one" else 2.0] for t in texts]


async def test_a_repeated_query_is_answered_without_calling_the_model() -> None:
    provider = Counting()
    first = await provider.aembed_query("where is the pool")
    again = await provider.aembed_query("where is the pool")
    assert again == first and provider.calls == ["where is the pool"]


async def test_only_the_exact_same_text_is_a_hit() -> None:
    provider = Counting()
    for text in ("where is the pool", "where is the pool ", "Where is the pool"):
        await provider.aembed_query(text)
    assert len(provider.calls) == 3


async def test_the_cache_keeps_the_most_recently_used_queries_within_its_bound() -> None:
    provider = Counting(cache_size=2)
    await provider.aembed_query("a")
    await provider.aembed_query("b")
    await provider.aembed_query("a")  # a is now the most recent: b is the one to go
    await provider.aembed_query("c")
    await provider.aembed_query("a")
    await provider.aembed_query("b")
    assert provider.calls == ["a", "b", "c", "b"]
    assert len(provider._query_cache) == 2


async def test_a_changed_model_identity_never_gets_the_old_models_vector() -> None:
    provider = Counting()
    old = await provider.aembed_query("retry policy")
    provider.model = "two"
    new = await provider.aembed_query("retry policy")
    assert old != new and provider.calls == ["retry policy", "retry policy"]


async def test_a_cache_size_of_zero_embeds_every_query() -> None:
    provider = Counting(cache_size=0)
    for _ in range(3):
        await provider.aembed_query("same")
    assert provider.calls == ["same"] * 3


async def test_a_caller_changing_its_vector_does_not_change_the_cached_one() -> None:
    provider = Counting()
    vector = await provider.aembed_query("q")
    vector[0] = 99.0
    assert await provider.aembed_query("q") == [1.0, 1.0]


def test_the_config_sets_the_cache_size_of_the_provider() -> None:
    provider = create_embedding_provider(EmbeddingSettings(provider="hash", query_cache_size=7))
    assert provider.query_cache_size == 7
