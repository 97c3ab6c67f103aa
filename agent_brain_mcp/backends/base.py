"""The storage interface: every backend stores chunks with vectors and ranks them two ways."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent_brain_mcp.embeddings.base import EmbeddingIdentity

if TYPE_CHECKING:
    from agent_brain_mcp.backends.vector_store import VectorStore


@dataclass(frozen=True)
class FileRecord:
    """One indexed file as the manifest knows it."""

    rel_path: str
    size: int
    mtime_ns: int
    sha256: str
    chunk_count: int
    language: str


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk ready to store: ``text`` is shown to users, ``search_text`` is what is embedded.

    ``embedding`` None: the vector is pending (the chunk is searchable by keyword until it comes).
    """

    id: str
    rel_path: str
    ordinal: int
    start_line: int
    end_line: int
    language: str
    symbol: str | None
    text: str
    search_text: str
    embedding: Sequence[float] | None


@dataclass(frozen=True)
class PendingVector:
    """A stored chunk whose vector is pending: what the pipeline needs to embed it (and check it)."""

    id: str
    root: str
    rel_path: str
    symbol: str | None
    text: str


@dataclass(frozen=True)
class FileWrite:
    """A file's new state: its manifest record and all of its chunks."""

    record: FileRecord
    chunks: list[ChunkRecord]


@dataclass(frozen=True)
class SearchFilters:
    """``path_prefix`` matches a path relative to its root, or an absolute path."""

    path_prefix: str | None = None
    language: str | None = None


@dataclass
class ScoredChunk:
    id: str
    root: str
    rel_path: str
    start_line: int
    end_line: int
    language: str
    symbol: str | None
    text: str
    score: float
    vector_rank: int | None = None
    keyword_rank: int | None = None
    boost: float = 0.0  # added to the fused score: the chunk defines what the query names (ranking.py)


@dataclass(frozen=True)
class RootStats:
    root: str
    files: int
    chunks: int
    last_indexed: str | None
    vectors_pending: int = 0  # chunks searchable by keyword whose vector is not stored yet


@dataclass
class BackendInfo:
    name: str
    location: str
    extra: dict[str, str] = field(default_factory=dict)


class Backend(abc.ABC):
    """A long-lived store, opened once per server process and closed on shutdown.

    Writes are per batch of whole files and idempotent: replaying a batch after a crash gives the
    same state, so the manifest is always updated last.
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

    async def prepare(self, identity: EmbeddingIdentity) -> None:  # noqa: B027 - optional hook
        """Make the store ready for vectors of ``identity`` (e.g. run migrations). Default: nothing."""

    @abc.abstractmethod
    async def get_identity(self) -> EmbeddingIdentity | None:
        """The embedding model the index was built with, or None for an empty index."""

    @abc.abstractmethod
    async def set_identity(self, identity: EmbeddingIdentity) -> None: ...

    @abc.abstractmethod
    async def read_meta(self, key: str) -> str | None:
        """A value from the index's own metadata (e.g. the pipeline version of a root)."""

    @abc.abstractmethod
    async def write_meta(self, values: dict[str, str]) -> None: ...

    @abc.abstractmethod
    async def reset(self) -> None:
        """Drop every chunk, file record and the recorded identity."""

    @abc.abstractmethod
    async def roots(self) -> list[str]: ...

    @abc.abstractmethod
    async def file_records(self, root: str, scope: str = "") -> dict[str, FileRecord]:
        """Manifest of ``root``, limited to paths under ``scope`` (a relative prefix) if given."""

    @abc.abstractmethod
    async def write_files(self, root: str, writes: Sequence[FileWrite]) -> None:
        """Replace each file's chunks with the new ones and record the file."""

    @abc.abstractmethod
    async def pending_vectors(self, limit: int) -> list[PendingVector]:
        """Up to ``limit`` chunks (of every root) whose vector is pending, oldest write first."""

    @abc.abstractmethod
    async def fill_vectors(self, vectors: Sequence[tuple[PendingVector, Sequence[float]]]) -> int:
        """Store the vectors of pending chunks; a chunk rewritten or removed since it was read is
        left alone (its new text has its own pending vector). Returns the vectors stored."""

    @abc.abstractmethod
    async def touch_files(self, root: str, records: Sequence[FileRecord]) -> None:
        """Update size/mtime of files whose content did not change."""

    @abc.abstractmethod
    async def remove_files(self, root: str, rel_paths: Sequence[str]) -> int:
        """Delete files and their chunks; returns the number of chunks removed."""

    @abc.abstractmethod
    async def remove_root(self, root: str) -> int: ...

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
        from agent_brain_mcp.fusion import reciprocal_rank_fusion

        vector = await self.vector_search(embedding, candidates, filters)
        keyword = await self.keyword_search(query, candidates, filters)
        return reciprocal_rank_fusion(vector, keyword, top_k=top_k, alpha=alpha, k=rrf_k)

    @abc.abstractmethod
    async def stats(self) -> list[RootStats]: ...


@asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield
