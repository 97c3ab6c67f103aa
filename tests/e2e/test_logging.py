"""Logs: structured JSON lines on request, to stderr and to a file named in the config."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from support import child_env, server_command


def test_json_logs_go_to_the_configured_file_one_object_per_line(sample_project: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {"chromadb": {"persist_dir": str(tmp_path / "state")}},
                "embedding": {"provider": "hash"},
                "logging": {"level": "INFO", "format": "json", "file": "logs/agent-brain.log"},
            }
        ),
        encoding="utf-8",
    )
    command, args = server_command()
    proc = subprocess.run(
        [command, *args, "index", "."],
        env=child_env(config),
        cwd=sample_project,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    lines = (sample_project / "logs" / "agent-brain.log").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert entries and all({"ts", "level", "logger", "message"} <= e.keys() for e in entries)
    assert any(e["logger"] == "agent_brain_mcp.runtime" and e["message"].startswith("ready in") for e in entries)
    assert "{" not in proc.stdout.splitlines()[0]  # stdout stays the command's own output
