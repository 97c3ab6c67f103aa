"""The file watcher's own logic on a real folder (watchfiles, native and polling), with the service
replaced by recording functions: what reaches a batch, how bursts are grouped, what status says."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from support import eventually

from agent_brain_mcp.indexing.walker import Walker
from agent_brain_mcp.watcher import IndexWatcher

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.batches: list[list[str]] = []

    async def roots(self) -> list[Path]:
        return [self.root]

    async def refresh(self, root: Path, paths: Sequence[Path]) -> None:
        self.batches.append(sorted(p.relative_to(root).as_posix() for p in paths))


async def _watching(watcher: IndexWatcher) -> bool:
    return watcher.watching


@pytest.mark.parametrize("polling", [False, True])
async def test_changes_are_filtered_by_name_and_a_burst_is_one_batch(tmp_path: Path, polling: bool) -> None:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "node_modules").mkdir()
    recorder = Recorder(root)
    watcher = IndexWatcher(recorder.roots, recorder.refresh, Walker(), debounce_s=0.3, force_polling=polling)
    watcher.start()
    try:
        await eventually(lambda: _watching(watcher), 10)
        assert watcher.status().mode == ("polling" if polling else "native")
        assert watcher.status().roots == [root.as_posix()]
        (root / ".git" / "index.lock").write_text("git churn")
        (root / "node_modules" / "x.js").write_text("dependency")
        for n in range(50):
            (root / f"m{n:02}.py").write_text(f"x = {n}\n")

        async def one_batch() -> bool:
            return bool(recorder.batches) and watcher.status().pending_changes == 0

        await eventually(one_batch, 20)
    finally:
        await watcher.close()
    assert len(recorder.batches) == 1
    assert recorder.batches[0] == [f"m{n:02}.py" for n in range(50)]


async def test_with_no_indexed_root_the_watcher_is_idle(tmp_path: Path) -> None:
    async def no_roots() -> list[Path]:
        return []

    async def never(root: Path, paths: Sequence[Path]) -> None:
        raise AssertionError("nothing to refresh")

    watcher = IndexWatcher(no_roots, never, Walker())
    watcher.start()
    try:
        status = watcher.status()
    finally:
        await watcher.close()
    assert status.mode == "idle" and status.roots == [] and status.pending_changes == 0
