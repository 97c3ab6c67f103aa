"""Tokens for the keyword (BM25) side, tuned for code and prose alike.

``parseHttpRequest`` and ``parse_http_request`` yield the whole identifier and its parts, so a query
for either spelling, or for ``http request``, finds both. Common English words are dropped.
"""

from __future__ import annotations

import re

_RAW = re.compile(r"\w+(?:\.\w+)*", re.UNICODE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have how i if in into is it its of on or so such that "
    "the their then there these they this to was were what when where which who why will with you your "
    "do does did can could should would we our not no".split()
)


def _parts(word: str) -> list[str]:
    out: list[str] = []
    for piece in word.split("_"):
        out.extend(p for p in _CAMEL.split(piece) if p)
    return out


def tokenize(text: str) -> list[str]:
    """Lower-case tokens: whole identifiers and dotted names plus their parts, minus stop words."""
    tokens: list[str] = []
    for raw in _RAW.findall(text):
        whole = raw.lower()
        if "." in raw:
            tokens.append(whole)
        for word in raw.split("."):
            low = word.lower()
            parts = _parts(word)
            if parts != [word]:
                tokens.append(low)
                tokens.extend(p.lower() for p in parts if len(p) > 1 or p.isdigit())
            elif low not in STOP_WORDS and (len(low) > 1 or low.isdigit()):
                tokens.append(low)
    return tokens
