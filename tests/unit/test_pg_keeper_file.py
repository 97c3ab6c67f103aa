"""The embedded PostgreSQL's keeper is recognised by its command line, not by a pid alone."""

from __future__ import annotations

import os
from pathlib import Path

from agent_brain_mcp.backends.postgres.reuse import _keeper_pid, keeper_file


def test_a_keeper_file_naming_a_live_process_that_is_not_a_keeper_counts_as_no_keeper(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    keeper_file(pgdata).write_text(str(os.getpid()))  # the pid was reused by another process
    assert _keeper_pid(pgdata) is None


def test_a_keeper_file_naming_a_dead_process_counts_as_no_keeper(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    keeper_file(pgdata).write_text("999999999")
    assert _keeper_pid(pgdata) is None
