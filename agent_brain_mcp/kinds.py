"""What a file is for an agent that asks for one kind: ``code``, ``config``, ``docs`` or ``tests``.

One rule, from the path and language alone:

- ``docs``: prose formats (Markdown, reST, AsciiDoc, LaTeX), ``.txt`` files, and the plain-text files
  a project names by convention (``README``, ``CHANGES``, ``LICENSE``, ``AUTHORS``... without a suffix);
- ``tests``: a file named or placed as a test by the usual conventions (``test_x.py``, ``x_test.go``,
  ``x.spec.ts``, ``conftest.py``, a ``tests``/``__tests__``/``spec`` folder), whatever its language;
- ``config``: configuration, data and package metadata: JSON, YAML, TOML, INI/``.cfg``, XML, CSV,
  ``.env``, and files of no known format (``PKG-INFO``, ``.gitignore``, ``.flake8``, ``.po``...);
- ``code``: everything else, i.e. source in a programming, template, style or build language
  (Python, TypeScript, HTML, CSS, shell, SQL, Makefile, Dockerfile, notebooks...).

Used only when a search asks for a kind: ranking never looks at it.
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["code", "config", "docs", "tests"]
KINDS: tuple[Kind, ...] = ("code", "config", "docs", "tests")

_PROSE = frozenset({"markdown", "rst", "asciidoc", "latex"})
# Plain-text files a project names by convention (compared without suffix, case-insensitively).
_PROSE_NAMES = frozenset(
    "readme changes changelog history news authors contributors contributing license licence copying "
    "notice todo thanks credits maintainers security".split()
)
# Languages (see indexing/languages.py) that hold settings or data, not a program.
_CONFIG = frozenset({"json", "yaml", "toml", "ini", "xml", "csv", "dotenv", "text"})
_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs", "e2e"})
_TEST_FILE = re.compile(
    r"^(?:test_.+|.+_tests?|.+[._-](?:test|spec)|conftest|tests?)\.[A-Za-z0-9]+$|^Test.+\.java$|.+Tests?\.(?:java|kt|cs)$"
)


def kind_of(rel_path: str, language: str) -> Kind:
    parts = rel_path.split("/")
    name = parts[-1]
    if language in _PROSE or name.lower().endswith(".txt"):
        return "docs"
    if language == "text" and name.split(".", 1)[0].lower() in _PROSE_NAMES:
        return "docs"
    if _TEST_FILE.match(name) or any(p.lower() in _TEST_DIRS for p in parts[:-1]):
        return "tests"
    if language in _CONFIG:
        return "config"
    return "code"
