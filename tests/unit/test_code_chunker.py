"""Code-aware chunking: cuts along definitions, symbol trails, exact spans, merging, fallbacks, speed."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_brain_mcp.indexing import code_chunker
from agent_brain_mcp.indexing.chunking import Chunk, ChunkLimits, chunk_text
from agent_brain_mcp.indexing.grammars import Parsers

LIMITS = ChunkLimits(max_lines=20, overlap_lines=3, max_chars=500)


def _source_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _assert_sound(text: str, chunks: list[Chunk], limits: ChunkLimits) -> None:
    """Exact spans, every non-blank line covered, limits kept, in order, no chunk repeating its predecessor."""
    lines = _source_lines(text)
    covered: set[int] = set()
    for chunk in chunks:
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines), chunk
        assert chunk.end_line - chunk.start_line + 1 <= limits.max_lines, chunk
        assert len(chunk.text) <= limits.max_chars, chunk
        assert chunk.text.strip(), chunk
        if not (chunk.start_line == chunk.end_line and len(lines[chunk.start_line - 1]) > limits.max_chars):
            assert chunk.text == "\n".join(lines[chunk.start_line - 1 : chunk.end_line]), chunk
        covered.update(range(chunk.start_line, chunk.end_line + 1))
    missing = [i for i, line in enumerate(lines, start=1) if line.strip() and i not in covered]
    assert not missing, f"lines {missing} are in no chunk"
    for prev, cur in itertools.pairwise(chunks):
        assert cur.start_line >= prev.start_line, (prev, cur)
        same_long_line = prev.start_line == prev.end_line == cur.start_line == cur.end_line
        assert same_long_line or cur.end_line > prev.end_line, (prev, cur)


def _chunk_without_fallback_warnings(text: str, language: str, limits: ChunkLimits) -> list[Chunk]:
    """``chunk_text``, failing where the code chunker would swallow an exception and use line windows."""
    with mock.patch.object(code_chunker.log, "warning", side_effect=AssertionError("the code chunker failed")):
        return chunk_text(text, language, limits)


def _spans(chunks: list[Chunk]) -> list[tuple[int, int, str | None]]:
    return [(c.start_line, c.end_line, c.symbol) for c in chunks]


def _line_windows(text: str, limits: ChunkLimits) -> list[Chunk]:
    return chunk_text(text, "text", limits)


# --- one realistic file per language ----------------------------------------------------------

PYTHON_SAMPLE = '''"""Inventory of items kept in memory."""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)
MAX_ITEMS = 100


@dataclass
class Item:
    """One thing on a shelf."""

    name: str
    count: int = 0


class Inventory:
    """Items by name."""

    def __init__(self) -> None:
        self._items: dict[str, Item] = {}

    def add(self, name: str, count: int = 1) -> Item:
        """Add ``count`` of ``name``; the item is created on first use."""
        item = self._items.setdefault(name, Item(name))
        if len(self._items) > MAX_ITEMS:
            raise ValueError("inventory is full")
        item.count += count
        log.debug("added %d %s", count, name)
        return item

    # Removing never goes below zero.
    def remove(self, name: str, count: int = 1) -> None:
        item = self._items[name]
        item.count = max(0, item.count - count)

    @property
    def total(self) -> int:
        return sum(item.count for item in self._items.values())


def load(path: str) -> Inventory:
    inventory = Inventory()
    with open(path) as fh:
        for line in fh:
            name, _, count = line.partition(",")
            inventory.add(name.strip(), int(count))
    return inventory
'''

JAVASCRIPT_SAMPLE = """import { formatPrice } from "./format.js";

const TAX_RATE = 0.2;

/**
 * A shopping cart.
 */
export class Cart {
  constructor(owner) {
    this.owner = owner;
    this.lines = [];
  }

  add(product, quantity = 1) {
    const line = this.lines.find((l) => l.product.id === product.id);
    if (line) {
      line.quantity += quantity;
    } else {
      this.lines.push({ product, quantity });
    }
    return this;
  }

  get total() {
    const net = this.lines.reduce((sum, l) => sum + l.product.price * l.quantity, 0);
    return net * (1 + TAX_RATE);
  }
}

export const describe = (cart) => `${cart.owner}: ${formatPrice(cart.total)}`;

function emptyCart(owner) {
  return new Cart(owner);
}
"""

TYPESCRIPT_SAMPLE = """import type { Request, Response } from "./http";

export type Handler = (req: Request) => Promise<Response>;

export interface Route {
  method: "GET" | "POST";
  path: string;
  handler: Handler;
}

/** Routes requests to the first handler that matches. */
export class Router {
  private routes: Route[] = [];

  @logged
  register(route: Route): void {
    this.routes.push(route);
  }

  async dispatch(req: Request): Promise<Response> {
    const route = this.routes.find((r) => r.method === req.method && r.path === req.path);
    if (!route) {
      return { status: 404, body: "not found" };
    }
    return route.handler(req);
  }

  remove(path: string): number {
    const before = this.routes.length;
    this.routes = this.routes.filter((r) => r.path !== path);
    return before - this.routes.length;
  }
}

export function notFound(): Response {
  return { status: 404, body: "" };
}
"""

TSX_SAMPLE = """import React, { useEffect, useState } from "react";

type Props = { name: string; excited?: boolean };

export function Greeting({ name, excited = false }: Props) {
  const [count, setCount] = useState(0);
  useEffect(() => {
    document.title = `${name} clicked ${count} times`;
  }, [name, count]);
  const mark = excited ? "!" : ".";
  return (
    <button className="greeting" onClick={() => setCount(count + 1)}>
      Hello {name}
      {mark} ({count})
    </button>
  );
}

export const Farewell = ({ name }: Props) => <p className="farewell">Goodbye {name}</p>;
"""

GO_SAMPLE = """package cache

import (
    "sync"
    "time"
)

// DefaultTTL is how long an entry lives.
const DefaultTTL = time.Minute

// Cache is a map with expiring entries.
type Cache struct {
    mu      sync.Mutex
    entries map[string]entry
}

type entry struct {
    value   string
    expires time.Time
}

// New makes an empty cache.
func New() *Cache {
    return &Cache{entries: make(map[string]entry)}
}

// Get returns the value for key, if it has not expired.
func (c *Cache) Get(key string) (string, bool) {
    c.mu.Lock()
    defer c.mu.Unlock()
    e, ok := c.entries[key]
    if !ok || time.Now().After(e.expires) {
        return "", false
    }
    return e.value, true
}

// Set stores value under key for DefaultTTL.
func (c *Cache) Set(key, value string) {
    c.mu.Lock()
    defer c.mu.Unlock()
    c.entries[key] = entry{value: value, expires: time.Now().Add(DefaultTTL)}
}
"""

RUST_SAMPLE = """//! A bounded stack.

use std::fmt;

/// Errors from [`Stack`].
#[derive(Debug, PartialEq)]
pub enum StackError {
    Full,
    Empty,
}

/// A stack that holds at most `capacity` items.
pub struct Stack<T> {
    items: Vec<T>,
    capacity: usize,
}

impl<T> Stack<T> {
    pub fn new(capacity: usize) -> Self {
        Stack { items: Vec::with_capacity(capacity), capacity }
    }

    /// Pushes `item`, or fails when the stack is full.
    pub fn push(&mut self, item: T) -> Result<(), StackError> {
        if self.items.len() == self.capacity {
            return Err(StackError::Full);
        }
        self.items.push(item);
        Ok(())
    }

    pub fn pop(&mut self) -> Result<T, StackError> {
        self.items.pop().ok_or(StackError::Empty)
    }
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self)
    }
}
"""

JAVA_SAMPLE = """package bank;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

/** A bank account with a running balance. */
public class Account {
    private final String id;
    private BigDecimal balance = BigDecimal.ZERO;
    private final List<String> history = new ArrayList<>();

    public Account(String id) {
        this.id = id;
    }

    /** Adds money; negative amounts are refused. */
    public void deposit(BigDecimal amount) {
        if (amount.signum() < 0) {
            throw new IllegalArgumentException("negative deposit");
        }
        balance = balance.add(amount);
        history.add("deposit " + amount);
    }

    @Override
    public String toString() {
        return id + ": " + balance;
    }

    enum Kind { CHECKING, SAVINGS }
}
"""

C_SAMPLE = """#include <stdlib.h>
#include <string.h>

#define BUFFER_MIN 16

/* A growable byte buffer. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} buffer_t;

static int grow(buffer_t *b, size_t need)
{
    size_t cap = b->cap ? b->cap : BUFFER_MIN;
    while (cap < need)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data)
        return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

/* Appends n bytes from src. */
int buffer_append(buffer_t *b, const char *src, size_t n)
{
    if (b->len + n > b->cap && grow(b, b->len + n) != 0)
        return -1;
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

void buffer_free(buffer_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
"""

CPP_SAMPLE = """#include <cmath>
#include <memory>
#include <vector>

namespace shapes {

/// Anything with an area.
class Shape {
public:
    virtual ~Shape() = default;
    virtual double area() const = 0;
};

class Circle : public Shape {
public:
    explicit Circle(double r) : radius_(r) {}

    double area() const override {
        return M_PI * radius_ * radius_;
    }

private:
    double radius_;
};

template <typename T>
double total_area(const std::vector<std::unique_ptr<T>>& items) {
    double sum = 0;
    for (const auto& item : items) {
        sum += item->area();
    }
    return sum;
}

}  // namespace shapes
"""

RUBY_SAMPLE = """require "set"

# Books on loan.
module Library
  MAX_LOANS = 3

  class Member
    attr_reader :name, :loans

    def initialize(name)
      @name = name
      @loans = Set.new
    end

    # Borrows a book unless the member already has too many.
    def borrow(book)
      raise ArgumentError, "too many loans" if loans.size >= MAX_LOANS

      loans << book
      book.lent_to = self
    end

    def give_back(book)
      loans.delete(book)
      book.lent_to = nil
    end

    def self.guest
      new("guest")
    end
  end
end
"""

SAMPLES: dict[str, tuple[str, str]] = {
    "python": ("python", PYTHON_SAMPLE),
    "javascript": ("javascript", JAVASCRIPT_SAMPLE),
    "typescript": ("typescript", TYPESCRIPT_SAMPLE),
    "tsx": ("typescript", TSX_SAMPLE),  # .tsx files are "typescript": JSX is parsed with the TSX grammar
    "go": ("go", GO_SAMPLE),
    "rust": ("rust", RUST_SAMPLE),
    "java": ("java", JAVA_SAMPLE),
    "c": ("c", C_SAMPLE),
    "cpp": ("cpp", CPP_SAMPLE),
    "ruby": ("ruby", RUBY_SAMPLE),
}

EXPECTED: dict[str, list[tuple[int, int, str | None]]] = {
    "python": [
        (1, 17, "class Item"),  # the module docstring, imports and constants travel with the first small class
        (20, 33, "class Inventory / def __init__, def add"),  # too big as a whole: cut into its methods
        (35, 42, "class Inventory / def remove, def total"),
        (45, 51, "def load"),
    ],
    "javascript": [
        (1, 3, None),
        (5, 22, "class Cart / method constructor, method add"),
        (24, 28, "class Cart / method total"),
        (30, 34, "function describe, function emptyCart"),
    ],
    "typescript": [
        (1, 9, "type Handler, interface Route"),
        (11, 18, "class Router / method register"),
        (20, 26, "class Router / method dispatch"),
        (28, 33, "class Router / method remove"),
        (35, 37, "function notFound"),
    ],
    "tsx": [(1, 17, "type Props, function Greeting"), (19, 19, "function Farewell")],
    "go": [
        (1, 20, "struct Cache, struct entry"),
        (22, 36, "func New, func (*Cache) Get"),
        (38, 43, "func (*Cache) Set"),
    ],
    "rust": [
        (1, 16, "enum StackError, struct Stack"),
        (18, 21, "impl Stack<T> / fn new"),
        (23, 35, "impl Stack<T> / fn push, fn pop"),
        (37, 41, "impl fmt::Display for StackError"),
    ],
    "java": [
        (1, 5, None),
        (7, 15, "class Account / constructor Account"),
        (17, 32, "class Account / method deposit, method toString, enum Kind"),
    ],
    "c": [
        (1, 11, "struct buffer_t"),
        (13, 24, "function grow"),
        (26, 41, "function buffer_append, function buffer_free"),
    ],
    "cpp": [
        (1, 3, None),
        (5, 12, "namespace shapes / class Shape"),
        (14, 24, "namespace shapes / class Circle"),
        (26, 35, "namespace shapes / function total_area"),
    ],
    "ruby": [
        (1, 1, None),
        (3, 5, "module Library"),  # the module's header goes with its first member, a constant
        (7, 26, "module Library / class Member / def initialize, def borrow, def give_back"),
        (28, 32, "module Library / class Member / def self.guest"),
    ],
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_language_is_cut_at_its_definitions_named_by_their_symbol_trail(name: str) -> None:
    language, text = SAMPLES[name]
    chunks = chunk_text(text, language, LIMITS)
    assert _spans(chunks) == EXPECTED[name]
    _assert_sound(text, chunks, LIMITS)


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize(
    "limits",
    [
        ChunkLimits(),
        ChunkLimits(max_lines=8, overlap_lines=2, max_chars=200),
        ChunkLimits(max_lines=3, overlap_lines=1, max_chars=60),
    ],
    ids=["default", "small", "tiny"],
)
def test_every_sample_keeps_exact_covering_spans_within_limits(name: str, limits: ChunkLimits) -> None:
    language, text = SAMPLES[name]
    chunks = _chunk_without_fallback_warnings(text, language, limits)
    assert chunks
    _assert_sound(text, chunks, limits)


def test_a_file_that_fits_the_default_limits_is_one_chunk_listing_its_definitions() -> None:
    chunks = chunk_text(TSX_SAMPLE, "typescript", ChunkLimits(max_lines=40, overlap_lines=5, max_chars=1000))
    assert _spans(chunks) == [(1, 19, "type Props, function Greeting, function Farewell")]
    assert chunks[0].text == TSX_SAMPLE.rstrip("\n")


@pytest.mark.parametrize(
    ("name", "start_line", "first_line"),
    [
        ("python", 35, "    # Removing never goes below zero."),
        ("typescript", 11, "/** Routes requests to the first handler that matches. */"),
        ("go", 38, "// Set stores value under key for DefaultTTL."),
        ("rust", 23, "    /// Pushes `item`, or fails when the stack is full."),
        ("java", 17, "    /** Adds money; negative amounts are refused. */"),
        ("c", 26, "/* Appends n bytes from src. */"),
        ("cpp", 5, "namespace shapes {"),
    ],
)
def test_the_comment_right_above_a_definition_starts_the_definitions_chunk(
    name: str, start_line: int, first_line: str
) -> None:
    language, text = SAMPLES[name]
    chunk = next(c for c in chunk_text(text, language, LIMITS) if c.start_line == start_line)
    assert chunk.text.split("\n")[0] == first_line


def test_attributes_and_method_decorators_stay_with_their_definition() -> None:
    rust = chunk_text(RUST_SAMPLE, "rust", LIMITS)[0].text
    assert "/// Errors from [`Stack`].\n#[derive(Debug, PartialEq)]\npub enum StackError {" in rust
    register = next(c for c in chunk_text(TYPESCRIPT_SAMPLE, "typescript", LIMITS) if c.start_line == 11)
    assert "  @logged\n  register(route: Route): void {" in register.text


def _function(name: str, statements: int = 12) -> str:
    """A top-level Python function of about 60 characters a statement."""
    body = "".join(f"    total_{i} = sum(item.weight * {i} for item in items)\n" for i in range(statements))
    return f"def {name}(items):\n{body}    return total_0\n"


def test_decorators_comments_and_docstring_stay_with_their_function() -> None:
    decorated = (
        "# Cached: the lookup is slow.\n"
        "@functools.lru_cache(maxsize=None)\n"
        "@trace\n"
        "def lookup(key):\n"
        '    """Find ``key`` in the registry."""\n'
        "    return REGISTRY[key]\n"
    )
    # Neighbours too big to take the small function in: it is a chunk of its own.
    text = _function("before", statements=16) + "\n\n" + decorated + "\n\n" + _function("after", statements=16)
    chunks = chunk_text(text, "python", ChunkLimits())
    lookup = next(c for c in chunks if c.symbol == "def lookup")
    assert lookup.text == decorated.rstrip("\n")
    assert [c.symbol for c in chunks] == ["def before", "def lookup", "def after"]


def test_a_class_too_big_for_the_limits_is_cut_into_its_methods() -> None:
    methods = "\n".join(
        f"    def parse_{k}(self, items):\n"
        + "".join(f"        total_{i} = sum(item.weight * {i} for item in items)\n" for i in range(6))
        + "        return total_0\n"
        for k in range(5)
    )
    text = 'class Parser:\n    """Turns items into totals."""\n\n' + methods
    chunks = chunk_text(text, "python", ChunkLimits())
    assert [c.symbol for c in chunks] == [f"class Parser / def parse_{k}" for k in range(5)]
    assert chunks[0].text.startswith('class Parser:\n    """Turns items into totals."""\n\n    def parse_0(')
    assert all(c.text.startswith(f"    def parse_{k}(") for k, c in enumerate(chunks) if k)
    _assert_sound(text, chunks, ChunkLimits())


def test_a_function_too_big_for_the_limits_is_cut_into_windows_that_keep_its_symbol() -> None:
    limits = ChunkLimits()
    text = "import os\n\n\n" + _function("huge", statements=150)
    chunks = chunk_text(text, "python", limits)
    assert _spans(chunks[:1]) == [(1, 1, None)]
    windows = chunks[1:]
    assert len(windows) > 5
    assert all(c.symbol == "def huge" for c in windows)
    assert windows[0].start_line == 4
    assert windows[-1].end_line == len(_source_lines(text))
    for prev, cur in itertools.pairwise(windows):
        assert cur.start_line == prev.end_line - limits.overlap_lines + 1  # windows overlap as usual
    _assert_sound(text, chunks, limits)


def test_tiny_functions_are_merged_with_their_neighbours_and_listed_in_the_symbol() -> None:
    text = "\n\n".join(f"def tiny_{k:02d}():\n    return {k}\n" for k in range(12))
    chunks = chunk_text(text, "python", ChunkLimits())
    assert _spans(chunks) == [
        (
            1,
            38,
            "def tiny_00, def tiny_01, def tiny_02, def tiny_03, def tiny_04, def tiny_05, def tiny_06, def tiny_07, def tiny_08, … (+1)",
        ),
        (41, 46, "def tiny_10, def tiny_11"),
    ]


def test_neighbours_that_are_not_small_stay_apart_even_when_together_they_would_fit() -> None:
    text = _function("first", statements=5) + "\n\n" + _function("second", statements=5)
    chunks = chunk_text(text, "python", ChunkLimits())
    assert all(300 < len(c.text) < 500 for c in chunks)
    assert [c.symbol for c in chunks] == ["def first", "def second"]


def test_a_containers_header_and_closing_lines_stand_alone_when_only_without_them_a_member_fits() -> None:
    javadoc = "/**\n" + "".join(f" * Line {i} of the story of this class.\n" for i in range(8)) + " */\n"
    first = "    public int first(int x) {\n" + "".join(f"        x = x * {i} + 1;\n" for i in range(10))
    second = "    public int second(int y) {\n" + "".join(f"        y = y - {i};\n" for i in range(17))
    text = f"{javadoc}public class Big {{\n{first}        return x;\n    }}\n\n{second}        return y;\n    }}\n}}\n"
    chunks = chunk_text(text, "java", LIMITS)
    assert _spans(chunks) == [
        (1, 11, "class Big"),  # with the 11 lines above it, first() would be over 20 lines
        (12, 24, "class Big / method first"),
        (26, 45, "class Big / method second"),  # exactly 20 lines
        (46, 46, "class Big"),
    ]
    assert chunks[0].text.endswith("public class Big {")
    assert chunks[-1].text == "}"


def test_a_header_guard_does_not_hide_the_definitions_inside_it() -> None:
    text = "#ifndef BUFFER_H\n#define BUFFER_H\n" + C_SAMPLE + "#endif\n"
    chunks = chunk_text(text, "c", LIMITS)
    assert [c.symbol for c in chunks] == [symbol for _, _, symbol in EXPECTED["c"]]
    assert chunks[0].start_line == 1
    assert chunks[-1].end_line == len(_source_lines(text))


def test_a_method_inside_a_class_inside_a_namespace_carries_the_whole_trail() -> None:
    chunks = chunk_text(CPP_SAMPLE, "cpp", ChunkLimits(max_lines=8, overlap_lines=2, max_chars=200))
    assert _spans(chunks) == [
        (1, 3, None),
        (5, 12, "namespace shapes / class Shape"),
        (14, 16, "namespace shapes / class Circle / method Circle"),
        (18, 24, "namespace shapes / class Circle / method area"),  # with the private field after it
        (26, 33, "namespace shapes / function total_area"),
        (35, 35, "namespace shapes"),
    ]


IFDEF_SAMPLE = """#include <stdio.h>

#ifdef _WIN32
static int open_log(const char *path)
{
    HANDLE h = CreateFileA(path, GENERIC_WRITE, 0, NULL, OPEN_ALWAYS, 0, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    log_handle = h;
    return 0;
}
#else
static int open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return -1;
    log_fd = fd;
    return 0;
}

static void close_log(void)
{
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
}
#endif
"""


def test_definitions_in_both_branches_of_an_ifdef_get_their_symbols() -> None:
    limits = ChunkLimits(max_lines=20, overlap_lines=3, max_chars=300)
    chunks = chunk_text(IFDEF_SAMPLE, "c", limits)
    assert _spans(chunks) == [
        (1, 1, None),
        (3, 12, "function open_log"),  # the #ifdef line is the header of its first member, #else trails it
        (13, 20, "function open_log"),
        (22, 28, "function close_log"),
    ]


# --- errors and fallbacks -----------------------------------------------------------------------


def test_a_file_that_is_mostly_syntax_errors_falls_back_to_line_windows() -> None:
    text = "def ok():\n    return 1\n\n" + "def f(:\n  ]]]\n  ((( x\n" * 30
    assert chunk_text(text, "python", LIMITS) == _line_windows(text, LIMITS)


def test_a_file_in_another_language_than_its_name_says_still_chunks_soundly() -> None:
    for language in ("go", "javascript", "c"):
        _assert_sound(PYTHON_SAMPLE, chunk_text(PYTHON_SAMPLE, language, LIMITS), LIMITS)


def test_a_local_syntax_error_leaves_the_other_definitions_their_symbols() -> None:
    broken = "def broken(x):\n    if x\n        return x\n"  # no colon after "if x"
    text = _function("good_one") + "\n\n" + broken + "\n\n" + _function("good_two") + "\n\nclass Fine:\n    pass\n"
    chunks = chunk_text(text, "python", ChunkLimits())
    assert chunks[0].symbol == "def good_one"
    assert "def good_two" in (chunks[-1].symbol or "")
    assert not any("broken" in (c.symbol or "") for c in chunks)
    _assert_sound(text, chunks, ChunkLimits())


def test_without_a_parser_code_falls_back_to_line_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Parsers, "parser", lambda self, name: None)
    assert chunk_text(PYTHON_SAMPLE, "python", LIMITS) == _line_windows(PYTHON_SAMPLE, LIMITS)


@pytest.mark.parametrize(("name", "grammars"), [("tsx", ["tsx"]), ("typescript", ["typescript"])])
def test_typescript_is_parsed_with_the_grammar_it_looks_like_first(
    name: str, grammars: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    real = Parsers.parser

    def recording(self: Parsers, grammar: str) -> object:
        asked.append(grammar)
        return real(self, grammar)

    monkeypatch.setattr(Parsers, "parser", recording)
    chunk_text(SAMPLES[name][1], "typescript", LIMITS)
    assert asked == grammars  # parsing JSX with the TypeScript grammar first costs ten times as long


def test_typescript_with_a_type_assertion_and_a_closing_tag_in_a_string_still_parses() -> None:
    text = 'const el = "</div>";\nlet n = <number>value;\n\nfunction twice(x: number): number {\n  return 2 * x;\n}\n'
    chunks = chunk_text(text, "typescript", ChunkLimits(max_lines=3, overlap_lines=0, max_chars=60))
    assert _spans(chunks) == [(1, 1, None), (2, 2, None), (4, 6, "function twice")]


@pytest.mark.parametrize("language", ["kotlin", "text", "shell"])
def test_languages_without_a_grammar_are_cut_into_line_windows(language: str) -> None:
    assert chunk_text(JAVA_SAMPLE, language, LIMITS) == _line_windows(JAVA_SAMPLE, LIMITS)


def test_a_minified_file_is_not_parsed_but_cut_into_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parse(source: bytes, language: str, parsers: Parsers) -> None:
        raise AssertionError("a minified file was parsed")

    monkeypatch.setattr(code_chunker, "_parse", no_parse)
    minified = "var a=" + "+".join(f"f{i}(x)" for i in range(2000)) + ";"
    chunks = chunk_text(minified + "\n", "javascript", LIMITS)
    assert "".join(c.text for c in chunks) == minified
    assert all(c.symbol is None and c.start_line == c.end_line == 1 for c in chunks)


# --- threads and speed --------------------------------------------------------------------------


def test_each_thread_gets_its_own_parser_and_keeps_it() -> None:
    barrier = threading.Barrier(2)
    parsers: list[object] = []
    shared = Parsers()

    def grab() -> None:
        first = shared.parser("python")
        barrier.wait()  # both threads alive at once: thread-local storage cannot be reused
        assert shared.parser("python") is first
        parsers.append(first)

    threads = [threading.Thread(target=grab) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(parsers) == 2
    assert parsers[0] is not parsers[1]


def test_chunking_in_many_threads_gives_the_same_chunks_as_one_thread() -> None:
    jobs = [(language, text) for language, text in SAMPLES.values()] * 8
    expected = [chunk_text(text, language, LIMITS) for language, text in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda job: chunk_text(job[1], job[0], LIMITS), jobs))
    assert got == expected


def _generated_module(classes: int) -> str:
    parts = ['"""Generated."""', "", "import os", ""]
    for i in range(classes):
        parts += [
            "",
            f"class Handler{i}:",
            f'    """Handles case {i}."""',
            "",
            "    def handle(self, value):",
            f"        result = value * {i}",
            "        if result > 10:",
            "            return os.path.join(str(result), 'a')",
            "        return None",
            "",
            f"def helper_{i}(a, b):",
            f"    return a + b + {i}",
            "",
        ]
    return "\n".join(parts) + "\n"


def test_a_2000_line_file_is_chunked_in_well_under_half_a_second() -> None:
    text = _generated_module(155)
    assert 2000 <= len(_source_lines(text)) <= 2100
    chunk_text(SAMPLES["python"][1], "python", ChunkLimits())  # load the grammar first
    best = float("inf")
    for _ in range(3):  # shared CI cores: the best of three
        started = time.perf_counter()
        chunks = chunk_text(text, "python", ChunkLimits())
        best = min(best, time.perf_counter() - started)
    assert best < 0.5, f"{best:.3f}s"
    assert any(c.symbol and c.symbol.startswith("class Handler") for c in chunks)
    _assert_sound(text, chunks, ChunkLimits())


# --- any Python-ish text --------------------------------------------------------------------------

_PY_LINE = st.one_of(
    st.just(""),
    st.sampled_from(
        [
            "import os",
            "x = 1",
            "# a comment",
            "@decorator",
            "@decorator(arg=1)",
            "def f(a, b):",
            "async def g():",
            "class A(Base):",
            "class B:",
            "if __name__ == '__main__':",
            "try:",
            "except ValueError:",
            ")",
            "]",
            "def broken(:",
        ]
    ),
    st.builds(
        lambda depth, body: "    " * depth + body,
        st.integers(min_value=1, max_value=3),
        st.sampled_from(
            [
                "return x",
                "pass",
                '"""Docstring."""',
                "def m(self):",
                "class Inner:",
                "x = [",
                "    1, 2,",
                "]",
                "y = call(a,",
                "         b)",
                "# comment",
                "@property",
                "for i in range(3):",
                "if x:",
                "else:",
            ]
        ),
    ),
    st.builds(lambda n: "    value = '" + "v" * n + "'", st.integers(min_value=0, max_value=400)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(_PY_LINE, max_size=150),
    trailing_newline=st.booleans(),
    max_lines=st.integers(min_value=2, max_value=40),
    overlap=st.integers(min_value=0, max_value=39),
    max_chars=st.integers(min_value=40, max_value=1200),
)
def test_any_python_ish_text_chunks_into_exact_covering_spans_within_limits(
    lines: list[str], trailing_newline: bool, max_lines: int, overlap: int, max_chars: int
) -> None:
    limits = ChunkLimits(max_lines=max_lines, overlap_lines=min(overlap, max_lines - 1), max_chars=max_chars)
    text = "\n".join(lines) + ("\n" if trailing_newline and lines else "")
    _assert_sound(text, _chunk_without_fallback_warnings(text, "python", limits), limits)
