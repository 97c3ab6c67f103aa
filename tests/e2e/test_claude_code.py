"""Claude Code itself (npm CLI, no API key needed for this) registers and connects to the server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from support import server_command, write_config


def test_claude_code_lists_the_server_as_connected(claude_cli: str, sample_project: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.yaml", tmp_path / "state", provider="hash")
    claude_home = tmp_path / "claude-config"
    claude_home.mkdir()
    # Project-scoped servers need approval; this is the setting a user flips in the approval prompt.
    (claude_home / "settings.json").write_text(json.dumps({"enableAllProjectMcpServers": True}), encoding="utf-8")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": str(claude_home)}
    command, args = server_command()

    added = subprocess.run(
        [claude_cli, "mcp", "add", "-s", "project", "agent-brain", "-e", f"AGENT_BRAIN_CONFIG={config}", "--",
         command, *args, "serve"],
        cwd=sample_project, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    mcp_json = json.loads((sample_project / ".mcp.json").read_text(encoding="utf-8"))
    assert mcp_json["mcpServers"]["agent-brain"]["type"] == "stdio"

    listed = subprocess.run(
        [claude_cli, "mcp", "list"],
        cwd=sample_project, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    # `claude mcp list` exits 0 even when a server fails: the text is what counts.
    line = next((x for x in listed.stdout.splitlines() if x.startswith("agent-brain:")), "")
    assert "Connected" in line, listed.stdout + listed.stderr
