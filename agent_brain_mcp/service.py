"""The retrieval service: what the tools (and the CLI) call. Knows interfaces, not libraries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from agent_brain_mcp.answers import answer
from agent_brain_mcp.backends.base import Backend, SearchFilters
from agent_brain_mcp.config import IndexingSettings
from agent_brain_mcp.embeddings.base import EmbeddingProvider
from agent_brain_mcp.errors import (
    AgentBrainError,
    IndexBusyError,
    IndexMismatchError,
    InvalidInputError,
    NotIndexedError,
)
from agent_brain_mcp.fusion import DEFAULT_ALPHA, DEFAULT_RRF_K
from agent_brain_mcp.indexing.fsread import is_unicode, printable_path
from agent_brain_mcp.indexing.pipeline import PIPELINE_VERSION, Indexer, ProgressFn
from agent_brain_mcp.jobs import Job, JobRegistry
from agent_brain_mcp.models import IndexJob, IndexResult, IndexStatus, RootStatus, SearchResult
from agent_brain_mcp.query_terms import QueryTerms, analyse, focused_text, keyword_text, vector_windows
from agent_brain_mcp.ranking import DEFAULT_MAX_PER_FILE
from agent_brain_mcp.search_options import DEFAULT_LONG_QUERY, MAX_TOP_K, SearchOptions, mean_direction

if TYPE_CHECKING:
    from agent_brain_mcp.watcher import IndexWatcher

log = logging.getLogger(__name__)

MAX_PATH_PREFIX_CHARS = 4096  # PATH_MAX; SQLite refuses LIKE patterns over 50,000 bytes
# How long an indexing run waits for another process's run to release the index before giving up.
WRITER_LOCK_TIMEOUT_S = 30.0
# How long the file watcher's batch waits for another process's run before retrying later.
WATCH_LOCK_TIMEOUT_S = 1.0
# How long cancel_indexing waits for a job to stop at a batch boundary before cancelling it outright.
CANCEL_GRACE_S = 10.0


class RetrievalService:
    def __init__(
        self,
        backend: Backend,
        embedder: EmbeddingProvider,
        indexing: IndexingSettings,
        project_dir: Path,
        allowed_roots: Sequence[Path] | None = None,
    ) -> None:
        self.backend = backend
        self.embedder = embedder
        self._indexing = indexing
        self._project_dir = project_dir
        self._allowed = [p.resolve() for p in (allowed_roots or [project_dir])]
        self._write_lock = asyncio.Lock()
        self._foreground_runs = 0  # index_path calls running now (the watcher's batches are not counted)
        self._jobs = JobRegistry()
        self._mismatch: IndexMismatchError | None = None
        self.watcher: IndexWatcher | None = None

    async def check_identity(self) -> None:
        """Refuse to mix vectors of two models: remember a mismatch and report it on every call."""
        current = self.embedder.identity
        await self.backend.prepare(current)
        reason = self.backend.rebuild_reason()
        if reason is not None:
            self._mismatch = IndexMismatchError(reason)
            log.info("%s", self._mismatch)  # every call reports it; a CLI command prints it once
            return
        recorded = await self.backend.get_identity()
        if recorded is not None and recorded != current:
            self._mismatch = IndexMismatchError(
                f"The index at {self.backend.info().location} was built with {recorded.describe()}, "
                f"but the config selects {current.describe()}. Vectors of different models cannot be "
                f"compared. Either set embedding back to provider={recorded.provider!r}, "
                f"model={recorded.model!r} in the config, or rebuild the index with the new model: "
                "call index_path(path, force=true) (this drops every indexed root; index each again)."
            )
            log.info("%s", self._mismatch)  # every call reports it; a CLI command prints it once

    def _refuse_if_mismatched(self) -> None:
        if self._mismatch is not None:
            raise self._mismatch

    def start_watching(self) -> None:
        """Index edits under the indexed roots as they happen, until ``close`` (see watcher.py)."""
        from agent_brain_mcp.watcher import IndexWatcher

        if self.watcher is None:
            walker = Indexer(self.backend, self.embedder, self._indexing).walker()
            self.watcher = IndexWatcher(
                self._watchable_roots,
                self.refresh_paths,
                walker,
                debounce_s=self._indexing.watch_debounce_ms / 1000,
                force_polling=self._indexing.watch_polling,
            )
            self.watcher.start()

    async def _watchable_roots(self) -> list[Path]:
        return [Path(r) for r in await self.backend.roots() if Path(r).is_dir()]

    async def refresh_paths(self, root: Path, paths: Sequence[Path]) -> IndexResult | None:
        """Index what changed at ``paths`` under the indexed ``root`` (the watcher's batch); None when
        the root needs a full ``index_path`` first (another model or pipeline version, or not indexed)."""
        async with self._write_lock, self.backend.writer_lock(WATCH_LOCK_TIMEOUT_S):
            stored = await self.backend.pipeline_version(root.as_posix())
            if (
                self._mismatch is not None
                or stored != PIPELINE_VERSION
                or root.as_posix() not in await self.backend.roots()
            ):
                return None
            return await Indexer(self.backend, self.embedder, self._indexing).refresh(root, paths)

    async def close(self) -> None:
        if self.watcher is not None:
            await self.watcher.close()
        tasks = [j.task for j in self._jobs.all() if j.task is not None and not j.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self.backend.close()
        finally:
            self.embedder.close()

    # -- indexing ---------------------------------------------------------------------------------
    def _resolve_target(self, path: str) -> Path:
        if not isinstance(path, str) or not path.strip():
            raise InvalidInputError("path is empty: give a folder or file to index, e.g. '.' for the project")
        if "\x00" in path:
            raise InvalidInputError("path contains a NUL character")
        raw = Path(path.strip()).expanduser()
        target = raw if raw.is_absolute() else self._project_dir / raw
        try:
            target = target.resolve(strict=True)
        except FileNotFoundError:
            raise InvalidInputError(
                f"path {path!r} does not exist (resolved to {target}). Relative paths start at {self._project_dir}."
            ) from None
        except (OSError, RuntimeError) as exc:
            raise InvalidInputError(f"path {path!r} cannot be resolved: {exc}") from None
        if not (target.is_dir() or target.is_file()):
            raise InvalidInputError(f"path {path!r} is neither a folder nor a regular file")
        folder = target if target.is_dir() else target.parent
        if not is_unicode(folder.as_posix()):
            raise InvalidInputError(
                f"the folder {printable_path(folder.as_posix())} has a name that is not valid UTF-8: index the "
                "folder above it (its files are then indexed under a printable form of their names)"
            )
        if not any(target.is_relative_to(allowed) for allowed in self._allowed):
            allowed = ", ".join(str(a) for a in self._allowed)
            raise InvalidInputError(
                f"path {path!r} (resolved to {target}) is outside the folders this server may index ({allowed}). "
                "Add it to security.allowed_roots in the config to allow it."
            )
        return target

    async def _choose_root(self, target: Path) -> Path:
        """An indexed root that contains ``target``; else a new root (absorbing roots inside it)."""
        roots = [Path(r) for r in await self.backend.roots()]
        for root in roots:
            if target == root or target.is_relative_to(root):
                return root
        new_root = target if target.is_dir() else target.parent
        for root in roots:
            if root.is_relative_to(new_root):
                log.info("root %s is inside %s: merging it into the new root", root, new_root)
                await self.backend.remove_root(root.as_posix())
        return new_root

    def _refuse_if_busy(self) -> None:
        """One run per index: a second one in this server fails at once rather than queueing."""
        job = self._jobs.running()
        if job is None and self._foreground_runs:
            raise IndexBusyError(
                "Another index_path run is in progress in this server. Wait for it to finish (index_status "
                "shows the index), then call index_path again. Searches keep working meanwhile."
            )
        if job is not None:
            raise IndexBusyError(
                f"A background indexing job (job_id {job.id!r}, path {job.path!r}) is running: "
                f"{job.files_done}/{job.files_total if job.files_total is not None else '?'} files so far. "
                "Follow it with index_status, or stop it with cancel_indexing, then call index_path again. "
                "Searches keep working meanwhile."
            )

    async def index_path(
        self,
        path: str,
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        force: bool = False,
        progress: ProgressFn | None = None,
        background: bool = False,
    ) -> IndexResult:
        """Index ``path``; with ``background`` start a job and return at once with its ``job_id``."""
        target = self._resolve_target(path)
        self._refuse_if_busy()
        if not background:
            self._foreground_runs += 1  # a watcher batch holding the lock is waited for, never "busy"
            try:
                return await self._index(target, include, exclude, force, progress)
            finally:
                self._foreground_runs -= 1
        job = Job(path=path)
        job.task = asyncio.create_task(
            self._run_job(job, target, include, exclude, force), name=f"agent-brain-index-{job.id}"
        )
        self._jobs.add(job)
        root = await self._planned_root(target)
        return IndexResult(
            root=root.as_posix(),
            scope="." if target == root else target.relative_to(root).as_posix(),
            files_indexed=0,
            files_unchanged=0,
            files_removed=0,
            files_skipped=0,
            chunks_written=0,
            chunks_removed=0,
            total_files=0,
            total_chunks=0,
            seconds=0.0,
            summary=(
                f"Started background indexing job {job.id} for {target}. Follow it with index_status "
                "(jobs), stop it with cancel_indexing. Searches work meanwhile, over what is indexed so far."
            ),
            status="started",
            job_id=job.id,
        )

    async def _run_job(
        self, job: Job, target: Path, include: Sequence[str], exclude: Sequence[str], force: bool
    ) -> None:
        try:
            result = await self._index(target, include, exclude, force, job.progress)
        except asyncio.CancelledError:
            job.finish("cancelled")
            log.info("indexing job %s cancelled after %d files", job.id, job.files_done)
        except Exception as exc:
            if not isinstance(exc, AgentBrainError):
                log.exception("indexing job %s failed", job.id)
            job.finish("failed", error=str(exc) or type(exc).__name__)
        else:
            job.finish("done", result=result)

    async def cancel_indexing(self, job_id: str | None = None) -> IndexJob:
        """Stop the running job (or ``job_id``) at its next batch boundary; returns its final state."""
        job = self._jobs.get(job_id) if job_id else self._jobs.running()
        if job is None:
            if job_id:
                raise InvalidInputError(f"no indexing job {job_id!r}: index_status lists the recent jobs")
            raise InvalidInputError("no indexing job is running: nothing to cancel")
        if job.running and job.task is not None:
            job.cancel_requested = True
            stopped = asyncio.ensure_future(job.stopped.wait())
            await asyncio.wait({job.task, stopped}, timeout=CANCEL_GRACE_S, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not job.task.done():
                # Past the boundary only clean-up remains (the pipeline's reader may be blocked on its
                # full queue). No boundary within the grace (a long walk, waiting for another writer):
                # cancel outright; writes are whole-file batches, manifest last, so that is safe too.
                job.task.cancel()
                await asyncio.gather(job.task, return_exceptions=True)
        return job.snapshot()

    def jobs(self) -> list[IndexJob]:
        return self._jobs.snapshots()

    async def _planned_root(self, target: Path) -> Path:
        """The root a run on ``target`` will use (what ``_choose_root`` picks, without its side effects)."""
        for root in (Path(r) for r in await self.backend.roots()):
            if target == root or target.is_relative_to(root):
                return root
        return target if target.is_dir() else target.parent

    @property
    def indexing_settings(self) -> IndexingSettings:
        """How files are cut into chunks (documents added through the LlamaIndex bridge are cut the same way)."""
        return self._indexing

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Hold the index for a write that is not an ``index_path`` run (the LlamaIndex bridge's documents).

        The same rules as a run: one writer (this process's lock, then the backend's writer lock),
        no vectors of another model, and an empty index records the model it is built with.
        """
        self._refuse_if_busy()
        async with self._write_lock, self.backend.writer_lock(WRITER_LOCK_TIMEOUT_S):
            self._refuse_if_mismatched()
            if await self.backend.get_identity() is None:
                await self.backend.set_identity(self.embedder.identity)
            yield

    async def _index(
        self,
        target: Path,
        include: Sequence[str],
        exclude: Sequence[str],
        force: bool,
        progress: ProgressFn | None,
    ) -> IndexResult:
        async with self._write_lock, self.backend.writer_lock(WRITER_LOCK_TIMEOUT_S):
            if self._mismatch is not None:
                if not force:
                    raise self._mismatch
                log.warning("rebuilding the index for %s", self.embedder.identity.describe())
                await self.backend.reset()
                self._mismatch = None
            if await self.backend.get_identity() is None:
                await self.backend.set_identity(self.embedder.identity)
            root = await self._choose_root(target)
            stored = await self.backend.pipeline_version(root.as_posix())
            upgrade = stored is not None and stored != PIPELINE_VERSION and not force
            if upgrade:
                log.warning("%s was indexed by pipeline version %s: re-indexing it all", root, stored)
            indexer = Indexer(self.backend, self.embedder, self._indexing)
            result = await indexer.run(
                root, target, include=include, exclude=exclude, force=force or upgrade, progress=progress
            )
            if target == root or stored is None:
                await self.backend.set_pipeline_version(root.as_posix(), PIPELINE_VERSION)
            if upgrade:
                result.add_note("(The chunker/tokeniser changed since the last run, so every file was re-indexed.)")
        if self.watcher is not None:
            self.watcher.roots_changed()
        return result

    # -- search -----------------------------------------------------------------------------------
    async def _prepare_query(
        self, query: str, top_k: int, path_prefix: str | None, language: str | None, options: SearchOptions
    ) -> tuple[QueryTerms, SearchFilters, int]:
        self._refuse_if_mismatched()
        options.check()
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError("query is empty: describe what you are looking for in a few words")
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidInputError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
        if path_prefix is not None and len(path_prefix) > MAX_PATH_PREFIX_CHARS:
            raise InvalidInputError(
                f"path_prefix must be at most {MAX_PATH_PREFIX_CHARS} characters (a folder or file path), "
                f"got {len(path_prefix)}"
            )
        stats = await self.backend.stats()
        chunks = sum(s.chunks for s in stats)
        if chunks == 0:
            raise NotIndexedError(
                "Nothing is indexed yet. Call index_path with the project folder (e.g. path='.') first, "
                "then search again."
            )
        filters = SearchFilters(path_prefix=(path_prefix or None), language=(language or "").lower() or None)
        return analyse(query), filters, chunks

    async def _embed_query(self, terms: QueryTerms, long_query: str) -> list[float]:
        """One vector for the query: a long one as its focused rewrite, or in windows (one batch) averaged."""
        texts = vector_windows(terms) if long_query == "windows" else [focused_text(terms)]
        vectors = await asyncio.gather(*(self.embedder.aembed_query(t) for t in texts))
        return mean_direction(vectors)

    async def search(
        self,
        query: str,
        top_k: int = 10,
        path_prefix: str | None = None,
        language: str | None = None,
        max_chars: int | None = None,
        *,
        group_by: str = "chunk",
        max_per_file: int | None = DEFAULT_MAX_PER_FILE,
        kind: str | None = None,
        long_query: str = DEFAULT_LONG_QUERY,
    ) -> SearchResult:
        """See SearchOptions for ``group_by``, ``max_per_file``, ``kind`` and ``long_query``."""
        opts = SearchOptions(max_chars, group_by, max_per_file, kind, long_query)
        terms, filters, chunks = await self._prepare_query(query, top_k, path_prefix, language, opts)
        vector = await self._embed_query(terms, opts.long_query)
        hits = await self.backend.vector_search(vector, opts.depth(top_k), filters)
        for rank, hit in enumerate(hits, start=1):
            hit.vector_rank = rank
        return answer(terms, "vector", hits, chunks, opts.page(top_k, 1.0, DEFAULT_RRF_K, fused=False))

    async def hybrid_search(
        self,
        query: str,
        top_k: int = 10,
        path_prefix: str | None = None,
        language: str | None = None,
        alpha: float | None = None,
        max_chars: int | None = None,
        rrf_k: int = DEFAULT_RRF_K,
        *,
        group_by: str = "chunk",
        max_per_file: int | None = DEFAULT_MAX_PER_FILE,
        kind: str | None = None,
        long_query: str = DEFAULT_LONG_QUERY,
    ) -> SearchResult:
        """``rrf_k`` is not a tool argument: it exists for benchmarks/tune_fusion.py; ``long_query`` neither
        (benchmarks compare its two ways). See SearchOptions for the others."""
        alpha = DEFAULT_ALPHA if alpha is None else alpha
        if not 0.0 <= alpha <= 1.0:
            raise InvalidInputError(f"alpha must be between 0 (keywords only) and 1 (semantic only), got {alpha}")
        opts = SearchOptions(max_chars, group_by, max_per_file, kind, long_query)
        terms, filters, chunks = await self._prepare_query(query, top_k, path_prefix, language, opts)
        vector = await self._embed_query(terms, opts.long_query)
        fetch = opts.depth(top_k)
        hits = await self.backend.hybrid_search(
            vector,
            keyword_text(terms),
            fetch,
            filters,
            alpha=alpha,
            rrf_k=rrf_k,
            candidates=opts.candidates(top_k),
        )
        return answer(terms, "hybrid", hits, chunks, opts.page(top_k, alpha, rrf_k, fused=True))

    async def keyword_search(
        self,
        query: str,
        top_k: int = 10,
        path_prefix: str | None = None,
        language: str | None = None,
        max_chars: int | None = None,
        *,
        group_by: str = "chunk",
        max_per_file: int | None = DEFAULT_MAX_PER_FILE,
        kind: str | None = None,
        long_query: str = DEFAULT_LONG_QUERY,
    ) -> SearchResult:
        """BM25 / full-text ranking alone (the reference the evaluation compares against)."""
        opts = SearchOptions(max_chars, group_by, max_per_file, kind, long_query)
        terms, filters, chunks = await self._prepare_query(query, top_k, path_prefix, language, opts)
        hits = await self.backend.keyword_search(keyword_text(terms), opts.depth(top_k), filters)
        for rank, hit in enumerate(hits, start=1):
            hit.keyword_rank = rank
        return answer(terms, "keyword", hits, chunks, opts.page(top_k, 0.0, DEFAULT_RRF_K, fused=False))

    # -- status -----------------------------------------------------------------------------------
    async def status(self) -> IndexStatus:
        info = self.backend.info()
        stats = await self.backend.stats()
        recorded = await self.backend.get_identity()
        ident = self.embedder.identity
        times = [s.last_indexed for s in stats if s.last_indexed]
        return IndexStatus(
            backend=info.name,
            location=info.location,
            ready=self._mismatch is None,
            problem=str(self._mismatch) if self._mismatch else None,
            embedding_provider=ident.provider,
            embedding_model=ident.model,
            embedding_dimension=ident.dimension,
            index_embedding=recorded.describe() if recorded else None,
            roots=[RootStatus(root=s.root, files=s.files, chunks=s.chunks, last_indexed=s.last_indexed) for s in stats],
            files=sum(s.files for s in stats),
            chunks=sum(s.chunks for s in stats),
            last_indexed=max(times) if times else None,
            jobs=self.jobs(),
            watch=self.watcher.status() if self.watcher is not None else None,
        )
