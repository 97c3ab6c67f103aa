"""What a query names: code identifiers, quoted phrases and error messages, file paths; and the texts
each ranking side is given (the keyword side the whole query, the semantic side windows of it).

Identifiers are recognised by their spelling alone (``snake_case``, ``camelCase``, ``Dotted.name``,
``name(``, a back-quoted word, or a query that is one word), never by the query's wording, so the same
rule holds for a two-word question and for a bug report with a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The keyword side reads this much of a query (a long bug report with its traceback, bounded).
MAX_QUERY_CHARS = 20_000
# The semantic side: a query longer than one window (~256 model tokens of prose) is embedded in
# windows cut at line ends, at most MAX_WINDOWS of them, spread over the whole query.
WINDOW_CHARS = 1_000
MAX_WINDOWS = 4
MIN_PHRASE_CHARS = 12  # shorter quoted text is an identifier or a value, not a message
MAX_PHRASES = 12

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# _CALL and _PATH start only where a run of their characters starts: trying every position inside a
# long run (a 20 KB token) costs quadratic time, and a later start can only find what an earlier did.
_CALL = re.compile(r"(?<![A-Za-z0-9_.])[0-9.]*([A-Za-z_][A-Za-z0-9_.]*)\(")
_TICKED = re.compile(r"`([^`\n]{1,200})`")
_QUOTED = re.compile(rf"\"([^\"\n]{{{MIN_PHRASE_CHARS},300}})\"|'([^'\n]{{{MIN_PHRASE_CHARS},300}})'")
_EXCEPTION_LINE = re.compile(r"^\s*(?:[\w.]+\.)?\w*(?:Error|Exception|Warning|Failure)\s*:\s*(.+?)\s*$", re.M)
_PATH = re.compile(r"(?<![\w.-])(?<![\w.-]/)(?:[\w.-]+/)*[\w.-]+\.[A-Za-z]{1,5}\b")
_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2}[a-z]")


@dataclass(frozen=True)
class QueryTerms:
    text: str  # the query as both sides see it (stripped, bounded)
    identifiers: frozenset[str] = field(default_factory=frozenset)  # last parts, e.g. "merge_environment_settings"
    qualified: frozenset[str] = field(default_factory=frozenset)  # dotted names' other parts, e.g. "Session"
    phrases: tuple[str, ...] = ()  # quoted text and error messages to find verbatim
    paths: tuple[str, ...] = ()  # file names and paths the query mentions (traceback frames, ...)

    @property
    def is_long(self) -> bool:
        return len(self.text) > WINDOW_CHARS


def looks_like_code(word: str) -> bool:
    """``snake_case``, ``camelCase``/``PascalCase`` with an inner capital, or ``a.b`` spelling."""
    core = word.strip("_")
    return "_" in core or "." in word or bool(_CAMEL.search(word))


def analyse(query: str) -> QueryTerms:
    text = query.strip()[:MAX_QUERY_CHARS]
    names: set[str] = set()
    qualified: set[str] = set()
    single = _WORD.fullmatch(text) is not None

    def add(name: str) -> None:
        parts = [p for p in name.split(".") if p]
        if not parts or len(parts[-1]) < 3:
            return
        names.add(parts[-1])
        qualified.update(p for p in parts[:-1] if len(p) >= 3)

    for word in _WORD.findall(text):
        if single or looks_like_code(word):
            add(word)
    for match in _CALL.finditer(text):
        add(match.group(1))
    for match in _TICKED.finditer(text):
        inner = match.group(1).strip()
        if _WORD.fullmatch(inner):
            add(inner)
    paths = tuple(
        dict.fromkeys(m.group(0) for m in _PATH.finditer(text) if "/" in m.group(0) or _is_source(m.group(0)))
    )
    # File names are not identifiers ("query.py" names no definition "py").
    names.difference_update({p.rsplit(".", 1)[-1] for p in paths})
    return QueryTerms(text, frozenset(names), frozenset(qualified - names), _phrases(text, single), paths[:32])


def _is_source(name: str) -> bool:
    stem, _, ext = name.rpartition(".")
    return bool(stem) and ext in _SOURCE_EXTENSIONS


_SOURCE_EXTENSIONS = frozenset(
    "py pyi js jsx ts tsx mjs cjs go rs java kt scala rb php c h cc cpp hpp cs swift m sh lua pl r jl ex exs".split()
)


def _phrases(text: str, single: bool) -> tuple[str, ...]:
    """Quoted text, the messages of exception lines, and a short one-line query as a whole."""
    found: list[str] = []
    for match in _QUOTED.finditer(text):
        found.append(match.group(1) or match.group(2))
    for match in _TICKED.finditer(text):
        if len(match.group(1)) >= MIN_PHRASE_CHARS and " " in match.group(1):
            found.append(match.group(1))
    found.extend(m.group(1) for m in _EXCEPTION_LINE.finditer(text))
    if not single and "\n" not in text and MIN_PHRASE_CHARS <= len(text) <= 200:
        found.append(text)
    clean = [p.strip().strip("\"'`").strip() for p in found]
    return tuple(dict.fromkeys(p for p in clean if len(p) >= MIN_PHRASE_CHARS and " " in p))[:MAX_PHRASES]


def keyword_text(terms: QueryTerms) -> str:
    """The query for the keyword side: every distinct word once, in order (a word a bug report
    repeats thirty times in its traceback counts as much as one it names once)."""
    if not terms.is_long:
        return terms.text
    return " ".join(dict.fromkeys(re.findall(r"\w+(?:\.\w+)*", terms.text)))


def vector_windows(terms: QueryTerms) -> list[str]:
    """The texts the semantic side embeds: the query itself, or windows spread over a long one."""
    if not terms.is_long:
        return [terms.text]
    lines = terms.text.split("\n")
    windows: list[str] = []
    current = ""
    for line in lines:
        while len(line) > WINDOW_CHARS:  # a very long line is cut where it must
            if current:
                windows.append(current)
                current = ""
            windows.append(line[:WINDOW_CHARS])
            line = line[WINDOW_CHARS:]
        if current and len(current) + 1 + len(line) > WINDOW_CHARS:
            windows.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current.strip():
        windows.append(current)
    windows = [w for w in windows if w.strip()]
    if len(windows) <= MAX_WINDOWS:
        return windows
    step = (len(windows) - 1) / (MAX_WINDOWS - 1)
    return [windows[round(i * step)] for i in range(MAX_WINDOWS)]


def focused_text(terms: QueryTerms) -> str:
    """A one-window rewrite of a long query: its opening, then the names, phrases and paths it holds."""
    if not terms.is_long:
        return terms.text
    head = terms.text[: WINDOW_CHARS // 2]
    tail = " ".join([*sorted(terms.identifiers), *terms.phrases, *terms.paths])
    return f"{head}\n{tail}"[:WINDOW_CHARS]
