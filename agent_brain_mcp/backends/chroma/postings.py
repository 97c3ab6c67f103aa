"""The keyword index's data: postings in immutable segments, per-slot arrays, published states.

Chunks get *slots* (positions in per-chunk arrays: length, alive flag, language, file); postings
(term -> slots and term frequencies) live in immutable *segments*. A ``State`` is one immutable view
of the index (what one search reads); ``keyword_index.py`` publishes new ones as the catalog changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import filterfalse

import numpy as np

from agent_brain_mcp.fusion import BM25_B, BM25_K1

MERGE_CAP = 1_000_000  # postings: segments up to this size are merged as changes come in

EMPTY_I32 = np.zeros(0, dtype=np.int32)
EMPTY_F32 = np.zeros(0, dtype=np.float32)


class Vocabulary(dict[str, int]):
    """token -> term id, and ``terms``: term id -> token."""

    def __init__(self, terms: Iterable[str] = ()) -> None:
        self.terms: list[str] = list(terms)  # in term id order
        super().__init__(zip(self.terms, range(len(self.terms)), strict=True))

    def add_missing(self, tokens: list[str]) -> np.ndarray:
        """Term ids of ``tokens``, giving new tokens the next ids (the per-token loops run in C)."""
        for token in filterfalse(self.__contains__, set(tokens)):
            self[token] = len(self.terms)
            self.terms.append(token)
        return np.fromiter(map(self.__getitem__, tokens), dtype=np.int32, count=len(tokens))


@dataclass
class Tables:
    """Slot and term dictionaries shared by the states between two compactions.

    Only the updating thread appends to them; a state only looks at entries that existed when it
    was published (its slots, its files), which appending never changes.
    """

    vocab: Vocabulary = field(default_factory=Vocabulary)
    ids: list[str] = field(default_factory=list)  # slot -> chunk id
    slot_of: dict[str, int] = field(default_factory=dict)  # chunk id -> live slot (updater only)
    files: list[tuple[str, str]] = field(default_factory=list)  # file code -> (root, rel_path)
    file_code: dict[tuple[str, str], int] = field(default_factory=dict)
    langs: list[str] = field(default_factory=list)
    lang_code: dict[str, int] = field(default_factory=dict)

    def code_file(self, root: str, rel: str) -> int:
        key = (root, rel)
        code = self.file_code.get(key)
        if code is None:
            code = self.file_code[key] = len(self.files)
            self.files.append(key)
        return code

    def code_lang(self, lang: str) -> int:
        code = self.lang_code.get(lang)
        if code is None:
            code = self.lang_code[lang] = len(self.langs)
            self.langs.append(lang)
        return code


@dataclass(frozen=True, eq=False)
class Segment:
    """Postings of some slots, by term: ``slots[indptr[i]:indptr[i+1]]`` hold ``terms[i]``."""

    terms: np.ndarray  # int32, sorted, distinct
    indptr: np.ndarray  # int64
    slots: np.ndarray  # int32
    tfs: np.ndarray  # float32

    @property
    def size(self) -> int:
        return len(self.slots)

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray] | None:
        i = int(np.searchsorted(self.terms, term))
        if i == len(self.terms) or self.terms[i] != term:
            return None
        a, b = self.indptr[i], self.indptr[i + 1]
        return self.slots[a:b], self.tfs[a:b]

    def coo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.repeat(self.terms, np.diff(self.indptr)), self.slots, self.tfs


def build_segment(terms: np.ndarray, slots: np.ndarray, tfs: np.ndarray) -> Segment:
    """A segment from postings (each (term, slot) pair at most once) given as runs sorted by term.

    A stable sort keeps slot order within a term, and timsort merges already-sorted runs (the
    segments being merged, each in slot order) in linear time.
    """
    order = np.argsort(terms, kind="stable")
    return sorted_segment(terms[order], slots[order], tfs[order])


def sorted_segment(terms: np.ndarray, slots: np.ndarray, tfs: np.ndarray) -> Segment:
    heads = np.flatnonzero(np.diff(terms, prepend=-1)) if len(terms) else np.zeros(0, dtype=np.int64)
    indptr = np.append(heads, len(terms)).astype(np.int64)
    return Segment(terms[heads].astype(np.int32), indptr, slots.astype(np.int32), tfs.astype(np.float32))


def segment_from_docs(first_slot: int, term_ids: np.ndarray, lengths: np.ndarray) -> Segment:
    """Postings of documents given as concatenated term ids and per-document lengths."""
    if len(term_ids) == 0:
        return sorted_segment(EMPTY_I32, EMPTY_I32, EMPTY_F32)
    slots = np.repeat(np.arange(first_slot, first_slot + len(lengths), dtype=np.int64), lengths)
    keys, counts = np.unique((term_ids.astype(np.int64) << 32) | slots, return_counts=True)
    return sorted_segment((keys >> 32).astype(np.int32), (keys & 0xFFFFFFFF).astype(np.int32), counts)


class OutOfStep(RuntimeError):
    """An update failed half-way; the shared tables no longer match the published state."""


def merge(segments: Sequence[Segment], alive: np.ndarray) -> Segment:
    """One segment with the live postings of ``segments`` (slots and term ids unchanged)."""
    parts = [s.coo() for s in segments]
    terms = np.concatenate([p[0] for p in parts])
    slots = np.concatenate([p[1] for p in parts])
    tfs = np.concatenate([p[2] for p in parts])
    live = alive[slots]
    return build_segment(terms[live], slots[live], tfs[live])


@dataclass(frozen=True, eq=False)
class State:
    """An immutable view of the index: what one search reads."""

    catalog_id: str
    seq: int  # the change-log position reflected
    generation: int | None  # the catalog generation when fully caught up, else None
    tables: Tables
    segments: tuple[Segment, ...]
    alive: np.ndarray  # bool per slot
    lengths: np.ndarray  # float32 per slot (token count)
    lang: np.ndarray  # int32 per slot
    file: np.ndarray  # int32 per slot
    n_alive: int
    total_length: float
    _norm: list[np.ndarray] = field(default_factory=list, compare=False)

    @property
    def n_slots(self) -> int:
        return len(self.alive)

    @property
    def dead(self) -> int:
        return self.n_slots - self.n_alive

    def norm(self) -> np.ndarray:
        """``k1 * (1 - b + b * dl / avgdl)`` per slot (computed once per state)."""
        if not self._norm:
            avgdl = self.total_length / self.n_alive if self.n_alive else 1.0
            self._norm.append((BM25_K1 * (1 - BM25_B + BM25_B * self.lengths / max(avgdl, 1e-9))).astype(np.float32))
        return self._norm[0]

    def live_ids(self) -> list[str]:
        return [self.tables.ids[i] for i in np.flatnonzero(self.alive)]


def empty_state(catalog_id: str, seq: int, generation: int | None) -> State:
    return State(catalog_id, seq, generation, Tables(), (), np.zeros(0, bool), EMPTY_F32, EMPTY_I32, EMPTY_I32, 0, 0.0)


def merge_small(segments: list[Segment], alive: np.ndarray) -> list[Segment]:
    """Merge the newest segments while the newer is at least half the older (bounded by MERGE_CAP)."""
    while (
        len(segments) >= 2
        and segments[-1].size * 2 >= segments[-2].size
        and segments[-1].size + segments[-2].size <= MERGE_CAP
    ):
        segments[-2:] = [merge(segments[-2:], alive)]
    return segments


def compact(state: State) -> State:
    """One segment, no dead slots, no unused terms: slots and term ids are renumbered."""
    if state.dead == 0 and len(state.segments) <= 1:
        return state  # already compact: every term came from a chunk that is still alive
    live_slots = np.flatnonzero(state.alive)
    renumber = np.full(state.n_slots, -1, dtype=np.int64)
    renumber[live_slots] = np.arange(len(live_slots))
    if state.segments:
        parts = [s.coo() for s in state.segments]
        terms = np.concatenate([p[0] for p in parts])
        slots = np.concatenate([p[1] for p in parts])
        tfs = np.concatenate([p[2] for p in parts])
        live = state.alive[slots]
        terms, slots, tfs = terms[live], renumber[slots[live]], tfs[live]
    else:
        terms, slots, tfs = EMPTY_I32, EMPTY_I32, EMPTY_F32
    used, new_terms = np.unique(terms, return_inverse=True)
    old = state.tables
    tables = Tables(vocab=Vocabulary(old.vocab.terms[t] for t in used.tolist()))
    tables.ids = [old.ids[i] for i in live_slots.tolist()]
    tables.slot_of = {cid: i for i, cid in enumerate(tables.ids)}
    tables.files, tables.file_code = list(old.files), dict(old.file_code)
    tables.langs, tables.lang_code = list(old.langs), dict(old.lang_code)
    segment = build_segment(new_terms.astype(np.int32), slots.astype(np.int32), tfs)  # runs: one per old segment
    return State(
        catalog_id=state.catalog_id,
        seq=state.seq,
        generation=state.generation,
        tables=tables,
        segments=(segment,) if segment.size else (),
        alive=np.ones(len(live_slots), dtype=bool),
        lengths=state.lengths[live_slots],
        lang=state.lang[live_slots],
        file=state.file[live_slots],
        n_alive=len(live_slots),
        total_length=float(state.lengths[live_slots].sum()),
    )
