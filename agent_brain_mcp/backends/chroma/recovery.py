"""The Chroma path's write protocol, the writer's side: finish what a dead run left, compare whole.

The catalog is the source of truth (docs/ARCHITECTURE.md, "Stores and their invariants"). Every
Chroma write or delete is preceded by a committed intent record in the catalog (``pending``); a run
that dies leaves those records behind, and only the next holder of the writer lock acts on them:
it deletes every recorded id from Chroma, then forgets the files they belong to in the catalog (one
transaction), so that the run that follows re-indexes exactly those files. Chunks written keyword
first await their vector (``awaiting``); a batch of them being added to Chroma is marked ``sent``
first, and a dead run's sent marks are withdrawn (deleted from Chroma, awaited again).

A whole comparison (every Chroma id and document against the catalog) is the fallback for what no
record describes: a store written before the protocol, a reset that died half-way, or counts that
disagree for any other reason. It turns every difference into intent records and rolls them back
the same way. Readers never call anything here.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent_brain_mcp.backends.chroma.catalog import Catalog
from agent_brain_mcp.errors import StorageError

log = logging.getLogger(__name__)

_GET_PAGE = 5_000
_LOW_SPACE_BYTES = 16 << 20  # under this much free space, a failed write is taken for a full disk


def delete_ids(collection: Any, ids: Sequence[str], step: int) -> None:
    for start in range(0, len(ids), step):
        collection.delete(ids=list(ids[start : start + step]))


def roll_back_unfinished(collection: Any, catalog: Catalog, step: int) -> int:
    """Delete every pending id from Chroma, then forget their files in the catalog; files forgotten."""
    pending = catalog.pending()
    if not pending:
        return 0
    delete_ids(collection, pending, step)
    forgotten = catalog.roll_back_pending()
    log.warning(
        "rolled back %d unfinished chunk writes of an interrupted run (%d files to redo)", len(pending), forgotten
    )
    return forgotten


def needs_comparison(collection: Any, catalog: Catalog) -> bool:
    """True when no record explains the state: first run under the protocol, a reset cut short, counts differ."""
    if not catalog.compared_under_protocol():
        return True
    return int(collection.count()) != catalog.chunks_with_vectors()


def compare_whole(collection: Any, catalog: Catalog, step: int) -> None:
    """Make Chroma and the catalog hold the same chunks: every difference is rolled back as unfinished."""
    texts = catalog.all_chunk_texts()
    stray: list[tuple[str, str, str]] = []  # in Chroma only: (id, root, rel_path) from its metadata
    doubtful: list[str] = []  # in the catalog, but missing from Chroma or with another text there
    seen: set[str] = set()
    offset = 0
    while True:
        page = collection.get(include=["documents", "metadatas"], limit=_GET_PAGE, offset=offset)
        ids = page["ids"]
        if not ids:
            break
        for cid, doc, meta in zip(ids, page["documents"] or [], page["metadatas"] or [], strict=True):
            seen.add(cid)
            if cid not in texts:
                meta = meta or {}
                stray.append((cid, str(meta.get("root", "")), str(meta.get("rel_path", ""))))
            elif doc != texts[cid]:
                doubtful.append(cid)
        offset += len(ids)
    doubtful += [cid for cid in texts if cid not in seen]
    if stray or doubtful:
        log.warning(
            "the vector store and the catalog differ (%d chunks only in Chroma, %d missing or different): repairing",
            len(stray),
            len(doubtful),
        )
    catalog.record_doubts(stray, doubtful)
    roll_back_unfinished(collection, catalog, step)
    catalog.finish_comparison()


def withdraw_sent_vectors(collection: Any, catalog: Catalog, step: int) -> int:
    """Vectors whose addition to Chroma a dead run left unconfirmed: deleted from Chroma, awaited again
    (the next run embeds them once more, or takes them from the vector store)."""
    sent = catalog.sent_vectors()
    if sent:
        delete_ids(collection, sent, step)
        catalog.unsend(sent)
        log.warning("withdrew %d vectors an interrupted run was adding: they will be filled again", len(sent))
    return len(sent)


def recover(collection: Any, catalog: Catalog, step: int) -> None:
    """The writer's first step, under its lock: finish or roll back what the records say is unfinished."""
    withdraw_sent_vectors(collection, catalog, step)
    roll_back_unfinished(collection, catalog, step)
    if needs_comparison(collection, catalog):
        compare_whole(collection, catalog, step)


# -- storage faults -----------------------------------------------------------------------------------
_CAUSES = (
    (errno.ENOSPC, ("no space left", "disk is full", "database or disk is full"), "no space left on device"),
    (errno.EDQUOT, ("quota exceeded", "disk quota"), "disk quota exceeded"),
    (
        errno.EROFS,
        ("read-only file system", "readonly database", "attempt to write a readonly"),
        "read-only file system",
    ),
)


def storage_error(exc: BaseException, folder: Path) -> StorageError | None:
    """A clear error for a write that failed for lack of space, quota or write access; None otherwise."""
    text = f"{type(exc).__name__}: {exc}".lower()
    code = exc.errno if isinstance(exc, OSError) else None
    cause = next((name for num, words, name in _CAUSES if code == num or any(w in text for w in words)), None)
    if cause is None and low_on_space(folder):  # Chroma names no cause ("Error in compaction")
        cause = "no space left on device"
    if cause is None:
        return None
    fix = "make it writable" if cause == "read-only file system" else "free space"
    return StorageError(
        f"{cause} at {folder}: {fix}, then run index_path again; the index is consistent "
        f"(this step was not recorded as done) and the next run resumes. ({type(exc).__name__}: {exc})"
    )


def low_on_space(folder: Path) -> bool:
    """Less free space under ``folder`` than a Chroma write may need (and than Chroma survives)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < _LOW_SPACE_BYTES
