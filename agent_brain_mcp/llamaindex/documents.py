"""LlamaIndex ``Document``s into our index, under a virtual root ``llamaindex://<name>``.

A document is stored like a file of that root: its ``doc_id`` is its path, its text is cut by the
same chunker and embedded by the same model, and it is written whole through the backend's own
write path (old chunks replaced, manifest last), holding the same writer lock as ``index_path``.
Re-adding a document whose text is unchanged embeds nothing; the MCP tools search these chunks
like any others (``root`` is the virtual root, ``file_path`` the document id).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

from agent_brain_mcp.backends.base import FileRecord, FileWrite
from agent_brain_mcp.errors import InvalidInputError
from agent_brain_mcp.indexing.chunking import Chunk, ChunkLimits, chunk_text, embedding_text
from agent_brain_mcp.indexing.languages import detect_language
from agent_brain_mcp.indexing.pipeline import chunk_records
from agent_brain_mcp.models import IndexResult, SkippedFile
from agent_brain_mcp.service import RetrievalService

DOCUMENT_SCHEME = "llamaindex://"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Metadata keys LlamaIndex readers use for where a document came from: they decide its language.
_NAME_KEYS = ("file_name", "file_path", "filename", "url", "source")


def virtual_root(name: str) -> str:
    """``llamaindex://<name>``: the root the documents added under ``name`` live in."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"document collection name {name!r} must be 1-100 letters, digits, '.', '_' or '-' (e.g. 'handbook')"
        )
    return DOCUMENT_SCHEME + name


def _doc_id(doc: Any) -> str:
    doc_id = getattr(doc, "id_", None) or getattr(doc, "doc_id", None)
    if not isinstance(doc_id, str) or not doc_id.strip() or "\x00" in doc_id:
        raise InvalidInputError(f"a document has no usable id ({doc_id!r}): give every Document an id_")
    return doc_id


def _language(doc_id: str, metadata: dict[str, Any]) -> str:
    for key in _NAME_KEYS:
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return detect_language(value.rsplit("?", 1)[0])
    return detect_language(doc_id)


def _prepare(docs: Iterable[Any], limits: ChunkLimits) -> list[tuple[FileRecord, list[Chunk]]]:
    """Each document as a file record (its text's hash identifies the content) and its chunks."""
    prepared: dict[str, tuple[FileRecord, list[Chunk]]] = {}
    for doc in docs:
        doc_id = _doc_id(doc)
        text = str(doc.text or "").replace("\r\n", "\n").replace("\r", "\n")
        language = _language(doc_id, dict(getattr(doc, "metadata", None) or {}))
        data = text.encode("utf-8", "surrogatepass")
        chunks = chunk_text(text, language, limits)
        record = FileRecord(doc_id, len(data), 0, hashlib.sha256(data).hexdigest(), len(chunks), language)
        prepared[doc_id] = (record, chunks)  # the last of two documents with one id wins, as on a re-add
    return list(prepared.values())


async def add_documents(service: RetrievalService, name: str, documents: Sequence[Any]) -> IndexResult:
    """Index LlamaIndex ``Document``s (anything with ``id_``, ``text`` and ``metadata``) under ``name``."""
    started = time.perf_counter()
    root = virtual_root(name)
    settings = service.indexing_settings
    prepared = _prepare(
        documents, ChunkLimits(settings.chunk_lines, settings.chunk_overlap_lines, settings.chunk_chars)
    )
    empty = [record.rel_path for record, chunks in prepared if not chunks]
    written = 0
    async with service.writing():
        todo, unchanged, replaced = _changes(prepared, await service.backend.file_records(root))
        batch_chunks = max(service.embedder.batch_size * 4, 64)
        for batch in _batches(todo, batch_chunks):
            written += await _write(service, root, batch)
        await service.backend.finish_run(root)
        stats = {s.root: s for s in await service.backend.stats()}.get(root)
    seconds = round(time.perf_counter() - started, 3)
    total_files, total_chunks = (stats.files, stats.chunks) if stats else (0, 0)
    return IndexResult(
        root=root,
        scope=".",
        files_indexed=len(todo),
        files_unchanged=unchanged,
        files_removed=0,
        files_skipped=len(empty),
        skipped_by_reason={"empty": len(empty)} if empty else {},
        skipped=[SkippedFile(path=p, reason="empty") for p in empty[:50]],
        chunks_written=written,
        chunks_replaced=replaced,
        chunks_removed=0,
        total_files=total_files,
        total_chunks=total_chunks,
        seconds=seconds,
        summary=(
            f"Added {len(todo)} new/changed documents ({written} chunks), {unchanged} unchanged, {len(empty)} empty, "
            f"in {seconds:.1f}s. {root} now holds {total_files} documents / {total_chunks} chunks."
        ),
    )


def _changes(
    prepared: list[tuple[FileRecord, list[Chunk]]], known: dict[str, FileRecord]
) -> tuple[list[tuple[FileRecord, list[Chunk]]], int, int]:
    """The documents to write (new or changed, not empty), how many are unchanged, and how many
    stored chunks the changed ones replace."""
    todo: list[tuple[FileRecord, list[Chunk]]] = []
    unchanged = replaced = 0
    for record, chunks in prepared:
        old = known.get(record.rel_path)
        if old is not None and old.sha256 == record.sha256:
            unchanged += 1
        elif chunks:
            todo.append((record, chunks))
            replaced += old.chunk_count if old is not None else 0
    return todo, unchanged, replaced


def _batches(
    todo: list[tuple[FileRecord, list[Chunk]]], chunks_per_batch: int
) -> Iterable[list[tuple[FileRecord, list[Chunk]]]]:
    batch: list[tuple[FileRecord, list[Chunk]]] = []
    size = 0
    for item in todo:
        batch.append(item)
        size += len(item[1])
        if size >= chunks_per_batch:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


async def _write(service: RetrievalService, root: str, batch: list[tuple[FileRecord, list[Chunk]]]) -> int:
    """Embed a batch of whole documents and write them through the backend (manifest last)."""
    texts = [embedding_text(record.rel_path, chunk) for record, chunks in batch for chunk in chunks]
    vectors = iter(zip(texts, await service.embedder.aembed_documents(texts), strict=True))
    writes = [
        FileWrite(record, chunk_records(root, record.rel_path, record.language, chunks, vectors))
        for record, chunks in batch
    ]
    await service.backend.write_files(root, writes)
    return len(texts)


async def remove_documents(service: RetrievalService, name: str, doc_ids: Sequence[str] | None = None) -> int:
    """Remove the documents ``doc_ids`` of ``name``, or all of them (the whole root); returns chunks removed."""
    root = virtual_root(name)
    async with service.writing():
        if doc_ids is None:
            return await service.backend.remove_root(root)
        return await service.backend.remove_files(root, list(doc_ids))
