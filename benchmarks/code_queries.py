"""Generated file-retrieval queries from source trees (tree-sitter, the project's own parsers).

Two kinds, both deterministic for a seed:

- **definitions**: the name of a function, class or method (Python ``def``/``class``; JavaScript
  ``function``, ``class``, class methods, ``const f = () => ...`` / ``function`` expressions) -> every
  file of the tree that defines that name (tests included). Names are drawn from files outside test
  folders; dunder names, names shorter than 4 characters and names defined in more than
  ``MAX_GOLD`` files are skipped (too generic to have an answer).
- **literals**: the message of ``raise X("...")`` (Python), ``throw new X("...")`` (JavaScript), or a
  logging call ``<log...>.error|warning|warn|info|exception|critical("...")`` / ``console.error|warn(...)``
  -> every file with the same literal in such a call. Only plain literals (no f-string / template
  substitutions) of at least 3 words and 15-200 characters; the query is the literal's text as written.

Sampling spreads the queries evenly over the trees (what one tree lacks goes to the others) and
draws uniformly within a tree. Files: ``.py`` (and ``.js .mjs .cjs`` unless ``include_py_only``),
parsed unless their lines are minified-long.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent_brain_mcp.indexing.code_chunker import _parse
from agent_brain_mcp.indexing.grammars import Parsers

if TYPE_CHECKING:
    from tree_sitter import Node

__all__ = ["GeneratedQuery", "definitions", "generate", "is_test_path", "literals", "sample"]

MAX_GOLD = 3
MIN_NAME = 4
LITERAL_CHARS = (15, 200)
MAX_AVG_LINE = 200
LANGUAGES = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript"}
LOG_METHODS = frozenset({"error", "warning", "warn", "info", "exception", "critical"})
_TEST_PART = re.compile(r"^(tests?|testing|__tests__|spec|specs)$")
_TEST_FILE = re.compile(r"(^test_.*\.py$|_test\.py$|\.(spec|test)\.[cm]?js$|^conftest\.py$)")
_PARSERS = Parsers()

PY_DEFS = frozenset({"function_definition", "class_definition"})
JS_DEFS = frozenset(
    {"function_declaration", "generator_function_declaration", "class_declaration", "method_definition"}
)
JS_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "class"})


@dataclass(frozen=True)
class GeneratedQuery:
    qid: str
    dataset: str
    kind: str
    text: str
    gold: frozenset[str]


def is_test_path(rel: str) -> bool:
    parts = rel.split("/")
    return any(_TEST_PART.match(p) for p in parts[:-1]) or bool(_TEST_FILE.search(parts[-1]))


def source_files(
    tree: Path, py_only: bool = False, allowed: Collection[str] | None = None
) -> Iterator[tuple[str, str, bytes]]:
    """(relative path, language, bytes) of the parsable source files (of ``allowed`` when given:
    the files the index holds), sorted by path."""
    for path in sorted(tree.rglob("*")):
        language = LANGUAGES.get(path.suffix)
        if language is None or not path.is_file() or (py_only and language != "python"):
            continue
        if allowed is not None and path.relative_to(tree).as_posix() not in allowed:
            continue
        data = path.read_bytes()
        lines = data.count(b"\n") + 1
        if len(data) / lines > MAX_AVG_LINE:
            continue
        yield path.relative_to(tree).as_posix(), language, data


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.named_children))


def _text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _defined_name(node: Node, language: str) -> str | None:
    if language == "python" and node.type in PY_DEFS:
        return _text(node.child_by_field_name("name")) or None
    if language == "javascript":
        if node.type in JS_DEFS:
            return _text(node.child_by_field_name("name")) or None
        if node.type == "variable_declarator":
            value = node.child_by_field_name("value")
            name = node.child_by_field_name("name")
            if (
                value is not None
                and value.type in JS_FUNCTION_VALUES
                and name is not None
                and name.type == "identifier"
            ):
                return _text(name)
    return None


def definitions(source: bytes, language: str) -> set[str]:
    """The names the file defines (functions, classes, methods)."""
    parsed = _parse(source, language, _PARSERS)
    if parsed is None:
        return set()
    names = {_defined_name(n, language) for n in _walk(parsed[0].root_node)}
    return {n for n in names if n}


def _plain_string(node: Node | None, language: str) -> str | None:
    """The text of a string literal without substitutions, else None."""
    if node is None:
        return None
    if language == "python" and node.type == "string":
        start = _text(node.children[0]) if node.children else ""
        if any(c in start.lower() for c in "fb") or any(c.type == "interpolation" for c in node.named_children):
            return None
        return "".join(_text(c) for c in node.named_children if c.type == "string_content")
    if language == "javascript" and node.type in ("string", "template_string"):
        if any(c.type == "template_substitution" for c in node.named_children):
            return None
        return _text(node)[1:-1]
    return None


def _first_argument(call: Node | None) -> Node | None:
    if call is None:
        return None
    args = call.child_by_field_name("arguments")
    if args is None:
        return None
    named = [c for c in args.named_children if c.type != "comment"]
    return named[0] if named else None


def _is_log_call(call: Node, language: str) -> bool:
    func = call.child_by_field_name("function")
    if func is None:
        return False
    if language == "python" and func.type == "attribute":
        obj, attr = func.child_by_field_name("object"), _text(func.child_by_field_name("attribute"))
        return attr in LOG_METHODS and "log" in _text(obj).rsplit(".", 1)[-1].lower()
    if language == "javascript" and func.type == "member_expression":
        obj, prop = func.child_by_field_name("object"), _text(func.child_by_field_name("property"))
        last = _text(obj).rsplit(".", 1)[-1].lower()
        return prop in LOG_METHODS and ("log" in last or last == "console")
    return False


def _message_nodes(root: Node, language: str) -> Iterator[Node | None]:
    for node in _walk(root):
        if node.type == "raise_statement" and language == "python":
            call = node.named_children[0] if node.named_children else None
            if call is not None and call.type == "call":
                yield _first_argument(call)
        elif node.type == "throw_statement" and language == "javascript":
            new = node.named_children[0] if node.named_children else None
            if new is not None and new.type == "new_expression":
                yield _first_argument(new)
        elif node.type in ("call", "call_expression") and _is_log_call(node, language):
            yield _first_argument(node)


def literals(source: bytes, language: str) -> set[str]:
    """The plain messages of the file's raise/throw/logging calls that make usable queries."""
    parsed = _parse(source, language, _PARSERS)
    if parsed is None:
        return set()
    out: set[str] = set()
    for node in _message_nodes(parsed[0].root_node, language):
        text = _plain_string(node, language)
        if text is None:
            continue
        text = text.strip()
        if LITERAL_CHARS[0] <= len(text) <= LITERAL_CHARS[1] and len(text.split()) >= 3 and re.search("[A-Za-z]", text):
            out.add(text)
    return out


def _index(
    tree: Path, kind: str, py_only: bool, allowed: Collection[str] | None
) -> tuple[dict[str, set[str]], set[str]]:
    """Item (name or literal) -> the files that have it; and the items found outside test files."""
    where: dict[str, set[str]] = {}
    candidates: set[str] = set()
    extract = definitions if kind == "definitions" else literals
    for rel, language, data in source_files(tree, py_only, allowed):
        items = extract(data, language)
        for item in items:
            where.setdefault(item, set()).add(rel)
        if not is_test_path(rel):
            candidates |= items
    if kind == "definitions":
        candidates = {n for n in candidates if len(n) >= MIN_NAME and not (n.startswith("__") and n.endswith("__"))}
    return where, {c for c in candidates if len(where[c]) <= MAX_GOLD}


def sample(pools: dict[str, list[str]], n: int, rng: random.Random) -> list[tuple[str, str]]:
    """``n`` (pool, item) pairs spread evenly over the pools; what a small pool lacks goes to others."""
    order = {name: rng.sample(items, len(items)) for name, items in sorted(pools.items())}
    picked: list[tuple[str, str]] = []
    while len(picked) < n and any(order.values()):
        for name in sorted(order):
            if order[name] and len(picked) < n:
                picked.append((name, order[name].pop()))
    return picked


def generate(
    trees: dict[str, Path],
    n_definitions: int,
    n_literals: int,
    seed: int,
    py_only: bool = False,
    allowed: Mapping[str, Collection[str]] | None = None,
) -> dict[str, list[GeneratedQuery]]:
    """``{"definitions": [...], "literals": [...]}`` for the trees (dataset name -> folder); ``allowed``:
    per tree, the relative paths that may be read (the indexed files), default all."""
    out: dict[str, list[GeneratedQuery]] = {}
    for kind, n in (("definitions", n_definitions), ("literals", n_literals)):
        if n <= 0:
            continue
        wheres: dict[str, dict[str, set[str]]] = {}
        pools: dict[str, list[str]] = {}
        for name, tree in sorted(trees.items()):
            wheres[name], candidates = _index(tree, kind, py_only, (allowed or {}).get(name))
            pools[name] = sorted(candidates)
        rng = random.Random(f"{seed}:{kind}")
        out[kind] = [
            GeneratedQuery(f"{kind[:3]}-{i:03d}", ds, kind, item, frozenset(wheres[ds][item]))
            for i, (ds, item) in enumerate(sample(pools, n, rng))
        ]
    return out
