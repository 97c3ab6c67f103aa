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
(``segments`` gives ``None``). Parsers are made lazily, one per thread and language.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from tree_sitter import Language, Node, Parser, Tree

    from agent_brain_mcp.indexing.chunking import ChunkLimits

log = logging.getLogger(__name__)

_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})
# Bodies that only group other members: their children are listed in their parent's place.
_FLATTEN = frozenset({"enum_body_declarations", "preproc_else", "preproc_elif", "preproc_elifdef"})
# Containers without a name of their own (header guards, extern "C" blocks): cut along their body.
_TRANSPARENT = frozenset({"preproc_ifdef", "preproc_if", "linkage_specification"})
_NAME_CHARS = 80
_LIST_CHARS = 120  # the names of merged definitions, in a chunk's symbol
_MAX_DEPTH = 40  # nested containers cut along their bodies; deeper ones go to line windows
_MINIFIED_LINE_CHARS = 200  # a file with longer lines on average is not worth parsing
# Bodies inside which a function is a method (the C++ grammar has no node type of its own for them).
_CLASS_BODIES = frozenset({"field_declaration_list"})
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
_CLASS_VALUES = frozenset({"class"})
_JSX_HINT = re.compile(rb"</[A-Za-z>]|/>")  # a closing or self-closing JSX tag
_DECLARATOR_LEAVES = frozenset(
    {"identifier", "field_identifier", "qualified_identifier", "destructor_name", "operator_name", "template_function"}
)


class Segment(NamedTuple):
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


def _text(node: Node | None, src: bytes) -> str:
    """A node's source text on one line, cut short (names only: parameters and bodies are not read)."""
    if node is None:
        return ""
    raw = src[node.start_byte : min(node.end_byte, node.start_byte + 4 * _NAME_CHARS)]
    return " ".join(raw.decode("utf-8", "replace").split())[:_NAME_CHARS]


def _field_text(node: Node, field: str, src: bytes) -> str:
    return _text(node.child_by_field_name(field), src)


def _declarator_name(node: Node, src: bytes) -> str:
    """The name in a C/C++ declarator chain: ``*make(int n)`` -> ``make``."""
    for _ in range(16):
        if node.type in _DECLARATOR_LEAVES:
            return _text(node, src)
        inner = node.child_by_field_name("declarator")
        if inner is None:
            named = [c for c in node.named_children if c.type not in ("parameter_list", "type_qualifier")]
            if not named:
                return ""
            inner = named[0]
        node = inner
    return ""


# -- what a definition is called ------------------------------------------------------------------
@dataclass(frozen=True)
class _Def:
    label: str  # e.g. "class Store"
    body: Node | None  # where a definition too big for the limits is cut further
    error: bool  # the definition's own header does not parse


# A definition's (keyword, name, body) from its node, the default keyword and whether it sits in a
# class-like body; ``None`` when the node is no definition after all (``const x = 1``).
_Describer = Callable[["Node", bytes, str, bool], "tuple[str, str, Node | None] | None"]


def _plain(node: Node, src: bytes, keyword: str, in_class: bool) -> tuple[str, str, Node | None] | None:
    return keyword, _field_text(node, "name", src), node.child_by_field_name("body")


def _js_binding(node: Node, src: bytes, keyword: str, in_class: bool) -> tuple[str, str, Node | None] | None:
    """``const f = () => ...`` is a function, ``let C = class {...}`` a class; other bindings are not."""
    declarators = [c for c in node.named_children if c.type == "variable_declarator"]
    value = declarators[0].child_by_field_name("value") if len(declarators) == 1 else None
    if value is None:
        return None
    name = _field_text(declarators[0], "name", src)
    if value.type in _FUNCTION_VALUES:
        return "function", name, None
    if value.type in _CLASS_VALUES:
        return "class", name, value.child_by_field_name("body")
    return None


def _c_function(node: Node, src: bytes, keyword: str, in_class: bool) -> tuple[str, str, Node | None] | None:
    declarator = node.child_by_field_name("declarator")
    name = _declarator_name(declarator, src) if declarator is not None else ""
    return "method" if in_class else keyword, name, node.child_by_field_name("body")


def _c_type(node: Node, src: bytes, keyword: str, in_class: bool) -> tuple[str, str, Node | None] | None:
    body = node.child_by_field_name("body")
    return None if body is None else (keyword, _field_text(node, "name", src), body)  # no body: a use of the type


def _c_typedef(node: Node, src: bytes, keyword: str, in_class: bool) -> tuple[str, str, Node | None] | None:
    """``typedef struct {...} pair_t;`` is ``struct pair_t``; ``typedef int id_t;`` is no definition."""
    spec = node.child_by_field_name("type")
    body = spec.child_by_field_name("body") if spec is not None else None
    if spec is None or body is None:
        return None
    return spec.type.removesuffix("_specifier"), _field_text(node, "declarator", src), body


def _go_type(node: Node, src: bytes, keyword: str, in_class: bool) -> tuple[str, str, Node | None] | None:
    name, type_node = _field_text(node, "name", src), node.child_by_field_name("type")
    if type_node is not None and type_node.type == "struct_type":
        fields = next((c for c in type_node.named_children if c.type == "field_declaration_list"), None)
        return "struct", name, fields
    if type_node is not None and type_node.type == "interface_type":
        return "interface", name, type_node
    return keyword, name, None


def _go_method(node: Node, src: bytes, keyword: str, in_class: bool) -> tuple[str, str, Node | None] | None:
    """``func (s *Store) Add(...)`` is ``func (*Store) Add``."""
    name, receiver = _field_text(node, "name", src), node.child_by_field_name("receiver")
    params = [c for c in receiver.named_children if c.type == "parameter_declaration"] if receiver else []
    recv_type = _field_text(params[0], "type", src) if params else ""
    return keyword, f"({recv_type}) {name}" if recv_type else name, node.child_by_field_name("body")


def _rust_impl(node: Node, src: bytes, keyword: str, in_class: bool) -> tuple[str, str, Node | None] | None:
    trait, type_name = _field_text(node, "trait", src), _field_text(node, "type", src)
    return keyword, f"{trait} for {type_name}" if trait else type_name, node.child_by_field_name("body")


def _ruby_singleton_method(node: Node, src: bytes, keyword: str, in_class: bool) -> tuple[str, str, Node | None] | None:
    name = f"{_field_text(node, 'object', src)}.{_field_text(node, 'name', src)}"
    return keyword, name, node.child_by_field_name("body")


def _ruby_singleton_class(node: Node, src: bytes, keyword: str, in_class: bool) -> tuple[str, str, Node | None] | None:
    return keyword, f"<< {_field_text(node, 'value', src)}", node.child_by_field_name("body")


# -- the languages -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Grammar:
    module: str
    loader: str
    defs: dict[str, str]  # node type -> keyword of its symbol
    containers: frozenset[str]  # definitions whose body is cut further when they are too big
    wrappers: frozenset[str] = frozenset()  # nodes around a definition (decorators, export, template)
    leading: frozenset[str] = _COMMENTS  # nodes right above a definition that belong to it
    describers: dict[str, _Describer] = field(default_factory=dict)  # node types not described by _plain


_C_DEFS = {
    "function_definition": "function",
    "struct_specifier": "struct",
    "union_specifier": "union",
    "enum_specifier": "enum",
    "type_definition": "typedef",
    "preproc_function_def": "#define",
}
_JS_DEFS = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "class_declaration": "class",
    "method_definition": "method",
    "lexical_declaration": "const",  # only when it binds one function or class
    "variable_declaration": "var",
}
_TS_DEFS = {
    **_JS_DEFS,
    "function_signature": "function",
    "abstract_class_declaration": "class",
    "abstract_method_signature": "method",
    "interface_declaration": "interface",
    "type_alias_declaration": "type",
    "enum_declaration": "enum",
    "internal_module": "namespace",
    "module": "module",
}
_JS_DESCRIBERS: dict[str, _Describer] = {"lexical_declaration": _js_binding, "variable_declaration": _js_binding}
_C_DESCRIBERS: dict[str, _Describer] = {
    "function_definition": _c_function,
    "struct_specifier": _c_type,
    "union_specifier": _c_type,
    "enum_specifier": _c_type,
    "class_specifier": _c_type,
    "type_definition": _c_typedef,
}
_JS_CONTAINERS = frozenset({"class_declaration", "lexical_declaration", "variable_declaration"})
_TS_CONTAINERS = _JS_CONTAINERS | {
    "abstract_class_declaration",
    "interface_declaration",
    "enum_declaration",
    "internal_module",
    "module",
}
_TS_WRAPPERS = frozenset({"export_statement", "ambient_declaration", "expression_statement"})

_GRAMMARS: dict[str, _Grammar] = {
    "python": _Grammar(
        "tree_sitter_python",
        "language",
        {"function_definition": "def", "class_definition": "class"},
        frozenset({"class_definition"}),
        wrappers=frozenset({"decorated_definition"}),
    ),
    "javascript": _Grammar(
        "tree_sitter_javascript",
        "language",
        _JS_DEFS,
        _JS_CONTAINERS,
        wrappers=frozenset({"export_statement"}),
        leading=_COMMENTS | {"decorator"},
        describers=_JS_DESCRIBERS,
    ),
    "typescript": _Grammar(
        "tree_sitter_typescript",
        "language_typescript",
        _TS_DEFS,
        _TS_CONTAINERS,
        wrappers=_TS_WRAPPERS,
        leading=_COMMENTS | {"decorator"},
        describers=_JS_DESCRIBERS,
    ),
    "tsx": _Grammar(
        "tree_sitter_typescript",
        "language_tsx",
        _TS_DEFS,
        _TS_CONTAINERS,
        wrappers=_TS_WRAPPERS,
        leading=_COMMENTS | {"decorator"},
        describers=_JS_DESCRIBERS,
    ),
    "go": _Grammar(
        "tree_sitter_go",
        "language",
        {"function_declaration": "func", "method_declaration": "func", "type_spec": "type", "type_alias": "type"},
        frozenset({"type_spec"}),
        wrappers=frozenset({"type_declaration"}),
        describers={"type_spec": _go_type, "method_declaration": _go_method},
    ),
    "rust": _Grammar(
        "tree_sitter_rust",
        "language",
        {
            "function_item": "fn",
            "function_signature_item": "fn",
            "struct_item": "struct",
            "enum_item": "enum",
            "union_item": "union",
            "trait_item": "trait",
            "impl_item": "impl",
            "mod_item": "mod",
            "macro_definition": "macro_rules!",
            "type_item": "type",
        },
        frozenset({"struct_item", "enum_item", "union_item", "trait_item", "impl_item", "mod_item"}),
        leading=_COMMENTS | {"attribute_item"},
        describers={"impl_item": _rust_impl},
    ),
    "java": _Grammar(
        "tree_sitter_java",
        "language",
        {
            "class_declaration": "class",
            "interface_declaration": "interface",
            "enum_declaration": "enum",
            "record_declaration": "record",
            "annotation_type_declaration": "@interface",
            "method_declaration": "method",
            "constructor_declaration": "constructor",
            "compact_constructor_declaration": "constructor",
        },
        frozenset(
            {
                "class_declaration",
                "interface_declaration",
                "enum_declaration",
                "record_declaration",
                "annotation_type_declaration",
            }
        ),
    ),
    "c": _Grammar(
        "tree_sitter_c",
        "language",
        _C_DEFS,
        frozenset({"struct_specifier", "union_specifier", "enum_specifier", "type_definition"}),
        describers=_C_DESCRIBERS,
    ),
    "cpp": _Grammar(
        "tree_sitter_cpp",
        "language",
        {**_C_DEFS, "class_specifier": "class", "namespace_definition": "namespace", "concept_definition": "concept"},
        frozenset(
            {
                "struct_specifier",
                "union_specifier",
                "enum_specifier",
                "type_definition",
                "class_specifier",
                "namespace_definition",
            }
        ),
        wrappers=frozenset({"template_declaration"}),
        describers=_C_DESCRIBERS,
    ),
    "ruby": _Grammar(
        "tree_sitter_ruby",
        "language",
        {"method": "def", "singleton_method": "def", "class": "class", "module": "module", "singleton_class": "class"},
        frozenset({"class", "module", "singleton_class"}),
        describers={"singleton_method": _ruby_singleton_method, "singleton_class": _ruby_singleton_class},
    ),
}

# The languages (as ``detect_language`` names them) that are cut along their syntax.
CODE_LANGUAGES = frozenset(_GRAMMARS) - {"tsx"}

# -- parsers: languages are shared, parsers are not thread-safe (one per thread and language) -----
_languages: dict[str, Language] = {}
_languages_lock = threading.Lock()
_local = threading.local()
_unavailable: set[str] = set()


def _language(name: str) -> Language | None:
    lang = _languages.get(name)
    if lang is not None or name in _unavailable:
        return lang
    with _languages_lock:
        if name in _languages:
            return _languages[name]
        try:
            from tree_sitter import Language

            grammar = _GRAMMARS[name]
            lang = Language(getattr(importlib.import_module(grammar.module), grammar.loader)())
        except Exception as exc:  # noqa: BLE001 - a missing or incompatible grammar means line windows
            log.warning("no tree-sitter grammar for %s, using line windows: %s", name, exc)
            _unavailable.add(name)
            return None
        _languages[name] = lang
        return lang


def _parser(name: str) -> Parser | None:
    parsers: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(name)
    if parser is None:
        lang = _language(name)
        if lang is None:
            return None
        from tree_sitter import Parser

        parser = parsers[name] = Parser(lang)
    return parser


def _parse(source: bytes, language: str) -> tuple[Tree, str] | None:
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
        parser = _parser(name)
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
def _describe(node: Node, src: bytes, grammar: _Grammar, in_class: bool) -> _Def | None:
    """The definition ``node`` is (or wraps), or ``None`` for a plain statement."""
    if node.type in grammar.wrappers:
        inner = _unwrap(node, src, grammar, in_class)
        if inner is None:
            return None
        found, described = inner
        return _Def(described.label, described.body, described.error or _error_outside(node, found))
    keyword = grammar.defs.get(node.type)
    if keyword is None:
        return None
    found_def = grammar.describers.get(node.type, _plain)(node, src, keyword, in_class)
    if found_def is None:
        return None
    keyword, name, body = found_def
    label = f"{keyword} {name}" if name else keyword
    return _Def(label, body if node.type in grammar.containers else None, _error_outside(node, body))


def _unwrap(node: Node, src: bytes, grammar: _Grammar, in_class: bool) -> tuple[Node, _Def] | None:
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


# -- units and segments ---------------------------------------------------------------------------
@dataclass
class _Unit:
    start: int  # rows, 0-based inclusive: first the unit's own, then its share of the partition
    end: int
    label: str | None  # a definition's own label; None for statements and unnamed containers
    body: Node | None  # cut along this when too big
    own_start: int = -1
    own_end: int = -1


class _Cutter:
    def __init__(self, lines: Sequence[str], src: bytes, grammar: _Grammar, limits: ChunkLimits) -> None:
        self.src = src
        self.grammar = grammar
        self.max_lines = limits.max_lines
        self.max_chars = limits.max_chars
        self.small = limits.max_chars // 4
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
        folded: list[_Unit] = []
        for unit in units:
            if folded and unit.start <= folded[-1].end:  # shares a row with the unit before: one unit
                prev = folded[-1]
                prev.end = max(prev.end, unit.end)
                if unit.label is not None or unit.body is not None:
                    prev.label, prev.body = None, None
                continue
            folded.append(unit)
        for unit in folded:
            unit.own_start, unit.own_end = unit.start, unit.end
        return folded

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
    ) -> list[Segment]:
        """Segments covering rows ``start..end``, cut along ``members`` (nodes inside those rows)."""
        units = self.units(members, in_class)
        enclosing = " / ".join(path) or None
        if not units:
            return self.leaf(start, end, enclosing)
        segments: list[Segment] = []
        group: list[_Unit] = []

        def flush() -> None:
            if group:
                labels = [u.label for u in group if u.label is not None]
                symbol = " / ".join((*path, _listed(labels))) if labels else enclosing
                segments.extend(self.leaf(group[0].start, group[-1].end, symbol))
                group.clear()

        for unit in self.partition(start, end, units):
            if not self.fits(unit.start, unit.end):
                flush()
                segments.extend(self.split(unit, path, depth))
                continue
            if group and self.joins(group, unit):
                group.append(unit)
                continue
            flush()
            group.append(unit)
        flush()
        return segments

    def joins(self, group: list[_Unit], unit: _Unit) -> bool:
        """Small neighbours travel together, as far as the limits allow."""
        start, end = group[0].start, group[-1].end
        if not self.fits(start, unit.end):
            return False
        return self.size(start, end) <= self.small or self.size(unit.start, unit.end) <= self.small

    def split(self, unit: _Unit, path: tuple[str, ...], depth: int) -> list[Segment]:
        """A unit too big for the limits: cut along its body, else into line windows."""
        inner_path = (*path, unit.label) if unit.label is not None else path
        if unit.body is None or depth >= _MAX_DEPTH:
            return self.leaf(unit.start, unit.end, " / ".join(inner_path) or None)
        in_class = unit.body.type in _CLASS_BODIES
        return self.cut(unit.start, unit.end, self.members(unit.body), inner_path, in_class, depth + 1)

    def leaf(self, start: int, end: int, symbol: str | None) -> list[Segment]:
        start, end = self.trim(start, end)
        if end < start:
            return []
        return [Segment(start, end, symbol, self.fits(start, end))]


def segments(lines: Sequence[str], language: str, limits: ChunkLimits) -> list[Segment] | None:
    """How to cut ``lines`` (a file of a language in ``CODE_LANGUAGES``); ``None``: use line windows."""
    if language not in CODE_LANGUAGES or not lines:
        return None
    source = "\n".join(lines).encode("utf-8", "replace")
    if len(source) > _MINIFIED_LINE_CHARS * len(lines):
        return None  # minified or generated: no structure to follow
    try:
        parsed = _parse(source, language)
        if parsed is None:
            return None
        tree, name = parsed
        root = tree.root_node
        if root.has_error and _error_rows(root) * 2 > len(lines):
            return None  # mostly errors: the tree is no guide
        cutter = _Cutter(lines, source, _GRAMMARS[name], limits)
        return cutter.cut(0, len(lines) - 1, cutter.members(root), (), False, 0)
    except Exception:  # never lose a file to the parser: line windows always work
        log.warning("cutting a %s file along its syntax failed; using line windows", language, exc_info=True)
        return None
