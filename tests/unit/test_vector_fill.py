"""The vectors phase keeps the model busy: a batch is written while the model embeds the next one.

On the in-memory store of tests/memory_backend.py, with the hashing model; events, not sleeps,
decide the order (a wait is bounded, so the old serial loop fails instead of hanging).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

import pytest
from memory_backend import MemoryBackend
from support import write_tree

from agent_brain_mcp.backends.base import PendingVector
from agent_brain_mcp.config import IndexingSettings
from agent_brain_mcp.embeddings.hashing import HashingProvider
from agent_brain_mcp.indexing.pipeline import Indexer

pytestmark = pytest.mark.anyio

FILES = 130  # one chunk each: three model calls (64, 64, 2: the pipeline's batch is 64 at least)
WAIT_S = 2.0


class Overlap:
    """Events shared by the model and the store: is a model call, or a write, under way?"""

    def __init__(self) -> None:
        self.embedding = asyncio.Event()
        self.writing = asyncio.Event()
        self.calls = 0
        self.overlapped = 0  # model calls (after the first) that ran while a batch was being written


class WatchedModel(HashingProvider):
    """Each call after the first waits (at most WAIT_S) for a write to be under way beside it."""

    def __init__(self, overlap: Overlap) -> None:
        super().__init__(32, batch_size=16)
        self.overlap = overlap

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        o = self.overlap
        o.calls += 1
        o.embedding.set()
        try:
            if o.calls > 1:
                try:
                    await asyncio.wait_for(o.writing.wait(), WAIT_S)
                    o.overlapped += 1
                except TimeoutError:
                    pass
            return await super().aembed_documents(texts)
        finally:
            o.embedding.clear()


class WatchedStore(MemoryBackend):
    """A write with more batches to come waits (at most WAIT_S) for the model to be embedding one."""

    def __init__(self, folder: Path, overlap: Overlap) -> None:
        super().__init__(folder)
        self.overlap = overlap

    async def fill_vectors(self, vectors: Sequence[tuple[PendingVector, Sequence[float]]]) -> int:
        o = self.overlap
        o.writing.set()
        try:
            if sum(s.vectors_pending for s in await self.stats()) > len(vectors):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(o.embedding.wait(), WAIT_S)
            return await super().fill_vectors(vectors)
        finally:
            o.writing.clear()


async def test_the_model_embeds_the_next_batch_while_the_previous_one_is_written(tmp_path: Path) -> None:
    project = write_tree(tmp_path / "project", {f"f{i:03d}.py": f"value_{i} = {i}\n" for i in range(FILES)})
    overlap = Overlap()
    backend = WatchedStore(tmp_path / "store", overlap)
    indexer = Indexer(backend, WatchedModel(overlap), IndexingSettings())

    result = await asyncio.wait_for(indexer.run(project, project), 20 * WAIT_S)

    assert result.chunks_written == FILES
    assert result.vectors_pending == 0
    assert sum(s.vectors_pending for s in await backend.stats()) == 0
    assert overlap.calls == 3
    assert overlap.overlapped == 2  # every call but the first ran while the batch before it was written
