"""Helpers to run the real server as a child process over stdio."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def inspector() -> str:
    exe = shutil.which("mcp-inspector")
    if exe is None:
        pytest.fail("mcp-inspector is not on PATH: run the tests with `make test`, which installs it")
    return exe


@pytest.fixture
def claude_cli() -> str:
    exe = shutil.which("claude")
    if exe is None:
        pytest.fail("the Claude Code CLI is not on PATH: run the tests with `make test`, which installs it")
    return exe
