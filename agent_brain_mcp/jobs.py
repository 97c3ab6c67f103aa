"""Background indexing jobs: one asyncio task each, held by the service, with live progress.

A cancel is cooperative first: the job stops at its next progress report, which the pipeline
sends after each batch of whole files is written (and before anything is removed), so a
cancelled run leaves every file either fully indexed or untouched.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agent_brain_mcp.indexing.progress import VECTORS, IndexProgress
from agent_brain_mcp.models import IndexJob, IndexResult

MAX_JOBS = 10


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Job:
    path: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = "running"
    files_done: int = 0
    files_total: int | None = None
    chunks: int = 0
    last: IndexProgress | None = None  # the pipeline's latest progress event
    started: str = field(default_factory=_now_iso)
    finished: str | None = None
    error: str | None = None
    result: IndexResult | None = None
    cancel_requested: bool = False
    # Set when the run has stopped at a batch boundary: what is left is clean-up, safe to cut short.
    stopped: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    _t0: float = field(default_factory=time.monotonic, repr=False)
    _t_end: float | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.state == "running"

    async def progress(self, event: IndexProgress) -> None:
        """The pipeline's progress callback: records progress, and stops the run once cancelled."""
        if self.cancel_requested:
            self.stopped.set()
            raise asyncio.CancelledError(f"indexing job {self.id} was cancelled")
        self.last = event
        self.files_done = event.files_done
        if event.files_total is not None:
            self.files_total = event.files_total
        self.chunks = event.chunks_embedded

    def finish(self, state: str, *, result: IndexResult | None = None, error: str | None = None) -> None:
        self.state = state
        self.result = result
        self.error = error
        if result is not None:
            self.chunks = result.chunks_written
            self.files_done = self.files_total or self.files_done
        self.finished = _now_iso()
        self._t_end = time.monotonic()

    def _elapsed(self) -> float:
        return (self._t_end or time.monotonic()) - self._t0

    def snapshot(self) -> IndexJob:
        elapsed = self._elapsed()
        rate = round(self.chunks / elapsed, 2) if elapsed > 0 else None
        eta: float | None = None
        if self.running and self.last is not None and self.last.phase == VECTORS and rate:
            eta = round(self.last.vectors_pending / rate, 1)  # the vectors are what takes the time
        elif self.running and self.files_total is not None and self.files_done > 0:
            eta = round(elapsed * (self.files_total - self.files_done) / self.files_done, 1)
        last = self.last
        return IndexJob(
            id=self.id,
            path=self.path,
            state=self.state,
            phase=last.phase if last is not None and self.running else None,
            files_done=self.files_done,
            files_total=self.files_total,
            chunks=self.chunks,
            chunks_keyword_indexed=last.chunks_keyword_indexed if last is not None else 0,
            vectors_pending=last.vectors_pending if last is not None and self.running else 0,
            rate=rate,
            eta_seconds=eta,
            started=self.started,
            finished=self.finished,
            error=self.error,
            result=self.result,
        )


class JobRegistry:
    """The recent jobs of one service (newest last internally, newest first when listed)."""

    def __init__(self) -> None:
        self._jobs: deque[Job] = deque(maxlen=MAX_JOBS)

    def add(self, job: Job) -> None:
        # Never let the bound evict a running job: drop the oldest finished one instead.
        if len(self._jobs) == MAX_JOBS:
            for old in self._jobs:
                if not old.running:
                    self._jobs.remove(old)
                    break
        self._jobs.append(job)

    def running(self) -> Job | None:
        return next((j for j in reversed(self._jobs) if j.running), None)

    def get(self, job_id: str) -> Job | None:
        return next((j for j in self._jobs if j.id == job_id), None)

    def snapshots(self) -> list[IndexJob]:
        return [j.snapshot() for j in reversed(self._jobs)]

    def all(self) -> list[Job]:
        return list(self._jobs)
