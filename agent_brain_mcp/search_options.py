"""The options every search takes besides its query and filters, checked in one place, and how deep
each one makes the candidate lists."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from agent_brain_mcp.answers import Page
from agent_brain_mcp.errors import InvalidInputError
from agent_brain_mcp.kinds import KINDS
from agent_brain_mcp.ranking import DEFAULT_MAX_PER_FILE

MAX_TOP_K = 200
MIN_MAX_CHARS = 100
GROUP_BY = ("chunk", "file")
LONG_QUERY = ("windows", "focused")  # how a long query reaches the semantic side (see query_terms)
# "focused" (its opening + the names, phrases and paths it holds, one window) beat "windows" (up to
# MAX_WINDOWS windows averaged) on the 111 Django bug reports of issues/ with the real model, file mode
# + code, one run: Acc@1/Acc@5 0.505/0.820 vs 0.495/0.793 (docs/BENCHMARKS.md); one embedding, not
# several. Queries shorter than one window reach the model whole either way.
DEFAULT_LONG_QUERY = "focused"
# Candidates per side for files ranked as wholes: deep enough that a file's several chunks count.
FILE_CANDIDATES = 150


@dataclass(frozen=True)
class SearchOptions:
    max_chars: int | None = None
    group_by: str = "chunk"
    max_per_file: int | None = DEFAULT_MAX_PER_FILE
    kind: str | None = None
    long_query: str = DEFAULT_LONG_QUERY

    def check(self) -> None:
        if self.max_chars is not None and self.max_chars < MIN_MAX_CHARS:
            raise InvalidInputError(f"max_chars must be at least {MIN_MAX_CHARS}, got {self.max_chars}")
        if self.group_by not in GROUP_BY:
            raise InvalidInputError(f"group_by must be 'chunk' or 'file', got {self.group_by!r}")
        if self.kind is not None and self.kind not in KINDS:
            raise InvalidInputError(f"kind must be one of {', '.join(KINDS)} (or omitted for all), got {self.kind!r}")
        if self.max_per_file is not None and self.max_per_file < 0:
            raise InvalidInputError(f"max_per_file must be 0 (no cap) or more, got {self.max_per_file}")
        if self.long_query not in LONG_QUERY:
            raise InvalidInputError(f"long_query must be one of {', '.join(LONG_QUERY)}, got {self.long_query!r}")

    def depth(self, top_k: int) -> int:
        """Chunks to rank in full: enough for ``top_k`` hits after merging neighbours, capping files
        and filtering by kind; for files, every candidate of both sides."""
        if self.group_by == "file":
            return 2 * FILE_CANDIDATES
        if self.kind is not None:
            return MAX_TOP_K
        return min(MAX_TOP_K, max(4 * top_k, 40))

    def candidates(self, top_k: int) -> int:
        """Candidates per side before fusion."""
        if self.group_by == "file":
            return FILE_CANDIDATES
        return max(self.depth(top_k), 6 * top_k, 50) if self.kind is not None else max(6 * top_k, 50)

    def page(self, top_k: int, alpha: float, k: int, *, fused: bool) -> Page:
        return Page(top_k, self.max_chars, self.group_by, self.max_per_file, self.kind, alpha, k, fused)


def mean_direction(vectors: Sequence[Sequence[float]]) -> list[float]:
    """The normalised mean of unit vectors (the vector itself when there is one)."""
    if len(vectors) == 1:
        return list(vectors[0])
    mean = [sum(values) / len(vectors) for values in zip(*vectors, strict=True)]
    norm = math.sqrt(sum(v * v for v in mean)) or 1.0
    return [v / norm for v in mean]
