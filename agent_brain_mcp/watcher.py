"""Live freshness: while the server runs, edits under indexed roots are indexed without a call.

``watchfiles`` (Rust notify: inotify, FSEvents, ReadDirectoryChangesW) reports changes, or polls
when the native watcher cannot start (e.g. the inotify watch limit is reached). Changes are first
filtered by name with the walker's own rules (so ``.git/`` churn never wakes the indexer), then
gathered until the tree has been quiet for ``indexing.watch_debounce_ms`` (a ``git checkout`` of
2,000 files is one batch), and each batch goes to ``RetrievalService.refresh_paths``: the walker's
full rules decide what is indexed, what vanished is removed.

Coexistence with ``index_path``: a batch takes the same in-process write lock as a user's run, so
the two queue behind each other, and neither fails "busy" because of the other: a user's run waits
at most for one small batch; the watcher waits for a user's run (foreground or background) and
then indexes what is still pending (cheap: files the user's run already indexed are unchanged).
Searches never wait for the watcher. ``watchfiles`` is imported when watching starts, after the
handshake.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from agent_brain_mcp.errors import AgentBrainError, IndexBusyError
from agent_brain_mcp.models import WatchStatus

if TYPE_CHECKING:
    from agent_brain_mcp.indexing.walker import Walker
    from agent_brain_mcp.models import IndexResult

log = logging.getLogger(__name__)

# A batch is indexed at the latest this long after its first change, even if changes keep coming.
MAX_BATCH_WAIT_S = 5.0
# How long to wait before retrying a batch another process's indexing run kept out.
BUSY_RETRY_S = 2.0
# watchfiles' own grouping (milliseconds): a set of changes is handed over once no change came for
# a step, or after _BATCH_MS; the watching thread checks for a stop every step and wakes every timeout.
_STEP_MS = 50
_BATCH_MS = 500
_TIMEOUT_MS = 1000
_POLL_DELAY_MS = 300
_STOP_GRACE_S = 5.0

RootsFn = Callable[[], Awaitable[list[Path]]]
RefreshFn = Callable[[Path, Sequence[Path]], Awaitable["IndexResult | None"]]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class IndexWatcher:
    """Watches the indexed roots and re-indexes what changes, in debounced batches."""

    def __init__(
        self,
        roots: RootsFn,
        refresh: RefreshFn,
        walker: Walker,
        *,
        debounce_s: float = 0.3,
        force_polling: bool = False,
    ) -> None:
        self._roots_fn = roots
        self._refresh = refresh
        self._walker = walker
        # A poll sees a burst in slices one poll apart: quiet means no change for two polls at least.
        self._debounce_s = max(debounce_s, 2 * _POLL_DELAY_MS / 1000) if force_polling else debounce_s
        self._polling = force_polling
        self._roots: list[Path] = []
        self._pending: set[Path] = set()
        self._in_flight = 0
        self._first_change = 0.0
        self._last_change = 0.0
        self._wake = asyncio.Event()
        self._roots_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._watch_task: asyncio.Task[None] | None = None
        self._stop_watch: asyncio.Event | None = None
        self.batches = 0
        self.last_update: str | None = None
        self.last_summary: str | None = None
        self.error: str | None = None
        self.watching = False
        self._cannot_watch = False  # watchfiles missing, or neither OS events nor polling worked

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._follow_roots(), name="agent-brain-watch-roots"),
                asyncio.create_task(self._index_batches(), name="agent-brain-watch-index"),
            ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._stop_watching()

    def roots_changed(self) -> None:
        """An indexing run finished: the set of roots to watch may have changed."""
        self._roots_changed.set()

    def status(self) -> WatchStatus:
        return WatchStatus(
            enabled=True,
            mode=self._mode(),
            roots=[r.as_posix() for r in self._roots],
            pending_changes=len(self._pending) + self._in_flight,
            batches=self.batches,
            last_update=self.last_update,
            last_summary=self.last_summary,
            error=self.error,
        )

    def _mode(self) -> str:
        if self.watching:
            return "polling" if self._polling else "native"
        return "off" if self._cannot_watch else "idle"  # idle: no indexed root to watch yet

    # -- which roots ----------------------------------------------------------------------------------
    async def _follow_roots(self) -> None:
        while True:
            try:
                roots = await self._roots_fn()
            except Exception as exc:  # noqa: BLE001 - e.g. a database that went away: keep the old roots
                log.warning("file watcher: cannot list the indexed roots: %s", exc)
                roots = self._roots
            stopped = self._watch_task is None or self._watch_task.done()
            if roots != self._roots or (roots and stopped):
                await self._stop_watching()
                self._roots = roots
                if roots:
                    self._stop_watch = asyncio.Event()
                    self._watch_task = asyncio.create_task(self._watch(roots, self._stop_watch))
            await self._roots_changed.wait()
            self._roots_changed.clear()

    async def _stop_watching(self) -> None:
        if self._watch_task is None:
            return
        assert self._stop_watch is not None
        self._stop_watch.set()  # the watching thread sees it within one step and returns
        try:
            await asyncio.wait_for(asyncio.shield(self._watch_task), _STOP_GRACE_S)
        except TimeoutError:
            self._watch_task.cancel()
        await asyncio.gather(self._watch_task, return_exceptions=True)
        self._watch_task = None

    async def _watch(self, roots: list[Path], stop: asyncio.Event) -> None:
        try:
            # watchfiles' documented low-level API: unlike ``awatch`` it says when watching has begun.
            from watchfiles._rust_notify import RustNotify
        except ImportError:
            self.error = "watchfiles is not installed: edits are indexed only by index_path"
            self._cannot_watch = True
            log.warning("file watcher: %s", self.error)
            return
        while not stop.is_set():
            try:
                with RustNotify([str(r) for r in roots], False, self._polling, _POLL_DELAY_MS, True, True) as notify:
                    self.watching = True
                    self._cannot_watch = False
                    mode = "polling" if self._polling else "native"
                    log.info("file watcher: watching %s (%s)", ", ".join(map(str, roots)), mode)
                    while not stop.is_set():
                        raw = await asyncio.to_thread(notify.watch, _BATCH_MS, _STEP_MS, _TIMEOUT_MS, stop)
                        if isinstance(raw, set):
                            self._add({Path(path) for _, path in raw if self._wanted(path)})
                return
            except (OSError, RuntimeError) as exc:  # e.g. the inotify watch limit
                if self._polling:
                    self.error = f"file watching failed ({exc}): edits are indexed only by index_path"
                    self._cannot_watch = True
                    log.warning("file watcher: %s", self.error)
                    return
                log.warning("file watcher: native watching failed (%s); polling instead", exc)
                self._polling = True
            finally:
                self.watching = False

    def _wanted(self, path: str) -> bool:
        p = Path(path)
        root = next((r for r in self._roots if p == r or p.is_relative_to(r)), None)
        if root is None:
            return False
        # A poll reports a folder whose entries changed (e.g. .git/ itself): judge it as the folder it is.
        is_dir = p.is_dir() and not p.is_symlink()
        return not self._walker.excluded(root, p, is_dir=is_dir)

    def _add(self, paths: set[Path]) -> None:
        if not paths:
            return
        now = time.monotonic()
        if not self._pending:
            self._first_change = now
        self._pending |= paths
        self._last_change = now
        self._wake.set()

    # -- indexing batches ---------------------------------------------------------------------------
    async def _index_batches(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                continue
            await self._settle()
            batch, self._pending = self._pending, set()
            self._in_flight = len(batch)
            try:
                await self._index(batch)
            finally:
                self._in_flight = 0

    async def _settle(self) -> None:
        """Wait until no change came for the debounce time (or the batch is MAX_BATCH_WAIT_S old)."""
        while True:
            now = time.monotonic()
            quiet_at = self._last_change + self._debounce_s
            deadline = self._first_change + MAX_BATCH_WAIT_S
            if now >= quiet_at or now >= deadline:
                return
            await asyncio.sleep(min(quiet_at, deadline) - now)

    async def _index(self, batch: set[Path]) -> None:
        by_root: dict[Path, list[Path]] = {}
        for path in batch:
            root = next((r for r in self._roots if path == r or path.is_relative_to(r)), None)
            if root is not None:
                by_root.setdefault(root, []).append(path)
        for root, paths in by_root.items():
            try:
                result = await self._refresh(root, sorted(paths))
            except IndexBusyError:
                log.info("file watcher: another indexing run holds the index; retrying in %.0f s", BUSY_RETRY_S)
                await asyncio.sleep(BUSY_RETRY_S)
                self._add(set(paths))
                continue
            except AgentBrainError as exc:
                self.error = str(exc)
                log.warning("file watcher: re-indexing %d changed paths under %s failed: %s", len(paths), root, exc)
                continue
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                log.exception("file watcher: re-indexing %d changed paths under %s failed", len(paths), root)
                continue
            self.error = None
            if result is not None and (result.files_indexed or result.files_removed):
                self.batches += 1
                self.last_update = _now_iso()
                self.last_summary = result.summary
                log.info("file watcher: %s", result.summary)
