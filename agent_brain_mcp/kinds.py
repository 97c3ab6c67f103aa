"""What a file is for an agent that asks for one kind: ``code``, ``docs`` or ``tests``.

One rule, from the path and language alone: prose formats (and ``.txt`` files) are ``docs``; a file named or placed as a
test by the usual conventions (``test_x.py``, ``x_test.go``, ``x.spec.ts``, ``conftest.py``, a
``tests``/``__tests__``/``spec`` folder) is ``tests``; everything else is ``code`` (configuration
and data files included). Used only when a search asks for a kind: ranking never looks at it.
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["code", "docs", "tests"]
KINDS: tuple[Kind, ...] = ("code", "docs", "tests")

_PROSE = frozenset({"markdown", "rst", "asciidoc", "latex"})
_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs", "e2e"})
_TEST_FILE = re.compile(
    r"^(?:test_.+|.+_tests?|.+[._-](?:test|spec)|conftest|tests?)\.[A-Za-z0-9]+$|^Test.+\.java$|.+Tests?\.(?:java|kt|cs)$"
)


def kind_of(rel_path: str, language: str) -> Kind:
    parts = rel_path.split("/")
    if language in _PROSE or parts[-1].lower().endswith(".txt"):
        return "docs"
    if _TEST_FILE.match(parts[-1]) or any(p.lower() in _TEST_DIRS for p in parts[:-1]):
        return "tests"
    return "code"
