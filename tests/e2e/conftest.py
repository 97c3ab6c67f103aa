"""The npm CLIs the end-to-end tests drive (MCP Inspector, Claude Code), found or explained."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NPM_BIN = REPO / ".tmp" / "npm" / "node_modules" / ".bin"  # where `make dev` installs them


def _npm_cli(command: str, package: str, version_variable: str) -> str:
    """The CLI from PATH or from `make dev`'s folder; else a failure that says what is missing and how to get it."""
    exe = shutil.which(command) or shutil.which(command, path=str(NPM_BIN))
    if exe is not None and shutil.which("node") is not None:
        return exe
    pinned = re.search(rf"^{version_variable}\s*:=\s*(\S+)", (REPO / "Makefile").read_text(), re.MULTILINE)
    spec = f"{package}@{pinned.group(1)}" if pinned else package
    if exe is None:
        missing = f"`{command}` ({spec}) is neither on PATH nor in {NPM_BIN}"
    else:
        missing = f"`{command}` is installed but Node.js (`node`) is not on PATH: install Node.js 20 or later"
    pytest.fail(
        f"{missing}. Install it with `make dev` (npm install --prefix .tmp/npm {spec}), "
        "or run the whole suite with `make test`, which installs it."
    )


@pytest.fixture
def inspector() -> str:
    return _npm_cli("mcp-inspector", "@modelcontextprotocol/inspector", "INSPECTOR_VERSION")


@pytest.fixture
def claude_cli() -> str:
    return _npm_cli("claude", "@anthropic-ai/claude-code", "CLAUDE_CODE_VERSION")
