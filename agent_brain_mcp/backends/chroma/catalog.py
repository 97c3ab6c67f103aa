"""A SQLite file beside the Chroma folder: file manifest, chunk texts for BM25, index identity.

Chroma has no transactions and no keyword ranking; this catalog gives both a consistent record of
what is indexed. Every call is blocking: the Chroma backend runs them off the event loop.

``chunk_log`` is a change feed for the in-memory keyword index (``keyword_index.py``): triggers
append the id of every chunk row inserted or deleted, in the same transaction as the change, so
the keyword index can catch up by reading the log past the position it reflects instead of
re-reading every chunk. The log is pruned up to the position of the last saved keyword snapshot
(``chunk_log_pruned`` in ``meta``); ``catalog_id`` changes on ``reset`` so that no keyword state of
the old contents is ever taken for current. Both were added to layout version 1 without changing
it: a catalog written before them gets the table and triggers on open, and its keyword index is
rebuilt once from the chunk rows.

``awaiting`` lists the chunk rows whose vector is not in Chroma yet (written keyword first, see
docs/ARCHITECTURE.md); ``sent`` marks a batch being added to Chroma right now. A trigger drops a
chunk's entry with the chunk. Also added without a layout change: an older catalog has none.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from agent_brain_mcp.backends.base import ChunkRecord, FileRecord, RootStats
from agent_brain_mcp.backends.store_rules import like_prefix, path_prefix_sql, under_folder_pattern

SCHEMA_VERSION = "1"
SCHEMA_KEY = "schema_version"
# meta keys of the write protocol: the store was last compared whole with the vector store by this
# protocol version; and "the vector store may hold anything: compare whole before the next write".
PROTOCOL_KEY = "store_protocol"
PROTOCOL_VERSION = "1"
RECONCILE_KEY = "reconcile_vectors"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (root TEXT PRIMARY KEY, last_indexed TEXT);
CREATE TABLE IF NOT EXISTS files (
    root TEXT NOT NULL, rel_path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, chunk_count INTEGER NOT NULL, language TEXT NOT NULL,
    PRIMARY KEY (root, rel_path)
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, root TEXT NOT NULL, rel_path TEXT NOT NULL, ordinal INTEGER NOT NULL,
    start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, language TEXT NOT NULL, symbol TEXT,
    text TEXT NOT NULL, tokens TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks (root, rel_path);
CREATE TABLE IF NOT EXISTS chunk_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS chunks_logged_insert AFTER INSERT ON chunks
    BEGIN INSERT INTO chunk_log (id) VALUES (new.id); END;
CREATE TRIGGER IF NOT EXISTS chunks_logged_delete AFTER DELETE ON chunks
    BEGIN INSERT INTO chunk_log (id) VALUES (old.id); END;
CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY, root TEXT NOT NULL, rel_path TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS awaiting (id TEXT PRIMARY KEY, sent INTEGER NOT NULL DEFAULT 0);
CREATE TRIGGER IF NOT EXISTS chunks_awaiting_gone AFTER DELETE ON chunks
    BEGIN DELETE FROM awaiting WHERE id = old.id; END;
"""

_ID_BATCH = 500

# id, root, rel_path, language, space-separated tokens
ChunkTokens = tuple[str, str, str, str, str]


@dataclass
class ChunkChanges:
    """What the keyword index needs to catch up, read in one read transaction."""

    catalog_id: str
    generation: int
    head: int  # the change-log position this read reflects
    complete: bool  # False when ``limit`` cut the read short: more changes follow ``head``
    gap: bool = False  # the log was pruned past ``after``: the caller must start from a snapshot
    changed: list[str] = field(default_factory=list)  # distinct ids inserted or deleted since ``after``
    rows: list[ChunkTokens] = field(default_factory=list)  # the current rows of those (or of all chunks)


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class Catalog:
    """Thread-safe access to one SQLite catalog file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._reader: sqlite3.Connection | None = None  # bulk reads for the keyword index
        self._reader_lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('catalog_id', ?)", (uuid.uuid4().hex,))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    # -- identity and generation -------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, values: dict[str, str]) -> None:
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())

    def generation(self) -> int:
        """Grows with every commit that changes chunks (never restarts, not even on ``reset``)."""
        return int(self.get_meta("generation") or 0)

    def schema_version(self) -> str | None:
        """The layout version the catalog was written with (None: a new, empty catalog)."""
        return self.get_meta(SCHEMA_KEY)

    def compared_under_protocol(self) -> bool:
        """The vector store was last compared whole by this protocol version, and no reset is unfinished."""
        return self.get_meta(RECONCILE_KEY) is None and self.get_meta(PROTOCOL_KEY) == PROTOCOL_VERSION

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def reset(self) -> None:
        with self._tx() as db:
            for table in ("roots", "files", "chunks"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            # The generation only ever grows: restarting it would let a saved keyword index of the
            # old contents pass for current once the rebuild reaches the same number. A new
            # catalog_id retires every keyword state of the old contents, so their log goes too.
            db.execute("DELETE FROM chunk_log")
            db.execute("DELETE FROM meta WHERE key NOT IN ('generation', 'chunk_log_pruned')")
            db.execute("INSERT INTO meta (key, value) VALUES ('catalog_id', ?)", (uuid.uuid4().hex,))
            db.execute("DELETE FROM pending")
            db.execute("DELETE FROM awaiting")
            # Committed with the reset: until the vector store is emptied too, a writer reconciles.
            db.execute("INSERT INTO meta (key, value) VALUES (?, '1')", (RECONCILE_KEY,))
            self._bump(db)

    # -- manifest -------------------------------------------------------------------------------
    def roots(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT root FROM roots ORDER BY root")]

    def file_records(self, root: str, scope: str = "") -> dict[str, FileRecord]:
        sql = "SELECT rel_path, size, mtime_ns, sha256, chunk_count, language FROM files WHERE root = ?"
        args: list[str] = [root]
        if scope:
            sql += " AND (rel_path = ? OR rel_path LIKE ? ESCAPE '\\')"
            args += [scope, under_folder_pattern(scope)]
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return {r[0]: FileRecord(*r) for r in rows}

    def write_files(self, root: str, files: Sequence[tuple[FileRecord, Sequence[ChunkRecord], list[str]]]) -> None:
        """Replace chunks and records of ``files`` (record, chunks, tokens per chunk) in one transaction.

        The same transaction settles the files' intent records (``begin_write``): the write is done.
        """
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO roots (root) VALUES (?)", (root,))
            for record, chunks, tokens in files:
                db.execute("DELETE FROM chunks WHERE root = ? AND rel_path = ?", (root, record.rel_path))
                db.executemany(
                    "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (c.id, root, c.rel_path, c.ordinal, c.start_line, c.end_line, c.language, c.symbol, c.text, t)
                        for c, t in zip(chunks, tokens, strict=True)
                    ],
                )
                db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (root, record.rel_path, record.size, record.mtime_ns, record.sha256, record.chunk_count,
                     record.language),
                )  # fmt: skip
                db.execute("DELETE FROM pending WHERE root = ? AND rel_path = ?", (root, record.rel_path))
                db.executemany(
                    "INSERT OR REPLACE INTO awaiting (id) VALUES (?)", [(c.id,) for c in chunks if c.embedding is None]
                )
            self._bump(db)

    def touch_files(self, root: str, records: Sequence[FileRecord]) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE files SET size = ?, mtime_ns = ? WHERE root = ? AND rel_path = ?",
                [(r.size, r.mtime_ns, root, r.rel_path) for r in records],
            )

    def remove_files(self, root: str, rel_paths: Sequence[str]) -> list[str]:
        """Delete files and their chunk rows; their chunk ids become intent records (see ``pending``).

        Returns those ids: the caller deletes them from the vector store, then calls ``settle``.
        """
        with self._tx() as db:
            for rel in rel_paths:
                db.execute(
                    "INSERT OR IGNORE INTO pending SELECT id, root, rel_path FROM chunks WHERE root = ? AND rel_path = ?",
                    (root, rel),
                )
                db.execute("DELETE FROM chunks WHERE root = ? AND rel_path = ?", (root, rel))
                db.execute("DELETE FROM files WHERE root = ? AND rel_path = ?", (root, rel))
            self._bump(db)
            return self._pending_ids(db, root, rel_paths)

    def remove_root(self, root: str) -> list[str]:
        """``remove_files`` for a whole root, and the root itself."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO pending SELECT id, root, rel_path FROM chunks WHERE root = ?", (root,))
            db.execute("DELETE FROM chunks WHERE root = ?", (root,))
            db.execute("DELETE FROM files WHERE root = ?", (root,))
            db.execute("DELETE FROM roots WHERE root = ?", (root,))
            self._bump(db)
            return [r[0] for r in db.execute("SELECT id FROM pending WHERE root = ?", (root,))]

    # -- the write protocol's intent records (docs/ARCHITECTURE.md) -------------------------------
    @staticmethod
    def _pending_ids(db: sqlite3.Connection, root: str, rel_paths: Sequence[str]) -> list[str]:
        ids: list[str] = []
        for rel in rel_paths:
            ids += [r[0] for r in db.execute("SELECT id FROM pending WHERE root = ? AND rel_path = ?", (root, rel))]
        return ids

    def begin_write(self, root: str, files: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
        """Record the intent to rewrite ``files`` ((rel_path, new chunk ids)) before the vector store is touched.

        Every id the vector store may hold for these files afterwards (the new ones and the current
        ones) becomes an intent record, committed before this returns. Returns the current ids: the
        caller deletes them from the vector store before writing the new chunks (Chroma inserts
        fresh ids faster than it updates existing ones).
        """
        with self._tx() as db:
            current: list[str] = []
            for rel, new_ids in files:
                old = [r[0] for r in db.execute("SELECT id FROM chunks WHERE root = ? AND rel_path = ?", (root, rel))]
                current += old
                db.executemany(
                    "INSERT OR IGNORE INTO pending VALUES (?, ?, ?)", [(cid, root, rel) for cid in [*old, *new_ids]]
                )
            return current

    def settle(self, ids: Sequence[str]) -> None:
        """Forget intent records whose vector-store side is done (a removal's deletes)."""
        with self._tx() as db:
            for start in range(0, len(ids), _ID_BATCH):
                part = list(ids[start : start + _ID_BATCH])
                db.execute(f"DELETE FROM pending WHERE id IN ({','.join('?' * len(part))})", part)  # noqa: S608

    def pending(self) -> list[str]:
        """Ids of unfinished vector-store writes and deletes (left by a run that died)."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM pending")]

    def roll_back_pending(self) -> int:
        """Undo unfinished writes in the catalog: their files are forgotten, so the next run redoes them.

        Call after deleting every pending id from the vector store. Returns the files forgotten.
        """
        with self._tx() as db:
            db.execute("DELETE FROM chunks WHERE id IN (SELECT id FROM pending)")
            forgotten = db.execute(
                "DELETE FROM files WHERE (root, rel_path) IN (SELECT root, rel_path FROM pending)"
            ).rowcount
            db.execute("DELETE FROM pending")
            self._bump(db)
        return forgotten

    def all_chunk_texts(self) -> dict[str, str]:
        """id -> text of every chunk row Chroma should hold (all but the awaiting ones)."""
        with self._read_tx() as db:
            return dict(db.execute("SELECT id, text FROM chunks WHERE id NOT IN (SELECT id FROM awaiting)"))

    def chunks_with_vectors(self) -> int:
        """Chunk rows Chroma should hold: all but the awaiting ones."""
        with self._lock:
            return int(
                self._db.execute("SELECT COUNT(*) FROM chunks WHERE id NOT IN (SELECT id FROM awaiting)").fetchone()[0]
            )

    # -- vectors that come after the keywords (docs/ARCHITECTURE.md) ------------------------------
    _CHUNK_COLUMNS = "c.id, c.root, c.rel_path, c.ordinal, c.start_line, c.end_line, c.language, c.symbol, c.text"

    def awaiting_chunks(self, limit: int) -> list[tuple[str, str, str, str | None, str]]:
        """(id, root, rel_path, symbol, text) of up to ``limit`` chunks awaiting their vector, oldest first."""
        with self._lock:
            return self._db.execute(
                "SELECT c.id, c.root, c.rel_path, c.symbol, c.text FROM awaiting a JOIN chunks c ON c.id = a.id "
                "WHERE a.sent = 0 ORDER BY a.rowid LIMIT ?",
                (limit,),
            ).fetchall()

    def send_vectors(self, expected: Sequence[tuple[str, str]]) -> list[tuple[str, ChunkRecord]]:
        """Mark as being sent to Chroma the awaiting chunks of ``expected`` ((id, text)) whose text is
        still that one; committed before Chroma is touched. Returns (root, row without vector) of each."""
        texts = dict(expected)
        with self._tx() as db:
            rows = []
            for start in range(0, len(texts), _ID_BATCH):
                part = list(texts)[start : start + _ID_BATCH]
                rows += db.execute(
                    f"SELECT {self._CHUNK_COLUMNS} FROM awaiting a JOIN chunks c ON c.id = a.id "  # noqa: S608
                    f"WHERE a.sent = 0 AND a.id IN ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
            rows = [r for r in rows if texts[r[0]] == r[8]]
            db.executemany("UPDATE awaiting SET sent = 1 WHERE id = ?", [(r[0],) for r in rows])
        return [(r[1], ChunkRecord(r[0], r[2], r[3], r[4], r[5], r[6], r[7], r[8], "", None)) for r in rows]

    def vectors_done(self, ids: Sequence[str]) -> None:
        """The sent chunks ``ids`` are in Chroma: they await nothing any more."""
        with self._tx() as db:
            db.executemany("DELETE FROM awaiting WHERE id = ? AND sent = 1", [(cid,) for cid in ids])
            self._bump(db)

    def sent_vectors(self) -> list[str]:
        """Ids whose addition to Chroma was under way when a run died (Chroma may hold them or not)."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM awaiting WHERE sent = 1")]

    def unsend(self, ids: Sequence[str]) -> None:
        """After ``ids`` were deleted from Chroma: they await their vector again."""
        with self._tx() as db:
            db.executemany("UPDATE awaiting SET sent = 0 WHERE id = ?", [(cid,) for cid in ids])

    def record_doubts(self, stray: Sequence[tuple[str, str, str]], doubtful: Sequence[str]) -> None:
        """Intent records for a whole comparison's findings, to be rolled back like a dead run's.

        ``stray``: (id, root, rel_path) held by the vector store only; ``doubtful``: catalog chunks the
        vector store lacks or holds with another text. Every chunk of a doubtful chunk's file is recorded.
        """
        with self._tx() as db:
            db.executemany("INSERT OR IGNORE INTO pending VALUES (?, ?, ?)", stray)
            for start in range(0, len(doubtful), _ID_BATCH):
                part = list(doubtful[start : start + _ID_BATCH])
                marks = ",".join("?" * len(part))
                db.execute(
                    "INSERT OR IGNORE INTO pending SELECT c.id, c.root, c.rel_path FROM chunks c "  # noqa: S608
                    f"JOIN (SELECT DISTINCT root, rel_path FROM chunks WHERE id IN ({marks})) f "
                    "ON c.root = f.root AND c.rel_path = f.rel_path",
                    part,
                )

    def finish_comparison(self) -> None:
        """The vector store and the catalog were found (or made) equal under this protocol version."""
        with self._tx() as db:
            db.execute("DELETE FROM meta WHERE key = ?", (RECONCILE_KEY,))
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (PROTOCOL_KEY, PROTOCOL_VERSION))
            self._bump(db)

    def data_version(self) -> int:
        """SQLite's ``data_version``: changes when another connection (another process) commits."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def mark_indexed(self, root: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO roots (root, last_indexed) VALUES (?, ?) "
                "ON CONFLICT(root) DO UPDATE SET last_indexed = excluded.last_indexed",
                (root, now_iso()),
            )

    def matching_paths(self, path_prefix: str) -> list[tuple[str, str]]:
        """(root, rel_path) of files whose relative or absolute path starts with ``path_prefix``."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT root, rel_path FROM files WHERE {path_prefix_sql(':prefix')}",  # noqa: S608 - fixed SQL
                {"prefix": like_prefix(path_prefix)},
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    # -- chunks -----------------------------------------------------------------------------------
    @contextmanager
    def _read_tx(self) -> Iterator[sqlite3.Connection]:
        """A read transaction on a second connection: bulk reads never hold up the writer's calls."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                self._reader.execute("PRAGMA busy_timeout=10000")
                self._reader.execute("PRAGMA query_only=ON")
            db = self._reader
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    @staticmethod
    def _head(db: sqlite3.Connection) -> tuple[str, int, int, int]:
        """catalog_id, generation, last change-log position ever written, and the pruned position."""
        meta = dict(
            db.execute("SELECT key, value FROM meta WHERE key IN ('catalog_id', 'generation', 'chunk_log_pruned')")
        )
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunk_log'").fetchone()
        pruned = int(meta.get("chunk_log_pruned", 0))
        return (
            meta.get("catalog_id", ""),
            int(meta.get("generation", 0)),
            max(int(row[0]) if row else 0, pruned),
            pruned,
        )

    def read_all_chunks(self) -> ChunkChanges:
        """Every chunk's tokens, with the change-log position they reflect."""
        with self._read_tx() as db:
            catalog_id, generation, head, _ = self._head(db)
            rows = db.execute("SELECT id, root, rel_path, language, tokens FROM chunks").fetchall()
        return ChunkChanges(catalog_id, generation, head, complete=True, rows=rows)

    def read_changes(self, after: int, limit: int | None = None) -> ChunkChanges:
        """Chunks inserted or deleted after log position ``after`` (at most ``limit`` log entries)."""
        with self._read_tx() as db:
            catalog_id, generation, head, pruned = self._head(db)
            if after < pruned or after > head:
                return ChunkChanges(catalog_id, generation, head, complete=False, gap=True)
            sql = "SELECT seq, id FROM chunk_log WHERE seq > ? ORDER BY seq"
            entries = db.execute(sql + (" LIMIT ?" if limit else ""), (after, limit) if limit else (after,)).fetchall()
            reached = entries[-1][0] if limit and len(entries) == limit else head
            complete = reached == head
            changed = list(dict.fromkeys(cid for _, cid in entries))
            rows: list[ChunkTokens] = []
            for start in range(0, len(changed), _ID_BATCH):
                part = changed[start : start + _ID_BATCH]
                rows += db.execute(
                    f"SELECT id, root, rel_path, language, tokens FROM chunks WHERE id IN ({','.join('?' * len(part))})",  # noqa: S608
                    part,
                ).fetchall()
        return ChunkChanges(catalog_id, generation, reached, complete, changed=changed, rows=rows)

    def prune_changes(self, upto: int) -> None:
        """Forget change-log entries up to ``upto`` (a saved keyword snapshot covers them)."""
        with self._tx() as db:
            db.execute("DELETE FROM chunk_log WHERE seq <= ?", (upto,))
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('chunk_log_pruned', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                (str(upto),),
            )

    def chunks_by_id(self, ids: Sequence[str]) -> dict[str, tuple[str, str, int, int, str, str | None, str]]:
        """id -> (root, rel_path, start_line, end_line, language, symbol, text)."""
        out: dict[str, tuple[str, str, int, int, str, str | None, str]] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                part = list(ids[start : start + 500])
                marks = ",".join("?" * len(part))
                for row in self._db.execute(
                    f"SELECT id, root, rel_path, start_line, end_line, language, symbol, text FROM chunks "  # noqa: S608
                    f"WHERE id IN ({marks})",
                    part,
                ):
                    out[row[0]] = row[1:]
        return out

    def stats(self) -> list[RootStats]:
        with self._lock:
            rows = self._db.execute(
                "SELECT r.root, r.last_indexed, "
                "(SELECT COUNT(*) FROM files f WHERE f.root = r.root), "
                "(SELECT COALESCE(SUM(chunk_count), 0) FROM files f WHERE f.root = r.root) "
                "FROM roots r ORDER BY r.root"
            ).fetchall()
            awaiting = dict(
                self._db.execute("SELECT c.root, COUNT(*) FROM awaiting a JOIN chunks c ON c.id = a.id GROUP BY c.root")
            )
        return [
            RootStats(root=r[0], files=r[2], chunks=r[3], last_indexed=r[1], vectors_pending=awaiting.get(r[0], 0))
            for r in rows
        ]
