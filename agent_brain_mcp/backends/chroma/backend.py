"""ChromaDB backend: vectors in Chroma (embedded folder or server), manifest and BM25 beside it.

Chroma quirks handled here, and only here (see docs/FINDINGS in the README):
- collections are created with ``embedding_function=None`` so nothing tries to download a model;
- re-adding an existing id is silently ignored, so chunks are written with ``upsert`` and the ids
  a file no longer has are deleted;
- the client is synchronous, so every call runs in a small thread pool off the event loop;
- an embedded client does not see other processes' writes: it is reopened when the catalog shows one.

The catalog is the source of truth and every Chroma change is announced there first
(``chroma_recovery.py``, docs/ARCHITECTURE.md): a vector hit is served only if the catalog holds it.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import functools
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

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
from agent_brain_mcp.backends.chroma import recovery as chroma_recovery
from agent_brain_mcp.backends.chroma.catalog import SCHEMA_KEY, SCHEMA_VERSION, Catalog
from agent_brain_mcp.backends.chroma.keyword_index import KeywordIndex
from agent_brain_mcp.backends.chroma.slices import SEARCH_WINDOW_S, WriteSlicer
from agent_brain_mcp.backends.locations import chroma_location
from agent_brain_mcp.backends.store_rules import IDENTITY_KEYS, identity_from_meta, identity_meta, wait_for_lock
from agent_brain_mcp.backends.vector_store import SqliteVectorStore
from agent_brain_mcp.config import ChromaSettings
from agent_brain_mcp.embeddings.base import EmbeddingIdentity
from agent_brain_mcp.errors import BackendUnavailableError
from agent_brain_mcp.indexing.keywords import tokenize

log = logging.getLogger(__name__)
T = TypeVar("T")

# Chroma's upsert holds the GIL for the whole call, which freezes every search thread of the
# process: each call takes as many chunks as fit a time budget (slices.py).
# Between two such calls the writer hardly ever lets go of the GIL on its own, so searches waiting
# for it queue behind several upserts in a row; a short sleep (which releases it) lets them run.
WRITER_PAUSE_S = 0.01
LOCK_FILE = "index.lock"
VECTORS_FILE = "vectors.sqlite3"  # vectors by (model, text): see vector_store.py


def try_index_lock(state_dir: Path) -> int | None:
    """Try once to take the writer lock of the index in ``state_dir`` (never blocks).

    Returns the open descriptor holding the exclusive ``flock`` (close it to release), or None
    when another process (or another open of the file) holds it.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def release_index_lock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class ChromaBackend(Backend):
    name = "chromadb"

    def __init__(self, settings: ChromaSettings, state_dir: Path) -> None:
        self._settings = settings
        self._state_dir = state_dir
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chroma")
        self._client: Any = None
        self._collection: Any = None
        self._catalog: Catalog | None = None
        self._keywords: KeywordIndex | None = None
        self._max_batch = 1000
        self._rebuild_reason: str | None = None
        self._vectors: SqliteVectorStore | None = None
        self._reopen_lock = threading.Lock()
        self._wedged = False  # a write step failed on storage: reopen Chroma before the next write
        self._seen: tuple[int, int] = (-1, -1)  # (data_version, generation) Chroma was last opened for
        self._slicer = WriteSlicer()
        self._last_search = float("-inf")  # time.monotonic() when a search last started

    # -- plumbing ---------------------------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            raise BackendUnavailableError("the Chroma backend is not open")
        return self._catalog

    def info(self) -> BackendInfo:
        s = self._settings
        where = chroma_location(s, self._state_dir)
        return BackendInfo(self.name, where, {"collection": s.collection, "catalog": str(self._state_dir)})

    def private_paths(self) -> list[Path]:
        return [self._state_dir]

    def vector_store(self) -> SqliteVectorStore:
        if self._vectors is None:
            self._vectors = SqliteVectorStore(self._state_dir / VECTORS_FILE)
        return self._vectors

    def rebuild_reason(self) -> str | None:
        return self._rebuild_reason

    @asynccontextmanager
    async def writer_lock(self, timeout: float) -> AsyncIterator[None]:
        """An exclusive ``flock`` on ``<persist_dir>/index.lock``, polled without blocking the loop."""
        fd: int | None = None

        async def try_once() -> bool:
            nonlocal fd
            fd = try_index_lock(self._state_dir)
            return fd is not None

        await wait_for_lock(try_once, timeout, lambda: f"{self._state_dir} (it holds {self._state_dir / LOCK_FILE})")
        assert fd is not None
        try:
            await self._run(self._guarded, self._recover_sync)
            yield
        finally:
            release_index_lock(fd)

    def _recover_sync(self) -> None:
        """Under the writer lock only: see other writers' work, then settle what a dead run left."""
        self._follow_other_writers()
        if self._wedged:  # after a failed write, Chroma's bindings can hang on the next one: start afresh
            with self._reopen_lock:
                self._reopen_chroma()
            self._wedged = False
        chroma_recovery.recover(self._collection, self.catalog, self._max_batch)
        self._note_own_commit()

    def _guarded(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a write step; a full disk, quota or read-only folder becomes a clear error."""
        try:
            return fn(*args)
        except Exception as exc:
            clear = chroma_recovery.storage_error(exc, self._state_dir)
            if clear is None:
                raise
            self._wedged = True
            raise clear from exc

    # -- seeing other processes' writes -----------------------------------------------------------
    def _follow_other_writers(self) -> None:
        """Reopen the embedded Chroma client when another process committed a change to the catalog.

        ``PRAGMA data_version`` is a cheap per-call check that moves only on other connections'
        commits; the generation tells whether the commit changed the chunks (and not just, e.g., a
        keyword snapshot's bookkeeping). Chroma's embedded client keeps its vector index in memory
        and never sees another process's writes, so it is reloaded from disk.
        """
        catalog = self.catalog
        version = catalog.data_version()
        if version == self._seen[0]:
            return
        with self._reopen_lock:
            version = catalog.data_version()
            if version == self._seen[0]:
                return
            generation = catalog.generation()
            if generation != self._seen[1] and self._seen[1] != -1:
                self._reopen_chroma()
            self._seen = (version, generation)

    def _note_own_commit(self) -> None:
        """After this process's own commit: its Chroma client already holds what it wrote."""
        with self._reopen_lock:
            self._seen = (self.catalog.data_version(), self.catalog.generation())

    def _reopen_chroma(self) -> None:
        if self._settings.host:
            self._collection = self._get_collection()  # a server is shared: only the collection may be new
            return
        log.info("another process changed the index at %s: reloading the vector store", self._state_dir)
        self._client._server.start()  # new Rust bindings, loaded from disk; calls in flight keep the old ones
        self._collection = self._get_collection()

    # -- lifecycle --------------------------------------------------------------------------------
    async def open(self) -> None:
        await self._run(self._open_sync)

    def _open_sync(self) -> None:
        try:
            self._state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendUnavailableError(
                f"cannot create the index folder {self._state_dir}: {exc.strerror or exc}. "
                "Set storage.chromadb.persist_dir in the config to a writable folder."
            ) from exc
        # A read-only folder must not be mistaken for a corrupted catalog (whose advice is to delete it).
        catalog_path = self._state_dir / "catalog.sqlite3"
        unwritable = [p for p in (self._state_dir, catalog_path) if p.exists() and not os.access(p, os.W_OK)]
        if unwritable:
            raise BackendUnavailableError(
                f"the index folder {self._state_dir} is not writable ({unwritable[0]}): fix its permissions, "
                "or set storage.chromadb.persist_dir in the config to a writable folder."
            )
        try:
            self._catalog = Catalog(catalog_path)
        except Exception as exc:  # sqlite3.DatabaseError: a corrupted catalog
            raise BackendUnavailableError(
                f"the index catalog {catalog_path} is unreadable ({exc}). "
                f"Delete the folder {self._state_dir} and run index_path again to rebuild."
            ) from exc
        version = self._catalog.schema_version()
        self._rebuild_reason = None
        if version not in (None, SCHEMA_VERSION):
            # Not raised: the service refuses every call with it until index_path(force=true) resets.
            self._rebuild_reason = (
                f"the index at {self._state_dir} has layout version {version}; this server writes "
                f"{SCHEMA_VERSION}. Rebuild it: index_path(path, force=true) (this drops every indexed root; "
                "index each again), or delete the folder."
            )
        self._client = self._make_client()
        self._collection = self._get_collection()
        self._max_batch = int(getattr(self._client, "get_max_batch_size", lambda: 1000)() or 1000)
        # Opening never changes the store: what a dead run left is the next writer's to settle.
        self._seen = (self._catalog.data_version(), self._catalog.generation())
        self._keywords = KeywordIndex(self._state_dir / "keyword", self._catalog)

    def _make_client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaClientSettings

        client_settings = ChromaClientSettings(anonymized_telemetry=False, allow_reset=False)
        s = self._settings
        try:
            if s.host:
                client = chromadb.HttpClient(host=s.host, port=s.port, ssl=s.ssl, settings=client_settings)
                client.heartbeat()
                return client
            return chromadb.PersistentClient(path=str(self._state_dir / "chroma"), settings=client_settings)
        except Exception as exc:  # chromadb raises many types for a dead server or a bad folder
            where = f"the Chroma server at {s.host}:{s.port}" if s.host else f"the Chroma folder {self._state_dir}"
            raise BackendUnavailableError(
                f"cannot open {where}: {exc}. Check that it is running/writable, or fix storage.chromadb in the config."
            ) from exc

    def _get_collection(self) -> Any:
        return self._client.get_or_create_collection(
            name=self._settings.collection,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
        )

    def _recreate_collection(self) -> None:
        try:
            self._client.delete_collection(self._settings.collection)
        except Exception as exc:  # noqa: BLE001 - missing collection is fine
            log.debug("delete_collection: %s", exc)
        self._collection = self._get_collection()

    async def close(self) -> None:
        if self._keywords is not None:
            self._keywords.close()  # stops a background catch-up before the catalog goes
            self._keywords = None
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None
        if self._vectors is not None:
            self._vectors.close()
            self._vectors = None
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- identity ---------------------------------------------------------------------------------
    async def get_identity(self) -> EmbeddingIdentity | None:
        c = self.catalog
        return identity_from_meta({key: c.get_meta(key) for key in IDENTITY_KEYS})

    async def set_identity(self, identity: EmbeddingIdentity) -> None:
        await self._run(
            self.catalog.set_meta,
            identity_meta(identity) | {SCHEMA_KEY: SCHEMA_VERSION},
        )

    async def read_meta(self, key: str) -> str | None:
        return await self._run(self.catalog.get_meta, key)

    async def write_meta(self, values: dict[str, str]) -> None:
        await self._run(self.catalog.set_meta, values)

    async def reset(self) -> None:
        def _reset() -> None:
            self.catalog.reset()  # commits "compare whole before the next write" with the reset
            self._recreate_collection()
            self.catalog.finish_comparison()
            self._note_own_commit()
            self._rebuild_reason = None

        await self._run(self._guarded, _reset)

    # -- manifest and writes ----------------------------------------------------------------------
    async def roots(self) -> list[str]:
        return await self._run(self.catalog.roots)

    async def file_records(self, root: str, scope: str = "") -> dict[str, FileRecord]:
        return await self._run(self.catalog.file_records, root, scope)

    def _write_sync(self, root: str, writes: Sequence[FileWrite]) -> None:
        # 1. intent: every id Chroma may hold for these files afterwards, committed first
        current = self.catalog.begin_write(root, [(w.record.rel_path, [c.id for c in w.chunks]) for w in writes])
        # 2. Chroma: drop the files' current chunks, write the new ones
        chroma_recovery.delete_ids(self._collection, current, self._max_batch)
        self._upsert([(root, c) for w in writes for c in w.chunks if c.embedding is not None])
        # 3. the catalog rows (those without a vector marked awaiting), settling the intent
        self.catalog.write_files(
            root, [(w.record, w.chunks, [" ".join(tokenize(c.search_text)) for c in w.chunks]) for w in writes]
        )
        self._note_own_commit()

    def _upsert(self, chunks: Sequence[tuple[str, ChunkRecord]]) -> None:
        """(root, chunk with its vector) pairs into Chroma, in calls small enough not to stall searches."""
        start = 0
        while start < len(chunks):
            searching = time.monotonic() - self._last_search < SEARCH_WINDOW_S
            part = chunks[start : start + min(self._max_batch, self._slicer.size(searching))]
            start += len(part)
            # Chroma's bindings can hang, not fail, when the disk fills during a write: never start one
            # on a nearly full disk (the intent is recorded, so the next run resumes from here).
            if chroma_recovery.low_on_space(self._state_dir):
                raise OSError(errno.ENOSPC, "no space left on device (checked before a Chroma write)")
            time.sleep(WRITER_PAUSE_S)
            t0 = time.perf_counter()
            self._collection.upsert(
                ids=[c.id for _, c in part],
                embeddings=[list(c.embedding or ()) for _, c in part],
                documents=[c.text for _, c in part],
                metadatas=[_metadata(root, c) for root, c in part],
            )
            self._slicer.took(len(part), time.perf_counter() - t0)

    async def write_files(self, root: str, writes: Sequence[FileWrite]) -> None:
        if writes:
            await self._run(self._guarded, self._write_sync, root, writes)

    async def pending_vectors(self, limit: int) -> list[PendingVector]:
        rows = await self._run(self.catalog.awaiting_chunks, limit)
        return [PendingVector(*row) for row in rows]

    def _fill_sync(self, vectors: Sequence[tuple[PendingVector, Sequence[float]]]) -> int:
        # 1. intent: the chunks still awaiting with the same text are marked sent, committed first
        by_id = {p.id: v for p, v in vectors}
        sent = self.catalog.send_vectors([(p.id, p.text) for p, _ in vectors])
        # 2. Chroma: add them
        self._upsert([(root, replace(c, embedding=by_id[c.id])) for root, c in sent])
        # 3. the catalog: they await nothing any more
        self.catalog.vectors_done([c.id for _, c in sent])
        self._note_own_commit()
        return len(sent)

    async def fill_vectors(self, vectors: Sequence[tuple[PendingVector, Sequence[float]]]) -> int:
        if not vectors:
            return 0
        return await self._run(self._guarded, self._fill_sync, vectors)

    def _remove_sync(self, removed_ids: Callable[[], list[str]]) -> int:
        """A removal: catalog rows go with their ids recorded as intent, then Chroma, then the records."""
        ids = removed_ids()
        self._note_own_commit()
        chroma_recovery.delete_ids(self._collection, ids, self._max_batch)
        self.catalog.settle(ids)
        return len(ids)

    async def touch_files(self, root: str, records: Sequence[FileRecord]) -> None:
        if records:
            await self._run(self.catalog.touch_files, root, records)

    async def remove_files(self, root: str, rel_paths: Sequence[str]) -> int:
        if not rel_paths:
            return 0
        return await self._run(self._guarded, self._remove_sync, lambda: self.catalog.remove_files(root, rel_paths))

    async def remove_root(self, root: str) -> int:
        return await self._run(self._guarded, self._remove_sync, lambda: self.catalog.remove_root(root))

    async def finish_run(self, root: str) -> None:
        def _finish() -> None:
            self.catalog.mark_indexed(root)
            assert self._keywords is not None
            self._keywords.finish_run()

        await self._run(self._guarded, _finish)

    # -- queries ----------------------------------------------------------------------------------
    def _where(self, filters: SearchFilters) -> tuple[dict[str, Any] | None, bool]:
        """Chroma ``where`` for the filters, and False when no file can match."""
        clauses: list[dict[str, Any]] = []
        if filters.language:
            clauses.append({"language": filters.language})
        if filters.path_prefix:
            matches = self.catalog.matching_paths(filters.path_prefix)
            if not matches:
                return None, False
            paths = [f"{root}/{rel}" for root, rel in matches]
            clauses.append({"path": paths[0]} if len(paths) == 1 else {"path": {"$in": paths}})
        if not clauses:
            return None, True
        return (clauses[0] if len(clauses) == 1 else {"$and": clauses}), True

    def _vector_sync(self, embedding: Sequence[float], top_k: int, filters: SearchFilters) -> list[ScoredChunk]:
        from chromadb.errors import NotFoundError

        self._last_search = time.monotonic()
        self._follow_other_writers()
        where, possible = self._where(filters)
        if not possible:
            return []
        try:
            res = self._query(self._collection, embedding, top_k, where)
        except NotFoundError:
            # A force reset dropped the collection under this search. The catalog was emptied before
            # (its reset commits first), so the new state holds no vectors yet: answer from the
            # collection as it is now, or with nothing while it does not exist.
            try:
                res = self._query(self._client.get_collection(self._settings.collection), embedding, top_k, where)
            except NotFoundError:
                return []
        if res is None:
            return []
        # Never serve a ghost: a hit is returned only as the catalog holds it (a chunk of a deleted
        # file, or of a write still in progress or cut short, may be in Chroma but is not served).
        ids, distances = res["ids"][0], res["distances"][0]
        rows = self.catalog.chunks_by_id(ids)
        hits = []
        for cid, dist in zip(ids, distances, strict=True):
            row = rows.get(cid)
            if row is None:
                continue
            root, rel, start, end, lang, symbol, text = row
            hits.append(ScoredChunk(cid, root, rel, start, end, lang, symbol, text, 1.0 - float(dist)))
        return hits

    async def vector_search(self, embedding: Sequence[float], top_k: int, filters: SearchFilters) -> list[ScoredChunk]:
        return await self._run(self._vector_sync, embedding, top_k, filters)

    @staticmethod
    def _query(collection: Any, embedding: Sequence[float], top_k: int, where: dict[str, Any] | None) -> Any:
        """Chroma's nearest ``top_k`` ids and distances (None when the collection is empty)."""
        total = collection.count()
        if total == 0:
            return None
        return collection.query(
            query_embeddings=[list(embedding)], n_results=min(top_k, total), where=where, include=["distances"]
        )

    def _keyword_sync(self, query: str, top_k: int, filters: SearchFilters) -> list[ScoredChunk]:
        assert self._keywords is not None
        self._last_search = time.monotonic()
        found = self._keywords.search(tokenize(query), top_k, filters.path_prefix, filters.language)
        rows = self.catalog.chunks_by_id([cid for cid, _ in found])
        hits = []
        for cid, score in found:
            row = rows.get(cid)
            if row is None:
                continue
            root, rel, start, end, lang, symbol, text = row
            hits.append(ScoredChunk(cid, root, rel, start, end, lang, symbol, text, score))
        return hits

    async def keyword_search(self, query: str, top_k: int, filters: SearchFilters) -> list[ScoredChunk]:
        return await self._run(self._keyword_sync, query, top_k, filters)

    async def stats(self) -> list[RootStats]:
        return await self._run(self.catalog.stats)


def _metadata(root: str, chunk: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "root": root,
        "rel_path": chunk.rel_path,
        "path": f"{root}/{chunk.rel_path}",
        "ordinal": chunk.ordinal,
        "start_line": chunk.start_line,
        "end_line": chunk.end_line,
        "language": chunk.language,
    }
    if chunk.symbol:
        meta["symbol"] = chunk.symbol
    return meta
