"""The real server over stdio: unreadable protocol lines are answered, careless secrets never leak."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from support import child_env, server_command, write_config

REPLY_TIMEOUT_S = 30.0
API_KEY = "sk-test-Newline-Key-93"
QUERY_SECRET = "azure-Query-Secret-57"


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


class _EchoKey(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that refuses the key and echoes it back (as some servers do)."""

    def do_POST(self) -> None:
        body = json.dumps({"error": {"message": f"bad key {self.headers.get('Authorization')} for {self.path}"}})
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoKey)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


@pytest.mark.anyio
async def test_a_key_with_a_trailing_newline_and_a_key_in_the_base_url_never_reach_results_stderr_or_the_log(
    tmp_path: Path, sample_project: Path, echo_server: str
) -> None:
    log_file = tmp_path / "server.log"
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {"chromadb": {"persist_dir": str(tmp_path / "state")}},
                "embedding": {
                    "provider": "openai",
                    "base_url": f"{echo_server}?api-key={QUERY_SECRET}",
                    "dimension": 8,
                    "api_key_env": "MY_KEY",
                },
                "logging": {"level": "DEBUG", "file": str(log_file)},
            }
        ),
        encoding="utf-8",
    )
    command, args = server_command()
    env = {**child_env(config), "MY_KEY": API_KEY + "\n"}
    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(sample_project))
    errlog = tmp_path / "stderr.log"
    texts: list[str] = []
    with errlog.open("w", encoding="utf-8") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            for tool, tool_args in [("index_path", {"path": "."}), ("index_status", {})]:
                result = await session.call_tool(tool, tool_args)
                texts.append(json.dumps(result.model_dump(mode="json")))
    outputs = {"tool results": "\n".join(texts), "stderr": errlog.read_text(encoding="utf-8")}
    outputs["log file"] = log_file.read_text(encoding="utf-8")
    for where, text in outputs.items():
        assert API_KEY not in text, where
        assert QUERY_SECRET not in text, where
    assert "HTTP 400" in texts[0]  # the request was made (with the stripped key) and refused
    assert "bad key Bearer ***" in texts[0]  # what the server echoed, masked
