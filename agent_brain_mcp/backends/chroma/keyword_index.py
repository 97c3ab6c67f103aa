"""The Chroma backend's BM25 index: in memory, kept current incrementally from the catalog's change log.

Scores are BM25 as ``fusion.py`` defines it for both backends (Lucene's: ``idf = ln(1 + (N - df + 0.5) /
(df + 0.5))``, term part ``tf / (tf + k1 * (1 - b + b * dl / avgdl))``), computed at query time from
raw term frequencies, so adding or deleting chunks never requires re-scoring the others.

Layout (``postings.py``): chunks get *slots* (positions in per-chunk arrays: length, alive flag, language, file);
postings (term -> slots and term frequencies) live in immutable *segments*. A change appends a
segment for the new chunks and clears the alive flag of the replaced or deleted ones; small
segments are merged as they come (a bounded amount of work), and ``finish_run`` compacts.

Staying current without stalling searches (issue 5): the catalog logs every chunk insert/delete
(``chunk_log``). Each search compares the catalog generation with the one its state reflects; if
it changed, the search applies the new log entries itself, at most ``INLINE_CHANGES`` of them, so
the next search after a write sees it. A larger backlog, and anything that needs a rebuild (the
catalog was reset, the log was pruned past our position), is handled by a background thread while
searches keep using the last published state; only a search with no state at all (the first one
after start) waits. Searches never wait for each other either: while one thread updates, the others
search the last published state. A state is immutable once published.

Results stay consistent with the catalog because the backend hydrates every hit from the catalog
and drops ids that are gone; a state that lags (only while a backlog is applied in the background)
can miss the newest chunks but never returns a deleted one.

On disk: ``<folder>/snapshot.npz``, one compacted state with the catalog id and log position it
reflects, written by ``finish_run`` when enough changed since the last one (the log is then pruned
up to it). On open the snapshot is loaded and the log after it applied; a missing, unreadable or
foreign snapshot (also the bm25s folder of older versions) means one rebuild from the chunk rows.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agent_brain_mcp.backends.chroma.catalog import Catalog, ChunkChanges, ChunkTokens
from agent_brain_mcp.backends.chroma.postings import (
    EMPTY_F32,
    EMPTY_I32,
    OutOfStep,
    Segment,
    State,
    Tables,
    Vocabulary,
    compact,
    empty_state,
    merge_small,
    segment_from_docs,
    sorted_segment,
)
from agent_brain_mcp.backends.store_rules import matches_path_prefix
from agent_brain_mcp.fusion import bm25_idf

log = logging.getLogger(__name__)

FORMAT = 1
SNAPSHOT = "snapshot.npz"

INLINE_CHANGES = 2_000  # change-log entries a search applies itself; more go to the background
BACKGROUND_STEP = 20_000  # entries per background step (each step is published)
SAVE_MIN_CHANGES = 10_000  # finish_run saves a snapshot once this many (or 10% of chunks) changed
_MAP_ROWS = 2_000  # rows whose tokens are mapped to term ids at once (bounds the memory of a rebuild)


class KeywordIndex:
    def __init__(self, folder: Path, catalog: Catalog) -> None:
        self.folder = folder
        self._catalog = catalog
        self._state: State | None = None
        self._update = threading.Lock()  # one updater at a time; searches never wait for it
        self._saved_seq: int | None = None  # log position of the snapshot on disk, when known
        self._background: threading.Thread | None = None
        self._closed = False
        self._broken = False  # an update failed: the next update rebuilds from the catalog

    # -- reading ------------------------------------------------------------------------------------
    def ensure_current(self) -> State:
        """The state to search: current after at most a bounded update, or the last published one."""
        state = self._state
        if state is not None:
            if state.generation is not None and state.generation == self._catalog.generation():
                return state
            if not self._update.acquire(blocking=False):
                return state  # another thread is updating: search what is published
            try:
                return self._advance_inline()
            finally:
                self._update.release()
        with self._update:  # no state yet: the first search waits for the load
            if self._state is None:
                self._publish(self._load_or_rebuild())
                self._state = self._catch_up(self._require_state(), limit=None)
            return self._require_state()

    def search(
        self, tokens: list[str], top_k: int, path_prefix: str | None, language: str | None
    ) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; chunks that share no token with the query are left out."""
        state = self.ensure_current()
        if not tokens or state.n_alive == 0 or top_k <= 0:
            return []
        vocab = state.tables.vocab
        wanted = Counter(vocab.get(t) for t in tokens)  # a repeated query token counts again, as in bm25s
        wanted.pop(None, None)
        if not wanted:
            return []
        scores = np.zeros(state.n_slots, dtype=np.float32)
        norm = state.norm()
        n = state.n_alive
        for term, repeat in wanted.items():
            parts = [p for seg in state.segments if (p := seg.postings(term)) is not None]  # type: ignore[arg-type]
            if state.dead:
                parts = [(s[live], tf[live]) for s, tf in parts if (live := state.alive[s]).any()]
            df = sum(len(s) for s, _ in parts)
            if df == 0:
                continue
            idf = bm25_idf(df, n) * repeat
            for slots, tfs in parts:
                scores[slots] += idf * tfs / (tfs + norm[slots])
        keep = self._filter(state, path_prefix, language)
        if keep is not None:
            scores[~keep] = 0
        top_k = min(top_k, len(scores))
        best = np.argpartition(-scores, top_k - 1)[:top_k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(state.tables.ids[i], float(scores[i])) for i in best if scores[i] > 0]

    @staticmethod
    def _filter(state: State, path_prefix: str | None, language: str | None) -> np.ndarray | None:
        keep: np.ndarray | None = None
        if language:
            code = state.tables.lang_code.get(language)
            keep = state.lang == code if code is not None else np.zeros(state.n_slots, dtype=bool)
        if path_prefix:
            files = state.tables.files[: int(state.file.max(initial=-1)) + 1]
            ok = np.fromiter(
                (matches_path_prefix(root, rel, path_prefix) for root, rel in files),
                dtype=bool,
                count=len(files),
            )
            by_path = ok[state.file] if len(files) else np.zeros(state.n_slots, dtype=bool)
            keep = by_path if keep is None else keep & by_path
        return keep

    # -- updating (always under self._update) ------------------------------------------------------
    def _require_state(self) -> State:
        assert self._state is not None
        return self._state

    def _publish(self, state: State) -> State:
        self._state = state
        return state

    def _advance_inline(self) -> State:
        """A search's share of the work: a small backlog now, anything bigger in the background."""
        state = self._require_state()
        changes = self._catalog.read_changes(state.seq, INLINE_CHANGES)
        if self._broken or changes.gap or changes.catalog_id != state.catalog_id:
            self._start_background()
            return state
        try:
            state = self._publish(self._apply(state, changes))
        except Exception:  # the index is derived: rebuild it rather than fail searches
            log.exception("keyword index: update failed; rebuilding it in the background")
            self._broken = True
            self._start_background()
            return state
        if not changes.complete:
            self._start_background()
        return state

    def _start_background(self) -> None:
        if self._closed or (self._background is not None and self._background.is_alive()):
            return
        self._background = threading.Thread(target=self._background_run, name="keyword-catch-up", daemon=True)
        self._background.start()

    def _background_run(self) -> None:
        try:
            with self._update:
                if self._closed:
                    return
                state = self._require_state()
                self._catch_up(state, limit=BACKGROUND_STEP)
        except Exception:  # a thread has nobody to raise to; the next search retries
            log.exception("keyword index: background catch-up failed")

    def _catch_up(self, state: State, limit: int | None) -> State:
        """Apply the whole backlog in steps of ``limit`` log entries, publishing after each step."""
        while not self._closed:
            if self._broken:
                state = self._publish(self._rebuild())
                self._broken = False
            changes = self._catalog.read_changes(state.seq, limit)
            if changes.gap or changes.catalog_id != state.catalog_id:
                state = self._publish(self._load_or_rebuild())
                continue
            if not changes.changed and changes.complete:
                if state.generation != changes.generation:
                    state = self._publish(_replace_position(state, changes))
                return state
            backlog = changes.head - state.seq
            if not changes.complete and backlog > max(state.n_alive, limit or 0):
                # More changed than there is: reading every chunk once is cheaper than the log.
                state = self._publish(self._rebuild())
                continue
            try:
                state = self._publish(self._apply(state, changes))
            except Exception:
                self._broken = True
                raise
            if changes.complete:
                return state
        return state

    def _apply(self, state: State, changes: ChunkChanges) -> State:
        """A new state with ``changes`` applied (new segment, cleared alive flags, merged small segments)."""
        tables = state.tables
        first = len(tables.ids)
        if first != state.n_slots:  # a failed update left the tables ahead of the state
            raise OutOfStep("keyword index tables out of step with the published state")
        gone = np.fromiter(
            (slot for cid in changes.changed if (slot := tables.slot_of.pop(cid, None)) is not None), dtype=np.int64
        )
        term_ids, lengths, langs, files = self._add_rows(tables, changes.rows)
        alive = np.concatenate((state.alive, np.ones(len(lengths), dtype=bool)))
        alive[gone] = False
        gone_length = float(state.lengths[gone].sum())
        segments = list(state.segments)
        if len(lengths):
            segments.append(segment_from_docs(first, term_ids, lengths))
        segments = merge_small(segments, alive)
        return State(
            catalog_id=state.catalog_id,
            seq=changes.head,
            generation=changes.generation if changes.complete else None,
            tables=tables,
            segments=tuple(segments),
            alive=alive,
            lengths=np.concatenate((state.lengths, lengths.astype(np.float32))),
            lang=np.concatenate((state.lang, langs)),
            file=np.concatenate((state.file, files)),
            n_alive=state.n_alive - len(gone) + len(lengths),
            total_length=state.total_length - gone_length + float(lengths.sum()),
        )

    @staticmethod
    def _add_rows(tables: Tables, rows: Sequence[ChunkTokens]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Give ``rows`` new slots; their concatenated term ids, lengths, language and file codes."""
        parts: list[np.ndarray] = []
        lengths = np.zeros(len(rows), dtype=np.int64)
        langs = np.zeros(len(rows), dtype=np.int32)
        files = np.zeros(len(rows), dtype=np.int32)
        for start in range(0, len(rows), _MAP_ROWS):
            texts = [row[4] for row in rows[start : start + _MAP_ROWS]]
            lengths[start : start + len(texts)] = [t.count(" ") + 1 if t else 0 for t in texts]
            flat = " ".join(t for t in texts if t).split(" ") if any(texts) else []
            parts.append(tables.vocab.add_missing(flat))
        for i, (cid, root, rel, lang, _) in enumerate(rows):
            langs[i] = tables.code_lang(lang)
            files[i] = tables.code_file(root, rel)
            if cid in tables.slot_of:  # the same id twice in one read cannot happen; stay safe anyway
                raise RuntimeError(f"chunk {cid} already has a live slot")
            tables.slot_of[cid] = len(tables.ids)
            tables.ids.append(cid)
        term_ids = np.concatenate(parts) if parts else EMPTY_I32
        return term_ids, lengths, langs, files

    def _rebuild(self) -> State:
        """A fresh state from every chunk row."""
        changes = self._catalog.read_all_chunks()
        state = self._apply(empty_state(changes.catalog_id, changes.head, None), changes)
        log.info("keyword index built from the catalog: %d chunks", state.n_alive)
        return compact(state)

    # -- compaction and snapshots -------------------------------------------------------------------
    def finish_run(self) -> None:
        """After an indexing run: apply everything, compact, and save a snapshot if much changed."""
        with self._update:
            state = self._state or self._publish(self._load_or_rebuild())
            state = self._catch_up(state, limit=BACKGROUND_STEP)
            since_saved = state.seq - self._saved_seq if self._saved_seq is not None else None
            if (
                since_saved is None
                or since_saved >= max(SAVE_MIN_CHANGES, state.n_alive // 10)
                or state.dead > state.n_alive // 4
            ):
                state = self._publish(compact(state))
                self._save(state)

    def close(self) -> None:
        self._closed = True
        thread = self._background
        if thread is not None:
            thread.join()

    def _load_or_rebuild(self) -> State:
        state = self._load()
        if state is None:
            state = self._rebuild()
            self._save(state)
        return state

    def _load(self) -> State | None:
        path = self.folder / SNAPSHOT
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode("utf-8"))
                if meta.get("format") != FORMAT:
                    return None
                head = self._catalog.read_changes(int(meta["seq"]), 1)
                if head.gap or head.catalog_id != meta["catalog_id"]:
                    log.info("keyword snapshot at %s is of another catalog state; rebuilding", path)
                    return None
                strings = json.loads(bytes(data["strings"]).decode("utf-8"))
                tables = Tables(vocab=Vocabulary(strings["terms"]), ids=strings["ids"])
                tables.slot_of = {cid: i for i, cid in enumerate(tables.ids)}
                for root, rel in strings["files"]:
                    tables.code_file(root, rel)
                for lang in strings["langs"]:
                    tables.code_lang(lang)
                segment = Segment(data["terms"], data["indptr"], data["slots"], data["tfs"])
                lengths = data["lengths"]
                n = len(tables.ids)
                if not (len(lengths) == len(data["lang"]) == len(data["file_codes"]) == n) or (
                    segment.size and int(segment.slots.max()) >= n
                ):
                    raise ValueError("inconsistent array sizes")
                state = State(
                    catalog_id=meta["catalog_id"],
                    seq=int(meta["seq"]),
                    generation=None,
                    tables=tables,
                    segments=(segment,) if segment.size else (),
                    alive=np.ones(n, dtype=bool),
                    lengths=lengths,
                    lang=data["lang"],
                    file=data["file_codes"],
                    n_alive=n,
                    total_length=float(lengths.sum()),
                )
        except FileNotFoundError:
            if (self.folder / "chunks.json").exists():
                log.info("keyword index at %s has the older bm25s layout; rebuilding it", self.folder)
            return None
        except Exception as exc:  # noqa: BLE001 - any damage to a derived file just means rebuild
            log.warning("keyword index at %s is unreadable (%s); rebuilding it", self.folder, exc)
            return None
        self._saved_seq = state.seq
        return state

    def _save(self, state: State) -> None:
        """Write ``state`` (compacted) atomically; prune the change log up to it."""
        assert state.dead == 0 and len(state.segments) <= 1, "only compacted states are saved"
        segment = state.segments[0] if state.segments else sorted_segment(EMPTY_I32, EMPTY_I32, EMPTY_F32)
        meta = {"format": FORMAT, "catalog_id": state.catalog_id, "seq": state.seq}
        strings = {
            "terms": state.tables.vocab.terms,
            "ids": state.tables.ids,
            "files": state.tables.files,
            "langs": state.tables.langs,
        }
        try:
            if self.folder.is_file():
                self.folder.unlink()
            elif self.folder.exists() and not (self.folder / SNAPSHOT).exists():
                shutil.rmtree(self.folder, ignore_errors=True)  # an older layout's files
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{SNAPSHOT}.{os.getpid()}.{threading.get_ident()}.tmp"
            with tmp.open("wb") as out:
                np.savez(
                    out,
                    meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
                    strings=np.frombuffer(json.dumps(strings).encode("utf-8"), dtype=np.uint8),
                    terms=segment.terms,
                    indptr=segment.indptr,
                    slots=segment.slots,
                    tfs=segment.tfs,
                    lengths=state.lengths,
                    lang=state.lang,
                    file_codes=state.file,
                )
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.folder / SNAPSHOT)
        except OSError as exc:
            log.warning(
                "could not save the keyword index to %s (%s); it will be rebuilt on next start", self.folder, exc
            )
            return
        self._saved_seq = state.seq
        self._catalog.prune_changes(state.seq)
        log.info("keyword index saved: %d chunks at change %d", state.n_alive, state.seq)


def _replace_position(state: State, changes: ChunkChanges) -> State:
    return State(
        state.catalog_id,
        changes.head,
        changes.generation,
        state.tables,
        state.segments,
        state.alive,
        state.lengths,
        state.lang,
        state.file,
        state.n_alive,
        state.total_length,
    )
