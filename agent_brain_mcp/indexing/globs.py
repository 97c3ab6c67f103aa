"""Gitignore-style globs, matched in linear time whatever the pattern."""

from __future__ import annotations

from collections.abc import Sequence

from pathspec import GitIgnoreSpec

from agent_brain_mcp.errors import InvalidInputError
from agent_brain_mcp.indexing.fsread import is_unicode

# RE2 matches in linear time; Python's `re` (pathspec's "simple" backend) backtracks, and a glob
# like a*a*a*a*a*a*a*a*a*a*a*a*b took tens of seconds on one 60-character file name, holding the
# GIL (so the whole server) all along. pathspec raises if google-re2 is missing.
GLOB_BACKEND = "re2"


def compile_globs(patterns: Sequence[str], what: str) -> GitIgnoreSpec | None:
    """Gitignore-style globs; a bad one is an input error naming it."""
    if not patterns:
        return None
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern.strip() or "\x00" in pattern or not is_unicode(pattern):
            raise InvalidInputError(f"{what}: {pattern!r} is not a usable glob")
    try:
        return GitIgnoreSpec.from_lines(patterns, backend=GLOB_BACKEND)
    except Exception as exc:
        raise InvalidInputError(f"{what}: invalid glob ({exc}); use gitignore syntax like '*.py' or 'docs/**'") from exc
