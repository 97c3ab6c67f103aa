"""Secrets (database password, API key) never reach logs, error messages or tool results."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from support import child_env, server_command

pytestmark = pytest.mark.anyio

DB_PASSWORD = "pw-Zq81-never-shown"
API_KEY = "sk-test-Xy77-never-shown"


class _Refuse(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that refuses the key (and echoes it back, as some servers do)."""

    def do_POST(self) -> None:
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {self.headers.get('Authorization')}"}})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


async def _run(project: Path, config: Path, env: dict[str, str], errlog: Path) -> list[str]:
    command, args = server_command()
    params = StdioServerParameters(command=command, args=[*args, "--log-level", "DEBUG"], env=env, cwd=str(project))
    texts: list[str] = []
    with errlog.open("w", encoding="utf-8") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            for tool, args_ in [("index_path", {"path": "."}), ("search", {"query": "x"}), ("index_status", {})]:
                result = await session.call_tool(tool, args_)
                texts.append(json.dumps(result.model_dump(mode="json")))
    return texts


async def test_an_unreachable_database_password_is_never_shown(sample_project: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {
                    "backend": "postgresql",
                    "postgresql": {"host": "127.0.0.1", "port": 1, "user": "brain", "password_env": "BRAIN_PW"},
                },
                "embedding": {"provider": "hash"},
            }
        ),
        encoding="utf-8",
    )
    errlog = tmp_path / "stderr.log"
    texts = await _run(sample_project, config, {**child_env(config), "BRAIN_PW": DB_PASSWORD}, errlog)
    assert any("PostgreSQL" in t and "unavailable" in t for t in texts)
    for text in [*texts, errlog.read_text(encoding="utf-8")]:
        assert DB_PASSWORD not in text


async def test_an_api_key_refused_by_the_embedding_server_is_never_shown(
    sample_project: Path, tmp_path: Path, refusing_server: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {"chromadb": {"persist_dir": str(tmp_path / "state")}},
                "embedding": {
                    "provider": "openai",
                    "base_url": refusing_server,
                    "model": "text-embedding-3-small",
                    "api_key_env": "MY_KEY",
                },
            }
        ),
        encoding="utf-8",
    )
    errlog = tmp_path / "stderr.log"
    texts = await _run(sample_project, config, {**child_env(config), "MY_KEY": API_KEY}, errlog)
    assert any("API key" in t or "api_key_env" in t for t in texts)
    for text in [*texts, errlog.read_text(encoding="utf-8")]:
        assert API_KEY not in text
