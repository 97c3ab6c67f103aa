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


def _claude(cli: str, home: Path, cwd: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CLAUDE_CONFIG_DIR": str(home / ".claude")}
    done = subprocess.run(
        [cli, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _server_line(listing: str) -> str:
    return next((x for x in listing.splitlines() if x.startswith("agent-brain:")), listing)


def test_the_readme_user_scope_command_reaches_every_project(claude_cli: str, tmp_path: Path) -> None:
    """README: `claude mcp add -s user agent-brain -- <script>` once, from anywhere."""
    home, clone, project = tmp_path / "home", tmp_path / "clone", tmp_path / "my-project"
    for folder in (home / ".claude", clone, project):
        folder.mkdir(parents=True)
    for repo in (clone, project):  # two repositories, as on a user's machine (Claude Code keys projects by git root)
        subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=30)
    command, args = server_command()

    # What the README used to say: run in the clone, it registers for the clone's folder only.
    _claude(claude_cli, home, clone, "mcp", "add", "agent-brain", "--", command, *args)
    assert "No MCP servers configured" in _claude(claude_cli, home, project, "mcp", "list")
    _claude(claude_cli, home, clone, "mcp", "remove", "agent-brain")

    _claude(claude_cli, home, clone, "mcp", "add", "-s", "user", "agent-brain", "--", command, *args)
    assert "Connected" in _server_line(_claude(claude_cli, home, project, "mcp", "list"))


def test_a_project_mcp_json_is_pending_until_approved(claude_cli: str, tmp_path: Path) -> None:
    """README: a committed .mcp.json shows "Pending approval" until the user approves it."""
    home, project = tmp_path / "home", tmp_path / "my-project"
    for folder in (home / ".claude", project):
        folder.mkdir(parents=True)
    command, args = server_command()
    _claude(claude_cli, home, project, "mcp", "add", "-s", "project", "agent-brain", "--", command, *args)
    assert json.loads((project / ".mcp.json").read_text(encoding="utf-8"))["mcpServers"]["agent-brain"]

    assert "Pending approval" in _server_line(_claude(claude_cli, home, project, "mcp", "list"))
    # The approval the `claude` prompt records, written as the README shows for unattended machines.
    settings = {"enabledMcpjsonServers": ["agent-brain"]}
    (home / ".claude" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    assert "Connected" in _server_line(_claude(claude_cli, home, project, "mcp", "list"))
