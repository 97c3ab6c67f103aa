"""The indexing pipeline: walk -> filter -> read and chunk -> write (keyword first) -> fill vectors.

Two phases (docs/ARCHITECTURE.md, "Keyword first, vectors fill in"):

1. *keywords*: reading and chunking run in worker threads (a bounded queue keeps memory flat); each
   batch of whole files is written at once, manifest last, with the vectors the vector store already
   has and the others pending. A file is searchable by keyword as soon as its batch is written.
2. *vectors*: the chunks whose vectors are pending (this run's, and any a killed run left) are
   embedded in the order they were written and filled in, batch by batch.

Unchanged files are recognised by size and mtime, then by content hash, and never re-embedded.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent_brain_mcp.backends.base import Backend, ChunkRecord, FileRecord, FileWrite, PendingVector
from agent_brain_mcp.backends.vector_store import vector_key
from agent_brain_mcp.config import IndexingSettings
from agent_brain_mcp.embeddings.base import EmbeddingProvider
from agent_brain_mcp.errors import EmbeddingError
from agent_brain_mcp.indexing.chunking import Chunk, ChunkLimits, chunk_text, embedding_text
from agent_brain_mcp.indexing.filetypes import HOW_TO_INDEX_ANYWAY, SKIP_KINDS, FileTypePolicy
from agent_brain_mcp.indexing.fsread import printable_path
from agent_brain_mcp.indexing.languages import detect_language
from agent_brain_mcp.indexing.progress import DONE, KEYWORDS, VECTORS, WALK, IndexProgress, ProgressFn
from agent_brain_mcp.indexing.reader import SkipFile, read_text
from agent_brain_mcp.indexing.secret_files import SecretFilter
from agent_brain_mcp.indexing.walker import Candidate, Walker, WalkReport, compile_globs
from agent_brain_mcp.models import IndexResult, SkippedFile

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

log = logging.getLogger(__name__)

__all__ = ["PIPELINE_VERSION", "Indexer", "ProgressFn", "chunk_records"]

# Bump whenever chunking or keyword tokenising changes what is stored: a root indexed by another
# version is then re-chunked and re-embedded on its next run instead of silently mixing formats.
PIPELINE_VERSION = "5"  # 5: notebooks by cell; data and generated files skipped

_MAX_LISTED_SKIPS = 50
_QUEUE_FILES = 64


@dataclass
class _Prepared:
    candidate: Candidate
    old: FileRecord | None
    sha256: str = ""
    language: str = "text"
    chunks: list[Chunk] = field(default_factory=list)
    skip_reason: str | None = None


@dataclass
class _Run:
    root: str
    force: bool
    report: WalkReport
    indexed: int = 0
    unchanged: int = 0
    chunks_written: int = 0
    chunks_replaced: int = 0
    embedded: int = 0  # texts the model embedded; the other vectors came from the vector store
    vectors_stored: int = 0  # vectors this run stored (with the chunks, or filled in after them)
    vectors_pending: int = 0  # chunks of the index whose vector is pending, as far as the run knows
    done: int = 0
    total: int | None = None
    kept: set[str] = field(default_factory=set)

    def progress(self, phase: str) -> IndexProgress:
        return IndexProgress(
            phase, self.done, self.total, self.chunks_written, self.vectors_stored, self.vectors_pending
        )


def chunk_id(root: str, rel_path: str, ordinal: int) -> str:
    key = f"{root}\x00{rel_path}".encode("utf-8", "surrogateescape")  # never fails, whatever the name
    digest = hashlib.sha1(key, usedforsecurity=False).hexdigest()[:20]
    return f"{digest}-{ordinal}"


class Indexer:
    """Runs one indexing pass over (part of) a root for a backend and an embedding provider."""

    def __init__(self, backend: Backend, embedder: EmbeddingProvider, settings: IndexingSettings) -> None:
        self._backend = backend
        self._embedder = embedder
        self._settings = settings
        self._limits = ChunkLimits(settings.chunk_lines, settings.chunk_overlap_lines, settings.chunk_chars)
        self._flush_chunks = max(embedder.batch_size * 4, 64)
        keep = compile_globs(settings.index_anyway, "indexing.index_anyway")
        self._filetypes = FileTypePolicy(settings.skip_data_files, keep.match_file if keep else None)
        self._store = backend.vector_store() if settings.vector_store_max_vectors > 0 else None

    async def run(
        self,
        root: Path,
        target: Path,
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        force: bool = False,
        progress: ProgressFn | None = None,
    ) -> IndexResult:
        started = time.perf_counter()
        walker = self.walker(include)
        # The call's own globs narrow what this run looks at: files outside them are neither
        # indexed nor removed (the config's globs, .gitignore and defaults define the index itself).
        in_scope = _scope_filter(include, exclude)
        root_key = root.as_posix()
        scope = "" if target == root else printable_path(target.relative_to(root).as_posix())
        run = _Run(root_key, force, WalkReport())

        def walk() -> list[Candidate]:  # in a worker thread: a big tree must not hold the event loop
            found = (
                walker.single_file(target, root, run.report)
                if target.is_file()
                else walker.walk(root, run.report, target)
            )
            return [c for c in found if in_scope(c.rel_path) and self._filetypes.wanted(c.rel_path, run.report)]

        candidates = await asyncio.to_thread(walk)
        manifest = {k: v for k, v in (await self._backend.file_records(root_key, scope)).items() if in_scope(k)}
        return await self._sync(run, candidates, manifest, scope, started, progress)

    async def refresh(self, root: Path, paths: Sequence[Path], progress: ProgressFn | None = None) -> IndexResult:
        """Bring ``paths`` under ``root`` up to date, whatever happened to them: the watcher's batch.

        Each path is a file or folder that was created, changed or deleted. The walk's own rules
        decide what is indexed (a folder is walked); files that are gone, or that the rules now
        leave out, are removed, with everything the index holds under a vanished folder.
        """
        if any(p.name == ".gitignore" and p.parent == root for p in paths):
            return await self.run(root, root, progress=progress)  # the rules of the whole root changed
        paths = [*paths, *(p.parent for p in paths if p.name == ".gitignore")]  # re-judge its folder
        started = time.perf_counter()
        walker = self.walker()
        root_key = root.as_posix()
        run = _Run(root_key, False, WalkReport())
        rels = sorted({p.relative_to(root).as_posix() for p in paths if p != root and p.is_relative_to(root)})

        def collect() -> list[Candidate]:
            found: dict[str, Candidate] = {}
            gitignores: dict[Path, GitIgnoreSpec | None] = {}
            for rel in rels:
                path = root / rel
                if path.is_dir() and not path.is_symlink():
                    if not walker.ignored(root, path, is_dir=True, gitignores=gitignores):
                        found.update((c.rel_path, c) for c in walker.walk(root, run.report, path))
                elif (cand := walker.candidate(root, path, run.report, gitignores)) is not None:
                    found[cand.rel_path] = cand
            return [c for c in found.values() if self._filetypes.wanted(c.rel_path, run.report)]

        candidates = await asyncio.to_thread(collect)
        scope = _common_folder(rels)
        covered = {printable_path(rel) for rel in rels}
        records = await self._backend.file_records(root_key, scope)
        manifest = {k: v for k, v in records.items() if any(a in covered for a in _self_and_ancestors(k))}
        return await self._sync(run, candidates, manifest, scope, started, progress)

    def walker(self, include: Sequence[str] = ()) -> Walker:
        """A walker with the config's rules (the watcher filters changes with the same one).

        ``include`` is the call's own globs: a secret file they name is indexed all the same.
        """
        return Walker(
            include=self._settings.include,
            exclude=self._settings.exclude,
            use_gitignore=self._settings.use_gitignore,
            max_file_bytes=self._settings.max_file_bytes,
            private_dirs=self._backend.private_paths(),
            secrets=SecretFilter([*self._settings.include, *include], enabled=not self._settings.index_secrets),
        )

    async def _sync(
        self,
        run: _Run,
        candidates: list[Candidate],
        manifest: dict[str, FileRecord],
        scope: str,
        started: float,
        progress: ProgressFn | None,
    ) -> IndexResult:
        """Index the candidates that changed, remove what the manifest holds beyond them, then fill
        in the pending vectors."""
        run.total = len(candidates)
        await _report(progress, run.progress(WALK))
        todo: list[tuple[Candidate, FileRecord | None]] = []
        for cand in candidates:
            old = manifest.get(cand.rel_path)
            if not run.force and old and old.size == cand.size and old.mtime_ns == cand.mtime_ns:
                run.unchanged += 1
                run.kept.add(cand.rel_path)
            else:
                todo.append((cand, old))
        run.done = run.unchanged
        await self._process(run, todo, progress)

        gone = sorted(set(manifest) - run.kept)
        chunks_removed = await self._backend.remove_files(run.root, gone)
        await self._backend.finish_run(run.root)
        await self._fill(run, progress)
        if self._store is not None:
            await self._store.prune(self._settings.vector_store_max_vectors)
        stats = {s.root: s for s in await self._backend.stats()}.get(run.root)
        seconds = round(time.perf_counter() - started, 3)
        await _report(progress, run.progress(DONE))
        return _index_result(run, scope, len(gone), chunks_removed, stats, seconds)

    async def _fill(self, run: _Run, progress: ProgressFn | None) -> None:
        """Phase 2: embed the pending vectors of the index, oldest first, and fill them in.

        A batch is written (vector store, then backend) while the model embeds the next one: on a
        machine of few cores the writes would otherwise leave the model idle between its calls.
        """
        run.vectors_pending = sum(s.vectors_pending for s in await self._backend.stats())
        if run.vectors_pending:
            await _report(progress, run.progress(VECTORS))  # every file is searchable by keyword now
        writing: asyncio.Task[bool] | None = None
        in_flight: set[str] = set()
        try:
            while True:
                batch = await self._pending_batch(in_flight) if run.vectors_pending else []
                if batch:
                    new, vectors = await self._vectors_for(run, [_embedding_text(p) for p in batch])
                if writing is not None:
                    taken = await asyncio.shield(writing)  # a cancel here lets the write complete
                    writing = None
                    if not taken:
                        return
                if not batch:
                    break
                in_flight = {p.id for p in batch}
                writing = asyncio.create_task(
                    self._write_vectors(run, new, list(zip(batch, vectors, strict=True)), progress)
                )
            run.vectors_pending = 0  # the backend has none left (or the count reached 0)
        finally:
            if writing is not None:  # the run stops (an error, a cancel): the write under way completes
                await asyncio.wait([writing])
                if writing.cancelled() or writing.exception() is not None:
                    error = "cancelled" if writing.cancelled() else writing.exception()
                    log.warning("%d vectors were not stored as the run stopped: %s", len(in_flight), error)

    async def _pending_batch(self, in_flight: set[str]) -> list[PendingVector]:
        """The next pending chunks to embed, oldest first, leaving out those being written."""
        found = await self._backend.pending_vectors(self._flush_chunks + len(in_flight))
        return [p for p in found if p.id not in in_flight][: self._flush_chunks]

    async def _write_vectors(
        self,
        run: _Run,
        new: dict[bytes, list[float]],
        vectors: list[tuple[PendingVector, list[float]]],
        progress: ProgressFn | None,
    ) -> bool:
        """Store a batch and account for it at once (progress shows it while the next batch embeds);
        False when the backend took none of it."""
        if self._store is not None and new:
            await self._store.put(new, self._embedder.identity.dimension)
        stored = await self._backend.fill_vectors(vectors)
        if stored == 0:  # never loop on chunks the backend will not take (cannot happen under the lock)
            log.warning("%d pending vectors could not be filled in; the next run tries again", len(vectors))
            return False
        run.vectors_stored += stored
        run.vectors_pending = max(run.vectors_pending - stored, 0)
        await _report(progress, run.progress(VECTORS))
        return True

    async def _stored_vectors(self, texts: list[str]) -> list[list[float] | None]:
        """The vector store's vectors for ``texts`` (None where it has none): no model call."""
        if self._store is None or not texts:
            return [None] * len(texts)
        identity = self._embedder.identity
        keys = [vector_key(identity, text) for text in texts]
        found = await self._store.get(keys, identity.dimension)
        return [found.get(key) for key in keys]

    async def _vectors_for(self, run: _Run, texts: list[str]) -> tuple[dict[bytes, list[float]], list[list[float]]]:
        """Vectors for ``texts``: the vector store's where it has them, the model's for the rest (one
        call per distinct text); also the model's by key, for the caller to keep in the store."""
        if not texts:
            return {}, []
        identity = self._embedder.identity
        keys = [vector_key(identity, text) for text in texts]
        found = await self._store.get(keys, identity.dimension) if self._store is not None else {}
        todo = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        new: dict[bytes, list[float]] = {}
        if todo:
            try:
                made = await self._embedder.aembed_documents(list(todo.values()))
            except EmbeddingError:
                raise
            except Exception as exc:
                raise _embed_error(len(todo), exc) from exc
            new = dict(zip(todo, made, strict=True))
            found.update(new)
        run.embedded += len(todo)
        return new, [found[key] for key in keys]

    # -- the streaming part -------------------------------------------------------------------------
    def _prepare(self, root: Path, cand: Candidate, old: FileRecord | None, force: bool) -> _Prepared:
        prepared = _Prepared(cand, old, language=detect_language(cand.rel_path))
        try:
            text = read_text(cand.abs_path, self._settings.max_file_bytes, root=root)
        except SkipFile as exc:
            prepared.skip_reason = str(exc)
            return prepared
        prepared.sha256 = text.sha256
        prepared.skip_reason = self._filetypes.skip_by_content(cand.rel_path, text.text)
        if prepared.skip_reason is None and (old is None or old.sha256 != text.sha256 or force):
            prepared.chunks = chunk_text(text.text, prepared.language, self._limits)
        return prepared

    async def _produce(
        self,
        root: Path,
        todo: list[tuple[Candidate, FileRecord | None]],
        queue: asyncio.Queue[_Prepared | None],
        force: bool,
    ) -> None:
        try:
            for cand, old in todo:
                await queue.put(await asyncio.to_thread(self._prepare, root, cand, old, force))
        except asyncio.CancelledError:
            raise  # the consumer stopped: nobody is left to tell (and the queue may be full)
        except BaseException:
            await queue.put(None)  # let the consumer stop; awaiting this task then re-raises
            raise
        await queue.put(None)

    async def _process(
        self, run: _Run, todo: list[tuple[Candidate, FileRecord | None]], progress: ProgressFn | None
    ) -> None:
        queue: asyncio.Queue[_Prepared | None] = asyncio.Queue(maxsize=_QUEUE_FILES)
        producer = asyncio.create_task(self._produce(Path(run.root), todo, queue, run.force))
        pending: list[_Prepared] = []
        touched: list[FileRecord] = []
        try:
            while (item := await queue.get()) is not None:
                run.done += 1
                if item.skip_reason:
                    run.report.skip(item.candidate.rel_path, item.skip_reason)
                elif item.old is not None and item.old.sha256 == item.sha256 and not run.force:
                    touched.append(_record(item))
                    run.kept.add(item.candidate.rel_path)
                    run.unchanged += 1
                else:
                    pending.append(item)
                    if sum(len(p.chunks) for p in pending) >= self._flush_chunks:
                        await self._flush(run, pending, progress)
                        pending = []
            await producer  # re-raises a failure in reading or chunking
            await self._flush(run, pending, progress)
            await self._backend.touch_files(run.root, touched)
        finally:
            if not producer.done():
                producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)

    async def _flush(self, run: _Run, batch: list[_Prepared], progress: ProgressFn | None) -> None:
        """Phase 1 for a batch of whole files: written with the vectors the store has, the rest pending."""
        if not batch:
            return
        texts = [embedding_text(p.candidate.rel_path, c) for p in batch for c in p.chunks]
        vectors = await self._stored_vectors(texts)
        it = iter(zip(texts, vectors, strict=True))
        writes = [
            FileWrite(_record(p), chunk_records(run.root, p.candidate.rel_path, p.language, p.chunks, it))
            for p in batch
        ]
        await self._backend.write_files(run.root, writes)
        run.indexed += len(batch)
        run.chunks_written += len(texts)
        run.chunks_replaced += sum(p.old.chunk_count for p in batch if p.old is not None)
        run.kept.update(p.candidate.rel_path for p in batch)
        reused = sum(v is not None for v in vectors)
        run.vectors_stored += reused
        run.vectors_pending += len(texts) - reused
        await _report(progress, run.progress(KEYWORDS))


def chunk_records(
    root: str,
    rel_path: str,
    language: str,
    chunks: Sequence[Chunk],
    embedded: Iterator[tuple[str, list[float]]] | Iterator[tuple[str, list[float] | None]],
) -> list[ChunkRecord]:
    """One file's chunks as stored: ids by (root, path, ordinal), each with the text embedded and its vector.

    ``embedded`` yields (embedded text, vector or None for pending) pairs in chunk order; one per chunk.
    """
    records = []
    for ordinal, chunk in enumerate(chunks):
        search_text, vector = next(embedded)
        records.append(
            ChunkRecord(
                id=chunk_id(root, rel_path, ordinal),
                rel_path=rel_path,
                ordinal=ordinal,
                start_line=chunk.start_line,
                end_line=chunk.end_line,
                language=chunk.language or language,
                symbol=chunk.symbol,
                text=chunk.text,
                search_text=search_text,
                embedding=vector,
            )
        )
    return records


def _embed_error(count: int, exc: Exception) -> EmbeddingError:
    return EmbeddingError(
        f"the embedding model failed on a batch of {count} chunks: {exc}. Every file this run wrote is searchable "
        "by keyword; call index_path again (once the model works) to fill in the missing vectors."
    )


def _common_folder(rel_paths: Sequence[str]) -> str:
    """The deepest folder holding every path ('' for the root)."""
    if not rel_paths:
        return ""
    parts = [p.split("/")[:-1] for p in rel_paths]
    common: list[str] = []
    for column in zip(*parts, strict=False):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    return "/".join(common)


def _self_and_ancestors(rel_path: str) -> list[str]:
    """'a/b/c.py' -> ['a', 'a/b', 'a/b/c.py']."""
    parts = rel_path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _scope_filter(include: Sequence[str], exclude: Sequence[str]) -> Callable[[str], bool]:
    inc = compile_globs(include, "include")
    exc = compile_globs(exclude, "exclude")

    def in_scope(rel_path: str) -> bool:
        return (inc is None or inc.match_file(rel_path)) and not (exc is not None and exc.match_file(rel_path))

    return in_scope


def _record(p: _Prepared) -> FileRecord:
    c = p.candidate
    return FileRecord(c.rel_path, c.size, c.mtime_ns, p.sha256, len(p.chunks), p.language)


def _embedding_text(pending: PendingVector) -> str:
    """The text a pending chunk was written to be embedded with (as ``_flush`` made it)."""
    return embedding_text(pending.rel_path, Chunk(pending.text, 0, 0, pending.symbol))


async def _report(progress: ProgressFn | None, event: IndexProgress) -> None:
    if progress is None:
        return
    try:
        await progress(event)
    except Exception as exc:  # noqa: BLE001 - a client that cannot take progress must not stop indexing
        log.debug("progress notification failed: %s", exc)


def _index_result(
    run: _Run, scope: str, removed: int, chunks_removed: int, stats: object, seconds: float
) -> IndexResult:
    reasons = Counter(_reason_key(reason) for _, reason in run.report.skipped)
    total_files = getattr(stats, "files", 0)
    total_chunks = getattr(stats, "chunks", 0)
    summary = (
        f"Indexed {run.indexed} new/changed files ({run.chunks_written} chunks, {run.embedded} of them embedded, "
        f"the rest reused), {run.unchanged} unchanged, "
        f"{removed} removed, {len(run.report.skipped)} skipped in {seconds:.1f}s. "
        f"The index now holds {total_files} files / {total_chunks} chunks under {run.root}."
    )
    result = IndexResult(
        root=run.root,
        scope=scope or ".",
        files_indexed=run.indexed,
        files_unchanged=run.unchanged,
        files_removed=removed,
        files_skipped=len(run.report.skipped),
        skipped_by_reason=dict(reasons),
        skipped=[SkippedFile(path=p, reason=r) for p, r in run.report.skipped[:_MAX_LISTED_SKIPS]],
        chunks_written=run.chunks_written,
        chunks_replaced=run.chunks_replaced,
        chunks_embedded=run.embedded,
        vectors_pending=run.vectors_pending,
        chunks_removed=chunks_removed,
        total_files=total_files,
        total_chunks=total_chunks,
        seconds=seconds,
        summary=summary,
    )
    if run.vectors_pending:
        result.add_note(
            f"{run.vectors_pending} chunks still wait for their vectors (searchable by keyword meanwhile): "
            "the next index_path fills them in."
        )
    not_read = sum(reasons[k] for k in SKIP_KINDS)
    if not_read:
        result.add_note(f"{not_read} of the skipped files are data or generated: {HOW_TO_INDEX_ANYWAY}.")
    if total_chunks == 0:
        result.add_note("Nothing searchable was found: check the path and the include/exclude globs.")
    return result


def _reason_key(reason: str) -> str:
    """'too large (123 bytes > ...)' -> 'too large'."""
    return reason.split(" (", 1)[0]
