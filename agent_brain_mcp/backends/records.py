"""The values the storage interface passes around: file records, chunks, filters, hits, stats.

Apart from ``base.py`` so that modules that only rank hits (``fusion.py``, ``ranking.py``) need not
import the interface (``base.py`` imports ``fusion.py`` for its default hybrid search).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


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
