"""The console script as a command for people: index / search / hybrid / status, and the bare command.

Every test runs the installed console script in a child process with its own config (hash
embeddings, a private Chroma folder) and a bounded timeout.
"""

from __future__ import annotations

import json
import os
import pty
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support import SAMPLE_FILES, child_env, write_config, write_tree

from agent_brain_mcp.models import IndexResult, IndexStatus, SearchResult

SCRIPT = Path(sys.executable).parent / "agent-brain-mcp"
TIMEOUT = 120
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# What `index` prints every few seconds when stderr is not a terminal (tests/e2e/test_cli_long_runs.py).
PROGRESS_LINE = re.compile(r"^agent-brain-mcp index: .* elapsed\)$")
HIT_LINE = re.compile(r"^\s*\d+\. (\S+):(\d+)-(\d+)", re.MULTILINE)


def _config(tmp: Path) -> Path:
    return write_config(tmp / "cfg" / "config.yaml", tmp / "state", provider="hash")


def _run(args: list[str], cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env=child_env(config),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sample files (7 to index) indexed once by the CLI, shared by the read-only tests: (project, config)."""
    base = tmp_path_factory.mktemp("cli")
    project = write_tree(base / "project", SAMPLE_FILES)
    config = _config(base)
    proc = _run(["index", "."], project, config)
    assert proc.returncode == 0, proc.stderr
    return project, config


def test_index_prints_a_summary_with_the_counts_and_a_second_run_reports_the_files_unchanged(
    sample_project: Path, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    first = _run(["index", "."], sample_project, config)
    assert first.returncode == 0, first.stderr
    assert re.search(r"^files indexed\s+8\b", first.stdout, re.MULTILINE), first.stdout
    assert re.search(r"^files unchanged\s+0\b", first.stdout, re.MULTILINE)
    assert re.search(r"^\s+binary\s+2\b", first.stdout, re.MULTILINE)  # logo.png, notes.txt: with their reason
    assert re.search(r"^chunks written\s+[1-9]", first.stdout, re.MULTILINE)
    assert first.stdout.startswith(f"Indexed {sample_project.resolve().as_posix()}\n")
    # Human commands log only warnings; off a terminal, no bar (a long run prints plain progress lines).
    assert all(PROGRESS_LINE.match(x) for x in first.stderr.splitlines()), first.stderr

    again = _run(["index", "."], sample_project, config)
    assert again.returncode == 0, again.stderr
    assert re.search(r"^files indexed\s+0\b", again.stdout, re.MULTILINE), again.stdout
    assert re.search(r"^files unchanged\s+8\b", again.stdout, re.MULTILINE)


def test_index_json_prints_the_index_path_tools_result(sample_project: Path, tmp_path: Path) -> None:
    proc = _run(["index", "src", "--include", "*.py", "--json"], sample_project, _config(tmp_path))
    assert proc.returncode == 0, proc.stderr
    result = IndexResult.model_validate_json(proc.stdout)
    assert result.files_indexed == 3 and result.root == (sample_project / "src").resolve().as_posix()


def test_hybrid_prints_file_and_line_hits_with_ranks_and_the_text(indexed: tuple[Path, Path]) -> None:
    project, config = indexed
    proc = _run(["hybrid", "DatabasePool", "acquire", "--top-k", "2"], project, config)
    assert proc.returncode == 0, proc.stderr
    hits = HIT_LINE.findall(proc.stdout)
    assert hits and len(hits) <= 2, proc.stdout
    path, start, end = hits[0]
    assert path == "src/db/connection.py" and 1 <= int(start) <= int(end)
    assert "keyword #1" in proc.stdout and "score " in proc.stdout
    assert "class DatabasePool" in proc.stdout  # the first lines of the hit's text
    assert "\x1b[" not in proc.stdout  # no colours into a pipe


def test_search_prints_hits_whose_paths_and_lines_exist(indexed: tuple[Path, Path]) -> None:
    project, config = indexed
    proc = _run(["search", "retry_with_backoff", "payment", "--top-k", "3", "--lines", "0"], project, config)
    assert proc.returncode == 0, proc.stderr
    hits = HIT_LINE.findall(proc.stdout)
    assert 1 <= len(hits) <= 3, proc.stdout
    for path, start, end in hits:
        lines = (project / path).read_text(encoding="utf-8").splitlines()
        assert 1 <= int(start) <= int(end) <= len(lines)
    assert "vector #1" in proc.stdout


def test_hits_outside_the_current_folder_are_shown_with_absolute_paths(
    indexed: tuple[Path, Path], tmp_path: Path
) -> None:
    project, config = indexed
    proc = _run(["hybrid", "computeCartTotal", "--top-k", "1"], tmp_path, config)
    assert proc.returncode == 0, proc.stderr
    assert HIT_LINE.findall(proc.stdout)[0][0] == (project.resolve() / "web/cart.ts").as_posix()


@pytest.mark.parametrize(("command", "mode"), [("search", "vector"), ("hybrid", "hybrid")])
def test_json_output_parses_as_the_search_result_shape(indexed: tuple[Path, Path], command: str, mode: str) -> None:
    project, config = indexed
    proc = _run([command, "makeSlugFromTitle", "--json", "--language", "python", "--top-k", "3"], project, config)
    assert proc.returncode == 0, proc.stderr
    result = SearchResult.model_validate(json.loads(proc.stdout))  # stdout holds the JSON and nothing else
    assert result.mode == mode and result.query == "makeSlugFromTitle"
    assert result.hits and all(h.language == "python" for h in result.hits)
    assert result.hits[0].root == project.resolve().as_posix()


def test_status_shows_the_backend_the_model_and_the_indexed_root(indexed: tuple[Path, Path]) -> None:
    project, config = indexed
    proc = _run(["status"], project, config)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^backend\s+chromadb$", proc.stdout, re.MULTILINE), proc.stdout
    assert re.search(r"^ready\s+yes$", proc.stdout, re.MULTILINE)
    assert "feature-hash" in proc.stdout
    root_row = re.search(rf"^{re.escape(project.resolve().as_posix())}\s+7\s+\d+\s+\S+", proc.stdout, re.MULTILINE)
    assert root_row, proc.stdout

    as_json = _run(["status", "--json"], project, config)
    status = IndexStatus.model_validate_json(as_json.stdout)
    assert [r.root for r in status.roots] == [project.resolve().as_posix()] and status.files == 7


def test_a_missing_path_exits_1_with_one_line_and_no_traceback(sample_project: Path, tmp_path: Path) -> None:
    proc = _run(["index", "no/such/folder"], sample_project, _config(tmp_path))
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = [x for x in proc.stderr.strip().splitlines() if not PROGRESS_LINE.match(x)]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("agent-brain-mcp index: ") and "does not exist" in lines[0]


def test_searching_an_empty_index_exits_1_and_says_which_command_to_run(tmp_path: Path) -> None:
    proc = _run(["hybrid", "anything"], tmp_path, _config(tmp_path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "Nothing is indexed" in proc.stderr and "agent-brain-mcp index PATH" in proc.stderr


def test_the_log_file_gets_the_configured_level_while_stderr_stays_quiet(sample_project: Path, tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "agent-brain.log"
    log_file.parent.mkdir()
    # Global options work after the command too.
    proc = _run(["index", ".", "--log-file", str(log_file)], sample_project, _config(tmp_path))
    assert proc.returncode == 0, proc.stderr
    text = log_file.read_text(encoding="utf-8")
    assert " INFO agent_brain_mcp" in text and "ready in" in text  # the config's logging.level is INFO
    assert all(PROGRESS_LINE.match(x) for x in proc.stderr.splitlines()), proc.stderr  # and no log lines


def test_an_unwritable_log_file_exits_2_with_a_message(sample_project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    proc = _run(["--log-file", str(blocker / "x.log"), "status"], sample_project, _config(tmp_path))
    assert proc.returncode == 2
    assert "cannot write the log file" in proc.stderr and proc.stdout == ""


def test_index_shows_a_progress_bar_on_a_terminal_stderr_and_keeps_stdout_for_the_summary(
    sample_project: Path, tmp_path: Path
) -> None:
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    proc = subprocess.Popen(
        [str(SCRIPT), "index", "."],
        cwd=sample_project,
        env={**child_env(_config(tmp_path)), "TERM": "xterm", "COLUMNS": "120"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
    )
    os.close(slave)
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        stdout, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
        reader.join(timeout=10)
        os.close(master)
    assert proc.returncode == 0
    shown = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    assert re.search(r"\b9/9 files\b", shown), shown[-2000:]  # done/total, fed by the service's progress
    assert re.search(r"^files indexed\s+8\b", stdout, re.MULTILINE)
    assert "9/9" not in stdout


def test_the_bare_command_serves_mcp_when_stdin_is_not_a_terminal(tmp_path: Path) -> None:
    stderr = (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen(
        [str(SCRIPT)],
        cwd=tmp_path,
        env=child_env(_config(tmp_path)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
    )
    try:
        stdin, stdout = proc.stdin, proc.stdout
        assert stdin is not None and stdout is not None
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test_cli", "version": "0"},
            },
        }
        stdin.write(json.dumps(initialize).encode() + b"\n")
        stdin.flush()
        lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        reply = json.loads(lines.get(timeout=60))
        assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"] == "agent-brain"
        stdin.close()  # end of input: the server shuts down cleanly
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait(timeout=10)
        stderr.close()
    assert "MCP on stdio" in (tmp_path / "stderr.txt").read_text(encoding="utf-8")  # the banner, on stderr


def test_the_bare_command_on_a_terminal_prints_help_and_exits_2(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [str(SCRIPT)],
            cwd=tmp_path,
            env=child_env(_config(tmp_path)),
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("usage: agent-brain-mcp")
    assert "agent-brain-mcp serve" in proc.stderr and "index" in proc.stderr
