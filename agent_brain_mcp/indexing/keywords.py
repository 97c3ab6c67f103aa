"""Tokens for the keyword side (BM25 on Chroma, tsvector on PostgreSQL), tuned for code and prose.

``parseHttpRequests`` and ``parse_http_requests`` yield the whole identifier (as written, lower-cased)
and its stemmed parts (``pars``, ``http``, ``request``), so a query for either spelling, or for
``http request``, finds both. Prose words are stemmed (Snowball English) and common English
words dropped. The same function tokenises documents and queries.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

_RAW = re.compile(r"\w+(?:\.\w+)*", re.UNICODE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have how i if in into is it its of on or so such that "
    "the their then there these they this to was were what when where which who why will with you your "
    "do does did can could should would we our not no".split()
)

_local = threading.local()


def _stemmer() -> object:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer  # PyStemmer: C Snowball stemmers; instances are not shared between threads

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


@lru_cache(maxsize=262_144)
def stem(word: str) -> str:
    """Snowball English stem of a lower-case word (digits and non-ASCII words are left alone)."""
    if not word.isascii() or not word.isalpha():
        return word
    return str(_stemmer().stemWord(word))  # type: ignore[attr-defined]


def _parts(word: str) -> list[str]:
    out: list[str] = []
    for piece in word.split("_"):
        out.extend(p for p in _CAMEL.split(piece) if p)
    return out


def tokenize(text: str) -> list[str]:
    """Lower-case tokens: whole identifiers and dotted names plus their stemmed parts, minus stop words."""
    tokens: list[str] = []
    for raw in _RAW.findall(text):
        if "." in raw:
            tokens.append(raw.lower())
        for word in raw.split("."):
            low = word.lower()
            parts = _parts(word)
            if parts != [word]:
                tokens.append(low)
                tokens.extend(stem(p.lower()) for p in parts if len(p) > 1 or p.isdigit())
            elif low not in STOP_WORDS and (len(low) > 1 or low.isdigit()):
                tokens.append(stem(low))
    return tokens
