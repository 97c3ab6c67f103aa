"""The real server over stdio: a line the SDK cannot read gets a JSON-RPC error, and a log line."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from support import child_env, server_command, write_config

REPLY_TIMEOUT_S = 30.0


def _send(proc: subprocess.Popen[bytes], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line.encode("utf-8") + b"\n")
    proc.stdin.flush()


def _replies(proc: subprocess.Popen[bytes], count: int) -> list[dict[str, Any]]:
    """The next ``count`` JSON-RPC replies (notifications and requests from the server are skipped)."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    replies: list[dict[str, Any]] = []
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while len(replies) < count:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            pytest.fail(f"no reply within {REPLY_TIMEOUT_S}s; got replies to {[r.get('id') for r in replies]}")
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"the server closed stdout; got replies to {[r.get('id') for r in replies]}")
        message = json.loads(line)
        if "result" in message or "error" in message:
            replies.append(message)
    return replies


def test_a_lone_surrogate_and_a_malformed_line_get_json_rpc_errors_and_are_logged(
    tmp_path: Path, sample_project: Path
) -> None:
    config = write_config(tmp_path / "config.yaml", tmp_path / "state", provider="hash")
    command, args = server_command()
    errlog = tmp_path / "stderr.log"
    with errlog.open("wb") as err:
        proc = subprocess.Popen(
            [command, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=sample_project,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **child_env(config)},
        )
        try:
            init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
            _send(proc, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}))
            assert _replies(proc, 1)[0]["id"] == 1
            _send(proc, json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            call = {"name": "search", "arguments": {"query": "\udcff"}}
            # json.dumps writes the surrogate as the escape \udcff: valid JSON syntax, invalid Unicode
            _send(proc, json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}))
            _send(proc, '{"jsonrpc": "2.0", "id": 3, "method": ')
            _send(proc, json.dumps({"jsonrpc": "2.0", "id": 4, "method": "tools/list"}))
            surrogate, malformed, listed = _replies(proc, 3)
        finally:
            proc.stdin.close()  # type: ignore[union-attr]
            try:
                proc.wait(timeout=30)
            finally:
                proc.kill()
    assert surrogate["id"] == 2 and surrogate["error"]["code"] == -32602
    assert "surrogate" in surrogate["error"]["message"]
    assert malformed["id"] is None and malformed["error"]["code"] == -32700
    assert listed["id"] == 4 and listed["result"]["tools"]
    assert proc.returncode == 0
    stderr = errlog.read_text(encoding="utf-8", errors="replace")
    assert stderr.count("unreadable message on stdin") == 2
