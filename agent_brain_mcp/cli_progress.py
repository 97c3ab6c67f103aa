"""Progress of ``index`` for a log, a pipe or CI: a plain line every few seconds, not a redrawn bar.

``rich``'s bar is for a terminal; when stderr is a file (``2>log``, ``| tee``, CI) it shows nothing,
and a long first index looked dead for minutes. These lines say files, chunks, rate and ETA,
computed by the same ``Job`` bookkeeping that ``index_status`` reports for background jobs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TextIO

from agent_brain_mcp.indexing.progress import IndexProgress
from agent_brain_mcp.jobs import Job

DEFAULT_EVERY_S = 5.0


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class PlainProgress:
    """Collects the pipeline's progress reports; ``line()`` says where the run is."""

    def __init__(self, prog: str, path: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._prog = prog
        self._job = Job(path=path)
        self._clock = clock
        self._t0 = clock()
        self.stage = "opening the index and loading the model"

    async def __call__(self, event: IndexProgress) -> None:
        """The pipeline's progress callback."""
        await self._job.progress(event)
        self.stage = ""

    def line(self) -> str:
        elapsed = _duration(self._clock() - self._t0)
        if self.stage:
            return f"{self._prog} index: {self.stage} ({elapsed} elapsed)"
        snap = self._job.snapshot()
        total = "?" if snap.files_total is None else str(snap.files_total)
        parts = [f"{snap.files_done}/{total} files", f"{snap.chunks} chunks embedded"]
        parts.append(f"{snap.chunks_keyword_indexed} searchable by keyword")
        if snap.vectors_pending:
            parts.append(f"{snap.vectors_pending} vectors pending")
        if snap.rate:
            parts.append(f"{snap.rate:.1f} chunks/s")
        if snap.eta_seconds is not None:
            parts.append(f"ETA {_duration(snap.eta_seconds)}")
        return f"{self._prog} index: {', '.join(parts)} ({elapsed} elapsed)"


@asynccontextmanager
async def plain_progress(
    prog: str, path: str, stream: TextIO, every: float = DEFAULT_EVERY_S
) -> AsyncIterator[PlainProgress]:
    """A ``PlainProgress`` whose line is written to ``stream`` every ``every`` seconds (a short run prints none)."""
    progress = PlainProgress(prog, path)

    async def tick() -> None:
        while True:
            await asyncio.sleep(every)
            stream.write(progress.line() + "\n")
            stream.flush()

    ticker = asyncio.create_task(tick(), name="agent-brain-progress-lines")
    try:
        yield progress
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
