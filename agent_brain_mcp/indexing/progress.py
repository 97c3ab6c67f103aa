"""What an indexing run reports as it goes: one typed event, and its one human rendering.

The pipeline emits an ``IndexProgress`` after every batch it writes; background jobs (``jobs.py``),
the MCP progress notifications (``server.py``) and the CLI's progress all consume the same event,
and every human-readable progress line comes from ``IndexProgress.message``.

A run has two phases (docs/ARCHITECTURE.md, "Keyword first, vectors fill in"):
``keywords`` reads and chunks every changed file and makes it searchable by keyword at once;
``vectors`` then embeds the chunks whose vectors are pending, in the order they were written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

WALK = "walk"
KEYWORDS = "keywords"
VECTORS = "vectors"
DONE = "done"


@dataclass(frozen=True)
class IndexProgress:
    phase: str  # WALK, KEYWORDS, VECTORS or DONE
    files_done: int  # files checked so far (unchanged ones included)
    files_total: int | None  # files to check, once the walk has finished
    chunks_keyword_indexed: int = 0  # chunks this run wrote (searchable by keyword)
    chunks_embedded: int = 0  # vectors this run stored (the model's or the vector store's)
    vectors_pending: int = 0  # chunks in the index still waiting for their vector

    @property
    def fraction(self) -> tuple[float, float | None]:
        """(done, total) for a progress bar, counting files checked plus vectors stored: the value only
        grows (MCP wants that of every notification) and reaches the total when the run is done."""
        if self.files_total is None:
            return float(self.files_done), None
        files = self.files_total if self.phase in (VECTORS, DONE) else self.files_done
        done = files + self.chunks_embedded
        return float(done), float(self.files_total + self.chunks_embedded + self.vectors_pending)

    @property
    def phase_count(self) -> tuple[int, int | None, str]:
        """(done, total, unit) of the current phase, for a bar that names what it counts: files while
        they are read and written, vectors while they fill in."""
        if self.phase == VECTORS:
            return self.chunks_embedded, self.chunks_embedded + self.vectors_pending, "vectors"
        if self.phase == DONE and self.files_total is not None:
            return self.files_total, self.files_total, "files"
        return self.files_done, self.files_total, "files"

    def message(self) -> str:
        total = "?" if self.files_total is None else str(self.files_total)
        if self.phase == WALK:
            return f"found {total} files to check"
        if self.phase == DONE:
            return "done"
        text = (
            f"{self.files_done}/{total} files, {self.chunks_keyword_indexed} chunks searchable by keyword, "
            f"{self.chunks_embedded} chunks embedded"
        )
        if self.vectors_pending:
            text += f", {self.vectors_pending} vectors pending"
        return text


ProgressFn = Callable[[IndexProgress], Awaitable[None]]
