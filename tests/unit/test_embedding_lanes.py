"""Query embedding has its own lane: it never waits for an indexing batch, and concurrent queries
are embedded together in one batch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import anyio
import pytest
from support import eventually

from agent_brain_mcp.embeddings.base import EmbeddingIdentity, EmbeddingProvider

pytestmark = pytest.mark.anyio


class Gated(EmbeddingProvider):
    """Document batches block until released; query batches are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.release_documents = threading.Event()
        self.documents_started = threading.Event()
        self.query_batches: list[list[str]] = []
        self.fail_queries = False

    @property
    def identity(self) -> EmbeddingIdentity:
        return EmbeddingIdentity("test", "gated", 2)

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        if is_query:
            if self.fail_queries:
                raise RuntimeError("model exploded")
            self.query_batches.append(list(texts))
            return [[float(len(t)), 1.0] for t in texts]
        self.documents_started.set()
        self.release_documents.wait(10)
        return [[0.0, 1.0] for _ in texts]


async def test_a_query_is_answered_while_a_document_batch_is_still_running() -> None:
    provider = Gated()
    indexing = asyncio.create_task(provider.aembed_documents(["chunk one", "chunk two"]))
    await asyncio.to_thread(provider.documents_started.wait, 5)
    with anyio.fail_after(5):
        vector = await provider.aembed_query("where is the pool")
    assert vector == [17.0, 1.0] and not indexing.done()
    provider.release_documents.set()
    assert await indexing == [[0.0, 1.0], [0.0, 1.0]]


async def test_queries_arriving_together_share_batches_and_each_gets_its_own_vector() -> None:
    provider = Gated()
    provider.batch_size = 8
    texts = [f"q{'x' * i}" for i in range(20)]
    vectors = await asyncio.gather(*(provider.aembed_query(t) for t in texts))
    assert vectors == [[float(len(t)), 1.0] for t in texts]
    assert sorted(t for batch in provider.query_batches for t in batch) == sorted(texts)
    assert len(provider.query_batches) < len(texts) and max(map(len, provider.query_batches)) <= 8


async def test_a_failing_batch_fails_every_query_in_it_and_the_next_ones_work() -> None:
    provider = Gated()
    provider.fail_queries = True
    results = await asyncio.gather(*(provider.aembed_query(f"q{i}") for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    provider.fail_queries = False
    assert await provider.aembed_query("again") == [5.0, 1.0]


async def test_a_cancelled_query_does_not_strand_the_queries_batched_with_it() -> None:
    provider = Gated()
    original = provider._embed
    started = [threading.Event(), threading.Event()]  # the first batch, then any later one, is embedding
    release = [threading.Event(), threading.Event()]

    def gated(texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        later = started[0].is_set()
        started[later].set()
        release[later].wait(10)
        return original(texts, is_query=is_query)

    provider._embed = gated  # type: ignore[method-assign]
    blocker = asyncio.create_task(provider.aembed_query("blocker"))
    await asyncio.to_thread(started[0].wait, 5)  # "blocker" owns the lane; the next ones queue up behind it
    first = asyncio.create_task(provider.aembed_query("first"))
    others = [asyncio.create_task(provider.aembed_query(f"other{i}")) for i in range(3)]
    await eventually(lambda: _queued(provider, 4), timeout=5)
    release[0].set()
    await blocker
    await asyncio.to_thread(started[1].wait, 5)  # "first" now owns the lane, embedding itself and the others
    assert provider.query_batches == [["blocker"]]
    first.cancel()
    release[1].set()
    with anyio.fail_after(5):
        assert await asyncio.gather(*others) == [[6.0, 1.0]] * 3
    assert first.cancelled()


async def _queued(provider: EmbeddingProvider, count: int) -> bool | None:
    """Whether ``count`` queries wait for the lane."""
    return len(provider._pending_queries) == count or None
