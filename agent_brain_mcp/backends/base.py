"""The storage interface: every backend keeps a file manifest and a chunk index it ranks two ways.

``Backend`` = ``Manifest`` (files, roots, metadata) + ``ChunkIndex`` (chunks and searches) + a
lifecycle. The values passed around are in ``records.py``.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from agent_brain_mcp.backends.records import (
    BackendInfo,
    ChunkRecord,
    FileRecord,
    FileWrite,
    PendingVector,
    RootStats,
    ScoredChunk,
    SearchFilters,
)
from agent_brain_mcp.backends.store_rules import IDENTITY_KEYS, identity_from_meta, identity_meta, pipeline_version_key
from agent_brain_mcp.embeddings.base import EmbeddingIdentity
from agent_brain_mcp.fusion import reciprocal_rank_fusion

if TYPE_CHECKING:
    from agent_brain_mcp.backends.vector_store import VectorStore

__all__ = [
    "Backend",
    "BackendInfo",
    "ChunkIndex",
    "ChunkRecord",
    "FileRecord",
    "FileWrite",
    "Manifest",
    "PendingVector",
    "RootStats",
    "ScoredChunk",
    "SearchFilters",
]


class Manifest(abc.ABC):
    """The first job of a store: what is indexed, as files (the manifest), roots and the index's metadata."""

    @abc.abstractmethod
    async def read_meta(self, key: str) -> str | None:
        """A value from the index's own metadata; prefer the typed accessors below."""

    @abc.abstractmethod
    async def write_meta(self, values: dict[str, str]) -> None: ...

    async def get_identity(self) -> EmbeddingIdentity | None:
        """The embedding model the index was built with, or None for an empty index."""
        return identity_from_meta({key: await self.read_meta(key) for key in IDENTITY_KEYS})

    async def set_identity(self, identity: EmbeddingIdentity) -> None:
        await self.write_meta(identity_meta(identity))

    async def pipeline_version(self, root: str) -> str | None:
        """The chunker/tokeniser version ``root`` was indexed with (``indexing/pipeline.py``), or None."""
        return await self.read_meta(pipeline_version_key(root))

    async def set_pipeline_version(self, root: str, version: str) -> None:
        await self.write_meta({pipeline_version_key(root): version})

    @abc.abstractmethod
    async def roots(self) -> list[str]: ...

    @abc.abstractmethod
    async def file_records(self, root: str, scope: str = "") -> dict[str, FileRecord]:
        """The manifest of ``root``, limited to paths under ``scope`` (a relative folder or file) if given."""

    @abc.abstractmethod
    async def touch_files(self, root: str, records: Sequence[FileRecord]) -> None:
        """Update size/mtime of files whose content did not change."""

    @abc.abstractmethod
    async def stats(self) -> list[RootStats]: ...


class ChunkIndex(abc.ABC):
    """The second job: the chunks of those files, written with their manifest records, and searched."""

    @abc.abstractmethod
    async def write_files(self, root: str, writes: Sequence[FileWrite]) -> None:
        """Replace each file's chunks with the new ones and record the file (one batch, manifest last)."""

    @abc.abstractmethod
    async def pending_vectors(self, limit: int) -> list[PendingVector]:
        """Up to ``limit`` chunks (of every root) whose vector is pending, oldest write first."""

    @abc.abstractmethod
    async def fill_vectors(self, vectors: Sequence[tuple[PendingVector, Sequence[float]]]) -> int:
        """Store the vectors of pending chunks; a chunk rewritten or removed since it was read is
        left alone (its new text has its own pending vector). Returns the vectors stored."""

    @abc.abstractmethod
    async def remove_files(self, root: str, rel_paths: Sequence[str]) -> int:
        """Delete files and their chunks; returns the number of chunks removed."""

    @abc.abstractmethod
    async def remove_root(self, root: str) -> int:
        """``remove_files`` for every file of ``root``, and the root itself."""

    @abc.abstractmethod
    async def reset(self) -> None:
        """Drop every chunk, file record and the recorded identity."""

    @abc.abstractmethod
    async def finish_run(self, root: str) -> None:
        """Called after an indexing run: refresh derived indexes, record the time."""

    @abc.abstractmethod
    async def vector_search(
        self, embedding: Sequence[float], top_k: int, filters: SearchFilters
    ) -> list[ScoredChunk]: ...

    @abc.abstractmethod
    async def keyword_search(self, query: str, top_k: int, filters: SearchFilters) -> list[ScoredChunk]: ...

    async def hybrid_search(
        self,
        embedding: Sequence[float],
        query: str,
        top_k: int,
        filters: SearchFilters,
        *,
        alpha: float,
        rrf_k: int,
        candidates: int,
    ) -> list[ScoredChunk]:
        """Both rankings fused by reciprocal rank; backends that can do it in one query override this."""
        vector = await self.vector_search(embedding, candidates, filters)
        keyword = await self.keyword_search(query, candidates, filters)
        return reciprocal_rank_fusion(vector, keyword, top_k=top_k, alpha=alpha, k=rrf_k)


class Backend(Manifest, ChunkIndex):
    """A long-lived store, opened once per server process and closed on shutdown: both jobs, plus
    its lifecycle and the writer lock.

    Writes are per batch of whole files and idempotent: replaying a batch after a crash gives the
    same state, so the manifest is always updated last. ``tests/memory_backend.py`` is the smallest
    complete implementation (it passes the contract suite).
    """

    name: str = "abstract"

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def info(self) -> BackendInfo: ...

    def private_paths(self) -> list[Path]:
        """Folders this backend writes to; the indexer never indexes them."""
        return []

    def vector_store(self) -> VectorStore | None:
        """Where vectors are kept by (model, text) so that no text is embedded twice (None: nowhere)."""
        return None

    def rebuild_reason(self) -> str | None:
        """Why the opened index can only be rebuilt (e.g. an older on-disk layout), or None.

        Reported by the service on every call until ``index_path(force=true)`` resets the store.
        """
        return None

    def writer_lock(self, timeout: float) -> AbstractAsyncContextManager[None]:
        """Held for a whole indexing run: one writer per index, across processes too.

        Waits up to ``timeout`` seconds, then raises ``IndexBusyError``. Searches never take it.
        Default: no lock (a store that only one process can open needs none).
        """
        return _no_lock()

    async def prepare(self, identity: EmbeddingIdentity) -> None:
        """Make the store ready for vectors of ``identity`` (e.g. run migrations). Default: nothing."""


@asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield
