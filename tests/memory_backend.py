"""An in-memory ``Backend``: the test double for unit tests of the service's rules.

It keeps the same contract as the real two (tests/integration/test_service_contract.py runs on it):
whole-file batches, manifest and chunks together, the same path-prefix rule, BM25 with the same
constants (``fusion.py``), cosine similarity for vectors (exact, no HNSW). Stores live in a
dictionary keyed by their folder, so a service reopened on the same settings finds its index again,
as it would on disk. ``install`` makes ``build_service`` (and so ``open_service``) use it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import math
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent_brain_mcp.backends import registry
from agent_brain_mcp.backends.base import (
    Backend,
    BackendInfo,
    ChunkRecord,
    FileRecord,
    FileWrite,
    PendingVector,
    RootStats,
    ScoredChunk,
    SearchFilters,
)
from agent_brain_mcp.backends.store_rules import matches_path_prefix, wait_for_lock
from agent_brain_mcp.backends.vector_store import VectorStore
from agent_brain_mcp.config import Settings
from agent_brain_mcp.fusion import BM25_B, BM25_K1, bm25_idf
from agent_brain_mcp.indexing.keywords import tokenize


@dataclass
class _Chunk:
    root: str
    record: ChunkRecord
    tokens: Counter[str]


@dataclass
class MemoryStore:
    """What one index holds; shared by every backend opened on the same folder."""

    meta: dict[str, str] = field(default_factory=dict)
    roots: dict[str, str | None] = field(default_factory=dict)  # root -> last indexed
    files: dict[tuple[str, str], FileRecord] = field(default_factory=dict)  # the manifest
    chunks: dict[str, _Chunk] = field(default_factory=dict)
    writer: asyncio.Lock | None = None
    vectors: MemoryVectorStore = field(default_factory=lambda: MemoryVectorStore())  # kept by reset, as on disk


class MemoryVectorStore(VectorStore):
    """Vectors by (model, text) in a dictionary: key -> (dimension, float32 bytes, last used)."""

    def __init__(self) -> None:
        self.rows: dict[bytes, tuple[int, bytes, int]] = {}

    async def _get(self, keys: list[bytes], now: int) -> list[tuple[bytes, int, bytes]]:
        found = []
        for key in keys:
            if key in self.rows:
                dim, blob, _ = self.rows[key]
                self.rows[key] = (dim, blob, now)
                found.append((key, dim, blob))
        return found

    async def _put(self, rows: list[tuple[bytes, int, bytes]], now: int) -> None:
        for key, dim, blob in rows:
            self.rows[key] = (dim, blob, now)

    async def _prune(self, max_vectors: int) -> int:
        doomed = sorted(self.rows, key=lambda k: (-self.rows[k][2], k))[max_vectors:]
        for key in doomed:
            del self.rows[key]
        return len(doomed)

    async def count(self) -> int:
        return len(self.rows)


_STORES: dict[str, MemoryStore] = {}


class MemoryBackend(Backend):
    name = "memory"

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self.store = _STORES.setdefault(str(folder), MemoryStore())

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def info(self) -> BackendInfo:
        return BackendInfo(self.name, f"memory {self._folder}")

    def private_paths(self) -> list[Path]:
        return [self._folder]

    def vector_store(self) -> VectorStore:
        return self.store.vectors

    def writer_lock(self, timeout: float) -> AbstractAsyncContextManager[None]:
        return self._locked(timeout)

    @asynccontextmanager
    async def _locked(self, timeout: float) -> AsyncIterator[None]:
        """One writer per store, across the services opened on it (as across processes on disk)."""
        lock = self.store.writer = self.store.writer or asyncio.Lock()

        async def try_once() -> bool:
            if lock.locked():
                return False
            await lock.acquire()
            return True

        await wait_for_lock(try_once, timeout, lambda: f"{self._folder} (another service holds it)")
        try:
            yield
        finally:
            lock.release()

    # -- the manifest ---------------------------------------------------------------------------------
    async def read_meta(self, key: str) -> str | None:
        return self.store.meta.get(key)

    async def write_meta(self, values: dict[str, str]) -> None:
        self.store.meta.update(values)

    async def roots(self) -> list[str]:
        return sorted(self.store.roots)

    async def file_records(self, root: str, scope: str = "") -> dict[str, FileRecord]:
        under = scope.rstrip("/") + "/"
        return {
            rel: record
            for (r, rel), record in self.store.files.items()
            if r == root and (not scope or rel == scope or rel.startswith(under))
        }

    async def touch_files(self, root: str, records: Sequence[FileRecord]) -> None:
        for record in records:
            old = self.store.files.get((root, record.rel_path))
            if old is not None:
                self.store.files[(root, record.rel_path)] = FileRecord(
                    record.rel_path, record.size, record.mtime_ns, old.sha256, old.chunk_count, old.language
                )

    async def stats(self) -> list[RootStats]:
        out = []
        for root in sorted(self.store.roots):
            records = [r for (owner, _), r in self.store.files.items() if owner == root]
            pending = sum(1 for c in self.store.chunks.values() if c.root == root and c.record.embedding is None)
            out.append(
                RootStats(root, len(records), sum(r.chunk_count for r in records), self.store.roots[root], pending)
            )
        return out

    # -- the chunk index ------------------------------------------------------------------------------
    async def write_files(self, root: str, writes: Sequence[FileWrite]) -> None:
        if not writes:
            return
        self.store.roots.setdefault(root, None)
        for write in writes:
            self._drop_chunks(root, {write.record.rel_path})
            for chunk in write.chunks:
                self.store.chunks[chunk.id] = _Chunk(root, chunk, Counter(tokenize(chunk.search_text)))
            self.store.files[(root, write.record.rel_path)] = write.record

    async def pending_vectors(self, limit: int) -> list[PendingVector]:
        waiting = (c for c in self.store.chunks.values() if c.record.embedding is None)  # in write order
        return [
            PendingVector(c.record.id, c.root, c.record.rel_path, c.record.symbol, c.record.text)
            for c in itertools.islice(waiting, limit)
        ]

    async def fill_vectors(self, vectors: Sequence[tuple[PendingVector, Sequence[float]]]) -> int:
        stored = 0
        for pending, vector in vectors:
            chunk = self.store.chunks.get(pending.id)
            if chunk is not None and chunk.record.embedding is None and chunk.record.text == pending.text:
                chunk.record = dataclasses.replace(chunk.record, embedding=list(vector))
                stored += 1
        return stored

    async def remove_files(self, root: str, rel_paths: Sequence[str]) -> int:
        for rel in rel_paths:
            self.store.files.pop((root, rel), None)
        return self._drop_chunks(root, set(rel_paths))

    async def remove_root(self, root: str) -> int:
        paths = {rel for (owner, rel) in self.store.files if owner == root}
        removed = await self.remove_files(root, sorted(paths))
        removed += self._drop_chunks(root, None)
        self.store.roots.pop(root, None)
        return removed

    def _drop_chunks(self, root: str, rel_paths: set[str] | None) -> int:
        gone = [
            cid
            for cid, c in self.store.chunks.items()
            if c.root == root and (rel_paths is None or c.record.rel_path in rel_paths)
        ]
        for cid in gone:
            del self.store.chunks[cid]
        return len(gone)

    async def reset(self) -> None:
        _STORES[str(self._folder)] = self.store = MemoryStore(writer=self.store.writer, vectors=self.store.vectors)

    async def finish_run(self, root: str) -> None:
        if root in self.store.roots:
            self.store.roots[root] = datetime.now(UTC).replace(microsecond=0).isoformat()

    def _candidates(self, filters: SearchFilters) -> list[_Chunk]:
        return [
            c
            for c in self.store.chunks.values()
            if (not filters.language or c.record.language == filters.language)
            and (not filters.path_prefix or matches_path_prefix(c.root, c.record.rel_path, filters.path_prefix))
        ]

    async def vector_search(self, embedding: Sequence[float], top_k: int, filters: SearchFilters) -> list[ScoredChunk]:
        scored = [
            (_cosine(embedding, c.record.embedding), c)
            for c in self._candidates(filters)
            if c.record.embedding is not None
        ]
        scored.sort(key=lambda item: -item[0])
        return [_hit(c, score) for score, c in scored[:top_k]]

    async def keyword_search(self, query: str, top_k: int, filters: SearchFilters) -> list[ScoredChunk]:
        """BM25 over every chunk (idf and length from the whole index), then the filters."""
        chunks = list(self.store.chunks.values())
        wanted = Counter(tokenize(query))
        if not chunks or not wanted:
            return []
        avgdl = sum(sum(c.tokens.values()) for c in chunks) / len(chunks) or 1.0
        df = {term: sum(1 for c in chunks if term in c.tokens) for term in wanted}
        allowed = {id(c) for c in self._candidates(filters)}
        scored = []
        for c in chunks:
            if id(c) not in allowed:
                continue
            norm = BM25_K1 * (1 - BM25_B + BM25_B * sum(c.tokens.values()) / avgdl)
            score = sum(
                bm25_idf(df[t], len(chunks)) * repeat * c.tokens[t] / (c.tokens[t] + norm)
                for t, repeat in wanted.items()
                if c.tokens[t]
            )
            if score > 0:
                scored.append((score, c))
        scored.sort(key=lambda item: (-item[0], item[1].record.id))
        return [_hit(c, score) for score, c in scored[:top_k]]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norms if norms else 0.0


def _hit(c: _Chunk, score: float) -> ScoredChunk:
    r = c.record
    return ScoredChunk(r.id, c.root, r.rel_path, r.start_line, r.end_line, r.language, r.symbol, r.text, score)


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the services this test builds (``build_service``) store in memory, in the configured Chroma folder."""

    def create(settings: Settings) -> Backend:
        return MemoryBackend(settings.resolve(settings.storage.chromadb.persist_dir))

    monkeypatch.setattr(registry, "create_backend", create)
    monkeypatch.setattr(sys.modules[__name__], "_STORES", {})  # this test's stores only
