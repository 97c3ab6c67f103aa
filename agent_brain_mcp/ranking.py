"""Ranking on top of the two sides: definitions before mentions, a per-file cap, files ranked as wholes.

A chunk *defines* what a query names when its symbol (tree-sitter's ``class Store / def add``) or a
definition header in its text (``def``/``class``/``func``/``function``/``type``/... followed by the
name) declares one of the query's identifiers, or when one of the query's phrases (a quoted string,
an exception's message) stands in its text on a line that raises, throws, logs or assigns it. Those
chunks form a third ranking (in fused order, chunks that also match the name's qualifiers first) that
is fused like the other two: ``DEFINITION_WEIGHT / (k + definition_rank)``; among equally strong
definitions an implementation comes before a type stub or declaration file (``.pyi``, ``.d.ts``). Nothing looks at folder
names: a test that merely calls a function or asserts on a message never *defines* it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from agent_brain_mcp.backends.base import ScoredChunk
from agent_brain_mcp.fusion import rrf_score
from agent_brain_mcp.query_terms import MIN_PHRASE_CHARS, QueryTerms

# A definition of what the query names outranks any chunk the two sides agree on less than fully.
DEFINITION_WEIGHT = 1.0
# Hits of one file in the first page of chunk results (the rest follow, after other files' hits).
DEFAULT_MAX_PER_FILE = 2
# File mode: a file's score fuses the best rank each side gave any of its chunks and adds its best
# definition boost (adding its next best chunks' scores as well, halving each, measured worse: see
# docs/BENCHMARKS.md "Ranking files and definitions").
FILE_CHUNKS_SHOWN = 2
# File mode: a file whose path the query spells out (a traceback frame, "see forms/models.py").
PATH_WEIGHT = 0.5

_DEF_KEYWORDS = (
    r"def|class|func|function|fn|type|interface|struct|enum|trait|module|macro|object|record|"
    r"const|let|var|val|async\s+def|async\s+function|export\s+(?:default\s+)?(?:async\s+)?(?:function|class|const)"
)
_LITERAL_DEFINER = re.compile(
    r"\b(?:raise|throw|panic)\b|\b\w*(?:Error|Exception|Warning)\s*\(|\berrors\.New\b|\bErrorf\b"
    r"|\.(?:error|warning|warn|info|debug|critical|exception|fatal)\s*\(|\bwarn\s*\("
    r"|^\s*[A-Za-z_][\w.]*\s*(?::[^=\n]*)?=(?!=)"
)
_LABEL_NAME = re.compile(r"([A-Za-z_$][\w$]*)\s*$")


@dataclass(frozen=True)
class _Matcher:
    header: re.Pattern[str] | None
    names: frozenset[str]
    qualified: frozenset[str]
    fragments: tuple[str, ...]


def _matcher(terms: QueryTerms) -> _Matcher | None:
    fragments = _fragments(terms.phrases)
    if not terms.identifiers and not fragments:
        return None
    header = None
    if terms.identifiers:
        names = "|".join(re.escape(n) for n in sorted(terms.identifiers, key=len, reverse=True))
        header = re.compile(rf"(?:^|[\s;{{}}(])(?:{_DEF_KEYWORDS})\s+(?:\([^)]*\)\s*)?(?:[\w$]+\.)?(?:{names})\b")
    return _Matcher(header, terms.identifiers, terms.qualified, fragments)


def _fragments(phrases: Iterable[str]) -> tuple[str, ...]:
    """The literal parts of each phrase: a message with values filled in ("Cannot resolve 'x' into
    field") is found through the parts the source spells out around its placeholders."""
    out: list[str] = []
    for phrase in phrases:
        out.append(phrase)
        parts = re.split(r"[\"'`]|<[^>]*>|\b\d+\b|%\w|\{[^}]*\}", phrase)
        out.extend(p.strip() for p in parts if len(p.strip()) >= MIN_PHRASE_CHARS and p.strip() != phrase)
    return tuple(dict.fromkeys(out))


def _symbol_names(symbol: str | None) -> tuple[set[str], set[str]]:
    """(names the chunk's own definitions declare, names of the definitions around it)."""
    if not symbol:
        return set(), set()
    trail = [s.strip() for s in symbol.split(" / ")]
    own = {m.group(1) for label in trail[-1].split(", ") if (m := _LABEL_NAME.search(label))}
    around = {m.group(1) for label in trail[:-1] if (m := _LABEL_NAME.search(label))}
    return own, around


def definition_strength(hit: ScoredChunk, matcher: _Matcher) -> int:
    """0: no definition of what the query names; 1: defines a name or a phrase; 2: with its qualifier."""
    own, around = _symbol_names(hit.symbol)
    defines = bool(own & matcher.names) or (matcher.header is not None and matcher.header.search(hit.text) is not None)
    if defines:
        return 2 if matcher.qualified & (own | around) else 1
    return 1 if matcher.fragments and _defines_literal(hit.text, matcher.fragments) else 0


def _defines_literal(text: str, fragments: tuple[str, ...]) -> bool:
    for fragment in fragments:
        at = text.find(fragment)
        while at >= 0:
            line_start = text.rfind("\n", 0, at) + 1
            context_start = line_start
            for _ in range(2):  # the call may open a line or two above (a wrapped raise)
                context_start = text.rfind("\n", 0, max(context_start - 1, 0)) + 1
            if _LITERAL_DEFINER.search(text[line_start:at]) or _LITERAL_DEFINER.search(text[context_start:line_start]):
                return True
            at = text.find(fragment, at + 1)
    return False


def boost_definitions(hits: list[ScoredChunk], terms: QueryTerms, k: int) -> list[ScoredChunk]:
    """``hits`` (fused order) with ``boost`` set on the chunks that define what the query names."""
    matcher = _matcher(terms)
    if matcher is None:
        return hits
    strength = {i: s for i, h in enumerate(hits) if (s := definition_strength(h, matcher))}
    order = sorted(strength, key=lambda i: (-strength[i], is_declaration_file(hits[i].rel_path), i))
    out = list(hits)
    for rank, i in enumerate(order, start=1):
        out[i] = replace(hits[i], boost=DEFINITION_WEIGHT / (k + rank))
    return out


def is_declaration_file(rel_path: str) -> bool:
    """Type stubs and declaration files (``.pyi``, ``.d.ts``) declare names that other files define:
    among equally strong definitions, the implementation comes first."""
    return rel_path.endswith(_DECLARATION_SUFFIXES)


_DECLARATION_SUFFIXES = (".pyi", ".d.ts", ".d.mts", ".d.cts")


def cap_per_file(hits: list[ScoredChunk], top_k: int, max_per_file: int | None) -> list[ScoredChunk]:
    """The first ``top_k`` hits with at most ``max_per_file`` of any one file, while other files
    have hits to show; a page with too few other files is filled with the held-back hits, in order."""
    if not max_per_file:
        return hits[:top_k]
    seen: dict[tuple[str, str], int] = defaultdict(int)
    first: list[ScoredChunk] = []
    held: list[ScoredChunk] = []
    for hit in hits:
        key = (hit.root, hit.rel_path)
        (first if seen[key] < max_per_file else held).append(hit)
        seen[key] += 1
    return (first + held)[:top_k]


@dataclass
class RankedFile:
    root: str
    rel_path: str
    language: str
    score: float
    chunks: list[ScoredChunk]  # the file's candidates, best first
    path_named: bool

    @property
    def vector_rank(self) -> int | None:
        return min((c.vector_rank for c in self.chunks if c.vector_rank is not None), default=None)

    @property
    def keyword_rank(self) -> int | None:
        return min((c.keyword_rank for c in self.chunks if c.keyword_rank is not None), default=None)


def rank_files(hits: list[ScoredChunk], terms: QueryTerms, alpha: float, k: int) -> list[RankedFile]:
    """Files ranked by the evidence of all their candidate chunks (scored, boosted, best first): the
    fused score of the best rank each side gave any chunk of the file (a file whose one chunk the
    semantic side ranks first and another the keyword side ranks first gets both), its strongest
    definition and the path evidence."""
    by_file: dict[tuple[str, str], list[ScoredChunk]] = defaultdict(list)
    for hit in hits:
        by_file[(hit.root, hit.rel_path)].append(hit)
    files = []
    for (root, rel), chunks in by_file.items():
        chunks.sort(key=lambda h: -h.score)
        vrank = min((c.vector_rank for c in chunks if c.vector_rank is not None), default=None)
        krank = min((c.keyword_rank for c in chunks if c.keyword_rank is not None), default=None)
        score = rrf_score(vrank, krank, alpha, k) + max(c.boost for c in chunks)
        named = path_named(rel, terms.paths)
        if named:
            score += PATH_WEIGHT / (k + 1)
        files.append(RankedFile(root, rel, chunks[0].language, score, chunks, named))
    files.sort(key=lambda f: -f.score)
    return files


def path_named(rel_path: str, paths: Iterable[str]) -> bool:
    """The query spells out this file: a path of it ends with the file's last two path parts (or is
    its whole path), e.g. ``.../site-packages/django/db/models/query.py`` names ``db/models/query.py``."""
    parts = rel_path.split("/")
    tail = "/".join(parts[-2:])
    for path in paths:
        p = path.lstrip("./")
        if p in (rel_path, tail) or p.endswith("/" + tail):
            return True
    return False
