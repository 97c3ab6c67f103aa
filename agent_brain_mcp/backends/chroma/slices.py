"""How many chunks one Chroma write call takes: as many as fit a time budget, learnt from the last call.

Chroma's embedded client holds the GIL for the whole of a write call (a thread ticking every 1 ms
sees no tick from the start of ``upsert`` to its end), so every search thread of the process waits
for the call in progress. Most of a call's time is HNSW insertion, per row (half of the CPU samples
were hnswlib's inner-product loop) and growing with the collection, on top of a fixed part that
follows the log Chroma keeps since its last HNSW save; the wall time also grows with the machine's
load. No fixed row count fits every collection and machine, so each call is sized from
the wall time per row the previous call took (docs/BENCHMARKS.md, "Searches during Chroma writes").

Small calls cost write throughput (a fixed part of ~60 ms CPU per call at 10k chunks: 8 rows per call
write 40% slower than 128), so they are used only while searches run: with no search in the last
``SEARCH_WINDOW_S``, a call takes the most rows. A search arriving after a quiet spell can still
wait for one such call.
"""

from __future__ import annotations

# One write call should hold the GIL about this long: a search waits at most for the call in
# progress, then the writer's pause lets it run.
BUDGET_S = 0.1
FEWEST = 8  # below this the fixed cost of a call dominates and writing slows down without bound
MOST = 128  # the former fixed slice: never more per call than before
SEARCH_WINDOW_S = 2.0  # searches come in bursts: small calls while one ran this recently


class WriteSlicer:
    """Rows for the next Chroma write call, so that one call takes about ``budget_s``."""

    def __init__(self, budget_s: float = BUDGET_S, fewest: int = FEWEST, most: int = MOST) -> None:
        self._budget = budget_s
        self._fewest = fewest
        self._most = most
        self._size = fewest  # the first call's cost is unknown: start small

    def size(self, searching: bool = True) -> int:
        """Rows for the next call: fitted to the budget while searches run, else the most."""
        return self._size if searching else self._most

    def took(self, rows: int, seconds: float) -> None:
        """Learn from a call that wrote ``rows`` rows in ``seconds``: grow at most twofold per call."""
        if rows <= 0:
            return
        fit = int(self._budget * rows / max(seconds, 1e-6))
        self._size = max(self._fewest, min(self._most, fit, 2 * rows))
