"""The typed results the tools return (clients get them as ``structuredContent``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SkippedFile(BaseModel):
    path: str = Field(description="Path relative to the indexed root")
    reason: str


class IndexResult(BaseModel):
    """What one ``index_path`` run did."""

    root: str = Field(description="The indexed root folder (absolute); hits' file_path is relative to it")
    scope: str = Field(description="The part of the root this run looked at ('.' for all of it)")
    files_indexed: int = Field(description="New or changed files embedded in this run")
    files_unchanged: int = Field(description="Files whose content hash matched: nothing re-embedded")
    files_removed: int = Field(description="Files gone from disk (or now excluded) whose chunks were deleted")
    files_skipped: int = Field(description="Files passed over: binary, too large, unreadable, ...")
    skipped_by_reason: dict[str, int] = Field(
        default_factory=dict, description="How many files were skipped for each reason ('binary', 'too large', ...)"
    )
    skipped: list[SkippedFile] = Field(default_factory=list, description="The first skipped files")
    chunks_written: int = Field(
        description="Chunks stored in this run: all the chunks of the new or changed files (embedded or reused)"
    )
    chunks_embedded: int = Field(
        default=0,
        description="Chunks the model embedded; the rest of chunks_written reused vectors of the same text",
    )
    vectors_pending: int = Field(
        default=0,
        description="Chunks of the index still waiting for their vector when the run ended (searchable by keyword)",
    )
    chunks_replaced: int = Field(
        default=0,
        description="Old chunks of the changed files that this run's chunks replaced (deleted, then written anew)",
    )
    chunks_removed: int = Field(
        description="Chunks deleted because their file is gone or now excluded (not counting replaced ones)"
    )
    total_files: int = Field(description="Files now in the index under this root")
    total_chunks: int = Field(description="Chunks now in the index under this root")
    seconds: float = Field(description="Wall-clock time of the run")
    summary: str = Field(description="The counts in one sentence, plus anything worth knowing about the run")
    notes: list[str] = Field(
        default_factory=list, description="Anything worth knowing about the run, beyond the counts (also in summary)"
    )
    status: str = Field(
        default="done", description="'done' for a finished run; 'started' when background=true (see job_id)"
    )
    job_id: str | None = Field(
        default=None, description="The background job's id: follow it with index_status, stop it with cancel_indexing"
    )

    def add_note(self, note: str) -> None:
        """Record something worth knowing about the run, in ``notes`` and at the end of ``summary``."""
        self.notes.append(note)
        self.summary = f"{self.summary} {note}"


class IndexJob(BaseModel):
    """A background indexing run (``index_path(background=true)``)."""

    id: str
    path: str = Field(description="The path the job indexes, as given")
    state: str = Field(description="'running', 'done', 'failed' or 'cancelled'")
    phase: str | None = Field(
        default=None,
        description="While running: 'walk', 'keywords' (files made searchable by keyword) or 'vectors' (filling in)",
    )
    files_done: int = Field(description="Files checked so far (unchanged ones included)")
    files_total: int | None = Field(default=None, description="Files to check, once the walk has finished")
    chunks: int = Field(description="Vectors stored so far (embedded, or reused from the vector store)")
    chunks_keyword_indexed: int = Field(default=0, description="Chunks written so far: searchable by keyword")
    vectors_pending: int = Field(default=0, description="While running: chunks still waiting for their vector")
    rate: float | None = Field(default=None, description="Vectors stored per second")
    eta_seconds: float | None = Field(default=None, description="Estimated seconds left, while running")
    started: str = Field(description="ISO 8601 UTC")
    finished: str | None = Field(default=None, description="ISO 8601 UTC, once no longer running")
    error: str | None = Field(default=None, description="Why the job failed")
    result: IndexResult | None = Field(default=None, description="What the run did, once done")


class SearchHit(BaseModel):
    file_path: str = Field(description="Path relative to `root`")
    root: str = Field(description="The indexed root folder (absolute)")
    start_line: int = Field(description="First line of the chunk, 1-based")
    end_line: int = Field(description="Last line of the chunk, inclusive")
    language: str
    symbol: str | None = Field(default=None, description="Enclosing section or symbol, when known")
    score: float = Field(description="Higher is better; cosine similarity for search, fused score for hybrid")
    vector_rank: int | None = Field(default=None, description="1-based rank on the semantic side, if any")
    keyword_rank: int | None = Field(default=None, description="1-based rank on the keyword side, if any")
    text: str


class FileHit(BaseModel):
    """One file of a ``group_by="file"`` search: ranked by the evidence of all its chunks."""

    file_path: str = Field(description="Path relative to `root`")
    root: str = Field(description="The indexed root folder (absolute)")
    language: str
    score: float = Field(description="Higher is better: the file's best chunks' scores, added up with decay")
    vector_rank: int | None = Field(default=None, description="Best rank of its chunks on the semantic side")
    keyword_rank: int | None = Field(default=None, description="Best rank of its chunks on the keyword side")
    defines: bool = Field(default=False, description="A chunk of it defines a name or message the query gives")
    path_named: bool = Field(default=False, description="The query spells out this file's path")
    hits: list[SearchHit] = Field(description="Its best chunks (line ranges and text), best first")


class SearchResult(BaseModel):
    query: str
    mode: str = Field(description="'vector', 'hybrid' or 'keyword'")
    hits: list[SearchHit] = Field(description="Chunk results, best first (empty when group_by='file': see files)")
    chunks_in_index: int
    vector_coverage: float = Field(
        default=1.0,
        description="Share of the index's chunks that have their vector (below 1 while indexing fills them in: "
        "the semantic side cannot see the rest, the keyword side sees everything)",
    )
    truncated: bool = Field(default=False, description="True when max_chars cut the last hit or left hits out")
    files: list[FileHit] | None = Field(
        default=None, description="With group_by='file': files best first, each with its best chunks"
    )


class RootStatus(BaseModel):
    root: str
    files: int
    chunks: int
    vectors_pending: int = Field(default=0, description="Chunks searchable by keyword still waiting for their vector")
    vector_coverage: float = Field(default=1.0, description="Share of the chunks that have their vector")
    last_indexed: str | None = Field(default=None, description="ISO 8601 UTC time of the last run")


class WatchStatus(BaseModel):
    """The file watcher: edits under indexed roots are indexed without a call (``indexing.watch``)."""

    enabled: bool
    mode: str = Field(
        description="'native' (OS events), 'polling' (fallback), 'idle' (no indexed root yet), 'off' (see error)"
    )
    roots: list[str] = Field(default_factory=list, description="The indexed roots being watched")
    pending_changes: int = Field(description="Changed paths seen but not yet indexed (a batch waits for quiet)")
    batches: int = Field(default=0, description="Batches that changed the index since the server started")
    last_update: str | None = Field(default=None, description="ISO 8601 UTC time the last such batch finished")
    last_summary: str | None = Field(default=None, description="What the last batch did")
    error: str | None = Field(default=None, description="Why the last batch or the watching failed")


class IndexStatus(BaseModel):
    backend: str
    location: str = Field(description="Where the index lives (folder or server)")
    ready: bool = Field(description="False while the store and model are still loading, or after a failure")
    problem: str | None = Field(default=None, description="What is wrong and how to fix it, if anything")
    embedding_provider: str
    embedding_model: str
    embedding_dimension: int | None
    index_embedding: str | None = Field(default=None, description="The model the index was built with")
    roots: list[RootStatus]
    files: int
    chunks: int
    vectors_pending: int = Field(default=0, description="Chunks searchable by keyword still waiting for their vector")
    vector_coverage: float = Field(
        default=1.0, description="Share of the chunks that have their vector (1.0 once every vector is filled in)"
    )
    last_indexed: str | None
    jobs: list[IndexJob] = Field(
        default_factory=list, description="Recent background indexing jobs, newest first (at most 10)"
    )
    watch: WatchStatus | None = Field(default=None, description="The file watcher; None when indexing.watch is off")
