"""The languages cut along their syntax: one tree-sitter grammar per language, and its parsers.

A ``Grammar`` says which nodes are definitions (and the keyword of their symbol), which of them are
cut further along their body when too big, which nodes wrap a definition (decorators, ``export``,
``template``) and which sit right above it and belong to it (comments, attributes). Where a node's
name is not its ``name`` field, a *describer* reads it (``func (*Store) Add``, ``impl Trait for T``).

To add a language: its extension in ``languages.py``, an entry in ``GRAMMARS`` below, the grammar
package in ``pyproject.toml``, and samples in ``tests/unit/test_code_chunker.py``.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Language, Node, Parser

log = logging.getLogger(__name__)

_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})
_NAME_CHARS = 80
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
_CLASS_VALUES = frozenset({"class"})
_DECLARATOR_LEAVES = frozenset(
    {"identifier", "field_identifier", "qualified_identifier", "destructor_name", "operator_name", "template_function"}
)


# -- reading names -------------------------------------------------------------------------------
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
class Grammar:
    module: str
    loader: str
    defs: dict[str, str]  # node type -> keyword of its symbol
    containers: frozenset[str]  # definitions whose body is cut further when they are too big
    wrappers: frozenset[str] = frozenset()  # nodes around a definition (decorators, export, template)
    leading: frozenset[str] = _COMMENTS  # nodes right above a definition that belong to it
    describers: dict[str, _Describer] = field(default_factory=dict)  # node types not described by _plain

    def describe(self, node: Node, src: bytes, in_class: bool) -> tuple[str, str, Node | None] | None:
        """The (keyword, name, body) of a definition node; ``None`` for any other node."""
        keyword = self.defs.get(node.type)
        if keyword is None:
            return None
        return self.describers.get(node.type, _plain)(node, src, keyword, in_class)


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

GRAMMARS: dict[str, Grammar] = {
    "python": Grammar(
        "tree_sitter_python",
        "language",
        {"function_definition": "def", "class_definition": "class"},
        frozenset({"class_definition"}),
        wrappers=frozenset({"decorated_definition"}),
    ),
    "javascript": Grammar(
        "tree_sitter_javascript",
        "language",
        _JS_DEFS,
        _JS_CONTAINERS,
        wrappers=frozenset({"export_statement"}),
        leading=_COMMENTS | {"decorator"},
        describers=_JS_DESCRIBERS,
    ),
    "typescript": Grammar(
        "tree_sitter_typescript",
        "language_typescript",
        _TS_DEFS,
        _TS_CONTAINERS,
        wrappers=_TS_WRAPPERS,
        leading=_COMMENTS | {"decorator"},
        describers=_JS_DESCRIBERS,
    ),
    "tsx": Grammar(
        "tree_sitter_typescript",
        "language_tsx",
        _TS_DEFS,
        _TS_CONTAINERS,
        wrappers=_TS_WRAPPERS,
        leading=_COMMENTS | {"decorator"},
        describers=_JS_DESCRIBERS,
    ),
    "go": Grammar(
        "tree_sitter_go",
        "language",
        {"function_declaration": "func", "method_declaration": "func", "type_spec": "type", "type_alias": "type"},
        frozenset({"type_spec"}),
        wrappers=frozenset({"type_declaration"}),
        describers={"type_spec": _go_type, "method_declaration": _go_method},
    ),
    "rust": Grammar(
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
    "java": Grammar(
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
    "c": Grammar(
        "tree_sitter_c",
        "language",
        _C_DEFS,
        frozenset({"struct_specifier", "union_specifier", "enum_specifier", "type_definition"}),
        describers=_C_DESCRIBERS,
    ),
    "cpp": Grammar(
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
    "ruby": Grammar(
        "tree_sitter_ruby",
        "language",
        {"method": "def", "singleton_method": "def", "class": "class", "module": "module", "singleton_class": "class"},
        frozenset({"class", "module", "singleton_class"}),
        describers={"singleton_method": _ruby_singleton_method, "singleton_class": _ruby_singleton_class},
    ),
}

# The languages (as ``detect_language`` names them) that are cut along their syntax.
CODE_LANGUAGES = frozenset(GRAMMARS) - {"tsx"}


class Parsers:
    """Parsers by grammar name: each grammar is loaded once, each thread gets its own parser.

    Languages are shared; parsers are not thread-safe, so one per thread and grammar. A grammar that
    fails to load (a missing or incompatible package) is reported once and, for as long as this
    object lives, left to line windows instead of being retried (and reported) for every file.
    """

    def __init__(self) -> None:
        self._languages: dict[str, Language | None] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def language(self, name: str) -> Language | None:
        """The grammar's language, ``None`` when it cannot be loaded."""
        with self._lock:
            if name not in self._languages:
                self._languages[name] = _load(name)
            return self._languages[name]

    def parser(self, name: str) -> Parser | None:
        """This thread's parser for the grammar, ``None`` when the grammar cannot be loaded."""
        parsers: dict[str, Parser] | None = getattr(self._local, "parsers", None)
        if parsers is None:
            parsers = self._local.parsers = {}
        parser = parsers.get(name)
        if parser is None:
            lang = self.language(name)
            if lang is None:
                return None
            from tree_sitter import Parser

            parser = parsers[name] = Parser(lang)
        return parser


def _load(name: str) -> Language | None:
    try:
        from tree_sitter import Language

        grammar = GRAMMARS[name]
        return Language(getattr(importlib.import_module(grammar.module), grammar.loader)())
    except Exception as exc:  # noqa: BLE001 - a missing or incompatible grammar means line windows
        log.warning("no tree-sitter grammar for %s, using line windows: %s", name, exc)
        return None
