"""Smoke test with a second real client: the MCP Inspector CLI (npm), spawning the installed server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from support import child_env, server_command, write_config


def _inspect(inspector: str, project: Path, config: Path, *method: str) -> tuple[int, Any]:
    command, args = server_command()
    env_flags = [flag for key, value in child_env(config).items() for flag in ("-e", f"{key}={value}")]
    proc = subprocess.run(
        [inspector, "--cli", "--format", "json", "-q", *env_flags, command, *args, *method],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    try:
        payload = json.loads(proc.stdout)
    except json.JSONDecodeError:
        payload = proc.stdout + proc.stderr
    return proc.returncode, payload


def test_the_inspector_cli_lists_and_calls_every_tool(inspector: str, sample_project: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.yaml", tmp_path / "state")

    code, listed = _inspect(inspector, sample_project, config, "--method", "tools/list")
    assert code == 0, listed
    assert {t["name"] for t in listed["result"]["tools"]} == {
        "index_path",
        "search",
        "hybrid_search",
        "index_status",
        "cancel_indexing",
    }

    def call(tool: str, *args: str) -> tuple[int, Any]:
        extra = ["--tool-arg", *args] if args else []
        return _inspect(inspector, sample_project, config, "--method", "tools/call", "--tool-name", tool, *extra)

    code, indexed = call("index_path", "path=.")
    assert code == 0, indexed
    assert indexed["result"]["structuredContent"]["files_indexed"] == 8

    code, found = call("search", "query=connection pool for the database", "top_k=2")
    assert code == 0, found
    assert found["result"]["structuredContent"]["hits"][0]["file_path"] == "src/db/connection.py"

    code, hybrid = call("hybrid_search", "query=computeCartTotal", "top_k=1")
    assert code == 0, hybrid
    assert hybrid["result"]["structuredContent"]["hits"][0]["file_path"] == "web/cart.ts"

    code, status = call("index_status")
    assert code == 0, status
    assert status["result"]["structuredContent"]["files"] == 8

    code, nothing = call("cancel_indexing")
    assert code == 5 and "nothing to cancel" in json.dumps(nothing).lower(), nothing

    code, failed = call("index_path", "path=does/not/exist")
    assert code == 5, failed  # the inspector's exit code for an isError result
