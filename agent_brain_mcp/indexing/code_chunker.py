"""Cut source code along its syntax (tree-sitter): one chunk per definition where the limits allow.

The file's top level is cut into *units*: a definition (function, class, method, impl, struct, ...)
together with the comments, decorators and attributes right above it, or a plain statement. The
units partition the file's lines (blank lines and stray tokens go with the unit before them, a
container's header with its first unit), so every line is in exactly one unit. Units that fit the
limits become chunks, small neighbours merged; a definition too big for the limits is cut the same
way along its body (a class into its methods, an impl into its functions, ...), and whatever is
still too big is left to the line windows, keeping its symbol.

The symbol is the trail of enclosing definitions, e.g. ``class Store / def add``; a chunk that merges
several definitions lists them after the trail (``class Store / def add, def remove``), one with no
definition has the trail alone (``None`` at the top level).

A tree with errors is still used: a definition whose own header does not parse loses its name (its
body is still cut along), and a file that is mostly errors goes to the line windows whole
(``spans`` gives ``None``). The grammars, and the parsers the caller holds, are in ``grammars``.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from agent_brain_mcp.indexing.grammars import CODE_LANGUAGES, GRAMMARS, Grammar, Parsers

if TYPE_CHECKING:
    from tree_sitter import Node, Tree

log = logging.getLogger(__name__)

# Bodies that only group other members: their children are listed in their parent's place.
_FLATTEN = frozenset({"enum_body_declarations", "preproc_else", "preproc_elif", "preproc_elifdef"})
# Containers without a name of their own (header guards, extern "C" blocks): cut along their body.
_TRANSPARENT = frozenset({"preproc_ifdef", "preproc_if", "linkage_specification"})
_LIST_CHARS = 120  # the names of merged definitions, in a chunk's symbol
_MAX_DEPTH = 40  # nested containers cut along their bodies; deeper ones go to line windows
_MINIFIED_LINE_CHARS = 200  # a file with longer lines on average is not worth parsing
# Bodies inside which a function is a method (the C++ grammar has no node type of its own for them).
_CLASS_BODIES = frozenset({"field_declaration_list"})
_JSX_HINT = re.compile(rb"</[A-Za-z>]|/>")  # a closing or self-closing JSX tag


class Span(NamedTuple):
    """0-based inclusive rows, trimmed of blank lines; ``whole``: one chunk, else cut into line windows."""

    start: int
    end: int
    symbol: str | None
    whole: bool


# -- the tree -------------------------------------------------------------------------------------
def _end_row(node: Node) -> int:
    """The last row that holds part of ``node`` (a node ending with its newline ends at column 0)."""
    row, col = node.end_point
    return row - 1 if col == 0 and row > node.start_point[0] else row


def _error_rows(root: Node) -> int:
    """How many rows hold a syntax error (an ERROR node or a MISSING token)."""
    rows: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            rows.update(range(node.start_point[0], _end_row(node) + 1))
        else:
            stack.extend(child for child in node.children if child.has_error)
    return len(rows)


def _error_outside(node: Node, body: Node | None) -> bool:
    """Whether ``node`` holds a syntax error that is not inside ``body``."""
    while node.has_error:
        if body is None or node.type == "ERROR" or node.is_missing:
            return True
        if node == body:
            return False
        inner = None
        for child in node.children:
            if inner is None and child.start_byte <= body.start_byte and body.end_byte <= child.end_byte:
                inner = child
            elif child.has_error:
                return True
        if inner is None:
            return True
        node = inner
    return False


# -- what a definition is called ------------------------------------------------------------------
@dataclass(frozen=True)
class _Def:
    label: str  # e.g. "class Store"
    body: Node | None  # where a definition too big for the limits is cut further
    error: bool  # the definition's own header does not parse


def _parse(source: bytes, language: str, parsers: Parsers) -> tuple[Tree, str] | None:
    """The tree and the grammar used.

    The file name is not known here, so TypeScript may be TSX: text with a closing JSX tag is parsed
    as TSX first (the TypeScript grammar is slow to recover from all the errors JSX gives it), and as
    TypeScript if that fails (``<T>value`` type assertions are not TSX).
    """
    names = [language]
    if language == "typescript" and _JSX_HINT.search(source):
        names = ["tsx", "typescript"]
    best: tuple[Tree, str] | None = None
    for name in names:
        parser = parsers.parser(name)
        if parser is None:
            continue
        # No time limit: the parse callbacks that would allow one crash some py-tree-sitter 0.25
        # releases, and files are capped in size (indexing.max_file_bytes) anyway.
        tree = parser.parse(source)
        if not tree.root_node.has_error:
            return tree, name
        if best is None or _error_rows(tree.root_node) < _error_rows(best[0].root_node):
            best = tree, name
    return best


# -- definitions ---------------------------------------------------------------------------------
def _describe(node: Node, src: bytes, grammar: Grammar, in_class: bool) -> _Def | None:
    """The definition ``node`` is (or wraps), or ``None`` for a plain statement."""
    if node.type in grammar.wrappers:
        inner = _unwrap(node, src, grammar, in_class)
        if inner is None:
            return None
        found, described = inner
        return _Def(described.label, described.body, described.error or _error_outside(node, found))
    found_def = grammar.describe(node, src, in_class)
    if found_def is None:
        return None
    keyword, name, body = found_def
    label = f"{keyword} {name}" if name else keyword
    return _Def(label, body if node.type in grammar.containers else None, _error_outside(node, body))


def _unwrap(node: Node, src: bytes, grammar: Grammar, in_class: bool) -> tuple[Node, _Def] | None:
    if node.type == "type_declaration":  # Go: type ( A int; B struct{...} ) is a group, not one type
        specs = [c for c in node.named_children if c.type in ("type_spec", "type_alias")]
        if len(specs) != 1:
            return None
    for child in node.named_children:
        if child.type in grammar.leading:
            continue
        described = _describe(child, src, grammar, in_class)
        if described is not None:
            return child, described
    return None


def _listed(labels: list[str]) -> str:
    """``def a, def b, def c``: the definitions merged into one chunk, as many as fit in a short line."""
    shown = labels[0]
    for i, label in enumerate(labels[1:], start=1):
        if len(shown) + len(label) + 2 > _LIST_CHARS:
            return f"{shown}, … (+{len(labels) - i})"
        shown = f"{shown}, {label}"
    return shown


# -- units and spans ------------------------------------------------------------------------------
@dataclass
class _Unit:
    start: int  # rows, 0-based inclusive: first the unit's own, then its share of the partition
    end: int
    label: str | None  # a definition's own label; None for statements and unnamed containers
    body: Node | None  # cut along this when too big
    own_start: int = -1
    own_end: int = -1


def _fold_shared_rows(units: list[_Unit]) -> list[_Unit]:
    """Units that share a row with the one before merged into it (a merge of definitions has no
    label or body of its own); each unit's own rows recorded."""
    folded: list[_Unit] = []
    for unit in units:
        if folded and unit.start <= folded[-1].end:
            prev = folded[-1]
            prev.end = max(prev.end, unit.end)
            if unit.label is not None or unit.body is not None:
                prev.label, prev.body = None, None
            continue
        folded.append(unit)
    for unit in folded:
        unit.own_start, unit.own_end = unit.start, unit.end
    return folded


class _Cutter:
    def __init__(self, lines: Sequence[str], src: bytes, grammar: Grammar, max_lines: int, max_chars: int) -> None:
        self.src = src
        self.grammar = grammar
        self.max_lines = max_lines
        self.max_chars = max_chars
        self.small = max_chars // 4
        n = len(lines)
        self.offsets = [0, *itertools.accumulate(len(line) + 1 for line in lines)]
        # The first non-blank row at or after i, the last at or before i: trimming in O(1).
        self.next_text = [n] * (n + 1)
        self.prev_text = [-1] * n
        last = -1
        for i, line in enumerate(lines):
            if line.strip():
                last = i
            self.prev_text[i] = last
        for i in range(n - 1, -1, -1):
            self.next_text[i] = i if self.prev_text[i] == i else self.next_text[i + 1]

    def trim(self, start: int, end: int) -> tuple[int, int]:
        """The rows without the blank ones at either end; ``start > end`` when all are blank."""
        return self.next_text[start], self.prev_text[end]

    def size(self, start: int, end: int) -> int:
        """Characters in the trimmed rows, ``max_chars + 1`` when more rows than ``max_lines``."""
        start, end = self.trim(start, end)
        if end < start:
            return 0
        if end - start >= self.max_lines:
            return self.max_chars + 1
        return self.offsets[end + 1] - self.offsets[start] - 1

    def fits(self, start: int, end: int) -> bool:
        return self.size(start, end) <= self.max_chars

    def members(self, body: Node) -> Iterator[Node]:
        for child in body.named_children:
            if child.type in _FLATTEN:
                yield from self.members(child)
            else:
                yield child

    def units(self, members: Iterator[Node], in_class: bool) -> list[_Unit]:
        """The members as units, in order, no two sharing a row."""
        units: list[_Unit] = []
        leading: list[_Unit] = []  # comments and decorators not yet placed
        leading_types = self.grammar.leading
        for node in members:
            start, end = node.start_point[0], _end_row(node)
            if node.type in leading_types:
                leading.append(_Unit(start, end, None, None))
                continue
            label: str | None = None
            body: Node | None = None
            if node.type in _TRANSPARENT or node.type == "ERROR":
                body = node  # cut along its members, under the enclosing symbol
            else:
                described = _describe(node, self.src, self.grammar, in_class)
                if described is not None:
                    # A header that does not parse gives no name to trust, but the body may be fine.
                    label, body = (None if described.error else described.label), described.body
            if label is not None:
                # The run of comments and decorators right above goes with the definition, unless
                # it trails the code before it on the same row.
                floor = units[-1].end if units else -1
                while leading and leading[-1].end >= start - 1 and leading[-1].start > floor:
                    start = leading.pop().start
            units.extend(leading)
            leading.clear()
            units.append(_Unit(start, end, label, body))
        units.extend(leading)
        return _fold_shared_rows(units)

    def partition(self, start: int, end: int, units: list[_Unit]) -> list[_Unit]:
        """Stretch the units over rows ``start..end``: each runs to the next, the first from ``start``.

        A container's header (above its first member) and closing lines (below its last) go with
        that member, or stand alone when only without them would the member fit the limits.
        """
        for unit, nxt in itertools.pairwise(units):
            unit.end = nxt.start - 1
        first, last = units[0], units[-1]
        first.start, last.end = start, max(last.end, end)
        if start < first.own_start and not self.fits(start, first.end) and self.fits(first.own_start, first.end):
            units.insert(0, _Unit(start, first.own_start - 1, None, None))
            first.start = first.own_start
        if last.own_end < last.end and not self.fits(last.start, last.end) and self.fits(last.start, last.own_end):
            units.append(_Unit(last.own_end + 1, last.end, None, None))
            last.end = last.own_end
        return units

    def cut(
        self, start: int, end: int, members: Iterator[Node], path: tuple[str, ...], in_class: bool, depth: int
    ) -> list[Span]:
        """Spans covering rows ``start..end``, cut along ``members`` (nodes inside those rows)."""
        units = self.units(members, in_class)
        enclosing = " / ".join(path) or None
        if not units:
            return self.leaf(start, end, enclosing)
        spans: list[Span] = []
        group: list[_Unit] = []

        def flush() -> None:
            if group:
                labels = [u.label for u in group if u.label is not None]
                symbol = " / ".join((*path, _listed(labels))) if labels else enclosing
                spans.extend(self.leaf(group[0].start, group[-1].end, symbol))
                group.clear()

        for unit in self.partition(start, end, units):
            if not self.fits(unit.start, unit.end):
                flush()
                spans.extend(self.split(unit, path, depth))
                continue
            if group and self.joins(group, unit):
                group.append(unit)
                continue
            flush()
            group.append(unit)
        flush()
        return spans

    def joins(self, group: list[_Unit], unit: _Unit) -> bool:
        """Small neighbours travel together, as far as the limits allow."""
        start, end = group[0].start, group[-1].end
        if not self.fits(start, unit.end):
            return False
        return self.size(start, end) <= self.small or self.size(unit.start, unit.end) <= self.small

    def split(self, unit: _Unit, path: tuple[str, ...], depth: int) -> list[Span]:
        """A unit too big for the limits: cut along its body, else into line windows."""
        inner_path = (*path, unit.label) if unit.label is not None else path
        if unit.body is None or depth >= _MAX_DEPTH:
            return self.leaf(unit.start, unit.end, " / ".join(inner_path) or None)
        in_class = unit.body.type in _CLASS_BODIES
        return self.cut(unit.start, unit.end, self.members(unit.body), inner_path, in_class, depth + 1)

    def leaf(self, start: int, end: int, symbol: str | None) -> list[Span]:
        start, end = self.trim(start, end)
        if end < start:
            return []
        return [Span(start, end, symbol, self.fits(start, end))]


def spans(lines: Sequence[str], language: str, max_lines: int, max_chars: int, parsers: Parsers) -> list[Span] | None:
    """How to cut ``lines`` (a file of a language in ``CODE_LANGUAGES``); ``None``: use line windows.

    A span of at most ``max_lines`` lines and ``max_chars`` characters is one chunk (``whole``); a
    longer one is left to the line windows, with its symbol.
    """
    if language not in CODE_LANGUAGES or not lines:
        return None
    source = "\n".join(lines).encode("utf-8", "replace")
    if len(source) > _MINIFIED_LINE_CHARS * len(lines):
        return None  # minified or generated: no structure to follow
    try:
        parsed = _parse(source, language, parsers)
        if parsed is None:
            return None
        tree, name = parsed
        root = tree.root_node
        if root.has_error and _error_rows(root) * 2 > len(lines):
            return None  # mostly errors: the tree is no guide
        cutter = _Cutter(lines, source, GRAMMARS[name], max_lines, max_chars)
        return cutter.cut(0, len(lines) - 1, cutter.members(root), (), False, 0)
    except Exception:  # never lose a file to the parser: line windows always work
        log.warning("cutting a %s file along its syntax failed; using line windows", language, exc_info=True)
        return None
