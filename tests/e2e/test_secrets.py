"""Secrets (database password, API key) never reach logs, error messages or tool results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from support import child_env, key_echoing_server, server_command

pytestmark = pytest.mark.anyio

DB_PASSWORD = "pw-Zq81-never-shown"
API_KEY = "sk-test-Xy77-never-shown"
QUERY_SECRET = "azure-Query-Secret-57"


@pytest.fixture
def refusing_server() -> Iterator[str]:
    with key_echoing_server(401) as url:
        yield url


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


def _openai_config(tmp_path: Path, base_url: str, **extra: object) -> Path:
    config = tmp_path / "config.yaml"
    embedding = {"provider": "openai", "base_url": base_url, "model": "text-embedding-3-small", "api_key_env": "MY_KEY"}
    data = {"storage": {"chromadb": {"persist_dir": str(tmp_path / "state")}}, "embedding": embedding, **extra}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return config


async def test_an_api_key_refused_by_the_embedding_server_is_never_shown(
    sample_project: Path, tmp_path: Path, refusing_server: str
) -> None:
    config = _openai_config(tmp_path, refusing_server)
    errlog = tmp_path / "stderr.log"
    texts = await _run(sample_project, config, {**child_env(config), "MY_KEY": API_KEY}, errlog)
    assert any("API key" in t or "api_key_env" in t for t in texts)
    for text in [*texts, errlog.read_text(encoding="utf-8")]:
        assert API_KEY not in text


async def test_a_key_with_a_trailing_newline_and_a_key_in_the_base_url_never_reach_results_stderr_or_the_log(
    sample_project: Path, tmp_path: Path
) -> None:
    log_file = tmp_path / "server.log"
    with key_echoing_server(400) as url:  # echoes the Authorization header it got in its error
        config = _openai_config(tmp_path, f"{url}?api-key={QUERY_SECRET}", logging={"file": str(log_file)})
        errlog = tmp_path / "stderr.log"
        texts = await _run(sample_project, config, {**child_env(config), "MY_KEY": API_KEY + "\n"}, errlog)
    outputs = {"tool results": "\n".join(texts), "stderr": errlog.read_text(encoding="utf-8")}
    outputs["log file"] = log_file.read_text(encoding="utf-8")
    for where, text in outputs.items():
        assert API_KEY not in text, where
        assert QUERY_SECRET not in text, where
    assert "HTTP 400" in texts[0]  # the request was made (with the stripped key) and refused
    assert "Incorrect API key provided: Bearer ***" in texts[0]  # what the server echoed, masked
