"""The plain progress line `index` prints when stderr is not a terminal."""

from __future__ import annotations

import io
import re

import pytest

from agent_brain_mcp.cli_progress import PlainProgress, plain_progress
from agent_brain_mcp.indexing.progress import IndexProgress

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_before_the_walk_the_line_names_the_stage_and_the_time_elapsed() -> None:
    clock = Clock()
    progress = PlainProgress("agent-brain-mcp", ".", clock=clock)
    clock.now += 75
    assert progress.line() == "agent-brain-mcp index: opening the index and loading the model (1m15s elapsed)"
    progress.stage = "looking for files"
    assert "looking for files" in progress.line()


async def test_during_the_run_the_line_has_files_chunks_rate_and_eta() -> None:
    progress = PlainProgress("agent-brain-mcp", ".")
    await progress(IndexProgress("walk", 0, 400))
    assert progress.line().startswith("agent-brain-mcp index: 0/400 files, 0 chunks embedded")
    await progress(IndexProgress("keywords", 100, 400, chunks_keyword_indexed=900, chunks_embedded=512))
    line = progress.line()
    assert re.search(r"100/400 files, 512 chunks embedded, 900 searchable by keyword, [\d.]+ chunks/s, ETA \d+", line)
    await progress(
        IndexProgress("vectors", 400, 400, chunks_keyword_indexed=3000, chunks_embedded=600, vectors_pending=2400)
    )
    assert "600 chunks embedded, 3000 searchable by keyword, 2400 vectors pending" in progress.line()


async def test_lines_are_written_every_interval_and_not_before() -> None:
    stream = io.StringIO()
    async with plain_progress("agent-brain-mcp", ".", stream, every=3600) as progress:
        await progress(IndexProgress("keywords", 1, 2, chunks_keyword_indexed=3))
    assert stream.getvalue() == ""  # a run shorter than the interval prints nothing
