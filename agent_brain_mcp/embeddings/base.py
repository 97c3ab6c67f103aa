"""The embedding-provider interface every provider implements."""

from __future__ import annotations

import abc
import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class EmbeddingIdentity:
    """What an index records about the model that wrote it; a mismatch means garbage results."""

    provider: str
    model: str
    dimension: int

    def describe(self) -> str:
        return f"{self.provider}:{self.model} ({self.dimension} dims)"


class EmbeddingProvider(abc.ABC):
    """Turns texts into L2-normalised vectors.

    Subclasses implement the blocking ``_embed`` (called off the event loop) and ``identity``.
    ``load`` does the slow one-time work (reading weights, checking a server) so that the
    lifespan's warm-up can do it in the background.
    """

    batch_size: int = 32
    # Query vectors kept (least recently used dropped first); 0 turns the cache off.
    query_cache_size: int = 512

    def __init__(self) -> None:
        # Documents: one embedding job at a time (a local model already uses every core, and remote
        # providers get their parallelism from batching). Queries have a lane of their own, so a
        # search never waits for an indexing run's batch (it briefly shares the cores with it
        # instead); queries that arrive together are embedded together, in one batch.
        self._lock = asyncio.Lock()
        self._query_lock = asyncio.Lock()
        self._pending_queries: list[tuple[str, asyncio.Future[list[float]]]] = []
        # Agents repeat and refine queries: a repeated one costs a dictionary lookup, not a model call.
        # Keyed by the model's identity too, so a provider whose identity is settled at load (a probed
        # dimension) never answers with a vector of the old one.
        self._query_cache: OrderedDict[tuple[EmbeddingIdentity, str], tuple[float, ...]] = OrderedDict()

    @property
    @abc.abstractmethod
    def identity(self) -> EmbeddingIdentity:
        """Provider, model and dimension, as recorded in the index."""

    def load(self) -> None:  # noqa: B027 - optional hook
        """Do the slow one-time set-up (blocking). Default: nothing to do."""

    @abc.abstractmethod
    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        """Embed one batch (blocking). Must return one vector per text."""

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed many texts in batches of ``batch_size`` (blocking)."""
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(self._embed(texts[start : start + self.batch_size], is_query=False))
        return out

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts off the event loop."""
        async with self._lock:
            return await asyncio.to_thread(self.embed_documents, list(texts))

    async def aembed_query(self, text: str) -> list[float]:
        """One query's vector: from the cache when this exact text was embedded lately, else embedded
        off the event loop, in one batch with the queries waiting alongside it."""
        # ``identity`` is cheap once a vector was made (the model is loaded); an empty cache skips it.
        cached = self._query_cache.get((self.identity, text)) if self._query_cache else None
        if cached is not None:
            self._query_cache.move_to_end((self.identity, text))
            return list(cached)
        vector = await self._embed_query_batched(text)
        if self.query_cache_size > 0:
            self._query_cache[(self.identity, text)] = tuple(vector)
            while len(self._query_cache) > self.query_cache_size:
                self._query_cache.popitem(last=False)
        return vector

    async def _embed_query_batched(self, text: str) -> list[float]:
        future: asyncio.Future[list[float]] = asyncio.get_running_loop().create_future()
        self._pending_queries.append((text, future))
        async with self._query_lock:
            if not future.done():  # nobody took it along yet: embed it and those waiting with it
                batch = self._pending_queries[: self.batch_size]
                del self._pending_queries[: self.batch_size]
                try:
                    vectors = await asyncio.to_thread(self._embed, [t for t, _ in batch], is_query=True)
                except asyncio.CancelledError:
                    self._pending_queries[:0] = [item for item in batch if item[1] is not future]
                    raise
                except Exception as exc:  # noqa: BLE001 - handed to every caller in the batch
                    for _, waiting in batch:
                        if not waiting.done():
                            waiting.set_exception(exc)
                else:
                    for (_, waiting), vector in zip(batch, vectors, strict=True):
                        if not waiting.done():
                            waiting.set_result(vector)
        return await future

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP clients, sessions)."""
