"""Start-up: spawn -> `initialize` answered -> `tools/list`, cold, over stdio.

Runs agent-brain-mcp and a bare MCPServer with one tool alternately in the same run and reports
medians and their ratio (absolute times on a shared 2-core machine are noisy; the ratio is not).
Usage: python benchmarks/bench_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HERE = Path(__file__).resolve().parent


async def _time_once(params: StdioServerParameters) -> tuple[float, float]:
    started = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        t_init = time.perf_counter() - started
        await session.list_tools()
        t_list = time.perf_counter() - started
    return t_init, t_list


async def main(runs: int) -> None:
    state = Path(tempfile.mkdtemp())
    script = Path(sys.executable).parent / "agent-brain-mcp"
    ours = StdioServerParameters(
        command=str(script) if script.exists() else sys.executable,
        args=["--quiet"] if script.exists() else ["-m", "agent_brain_mcp", "--quiet"],
        cwd=str(state),
    )
    bare = StdioServerParameters(command=sys.executable, args=[str(HERE / "bare_server.py")], cwd=str(state))
    results: dict[str, list[tuple[float, float]]] = {"bare": [], "agent-brain-mcp": []}
    await _time_once(bare)  # warm the OS file cache for both
    await _time_once(ours)
    for _ in range(runs):
        results["bare"].append(await _time_once(bare))
        results["agent-brain-mcp"].append(await _time_once(ours))
    print(f"runs: {runs} (alternating), medians in seconds")
    print("| server | initialize answered | tools/list answered |")
    print("|---|---|---|")
    med = {}
    for name, rows in results.items():
        med[name] = (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows))
        print(f"| {name} | {med[name][0]:.2f} | {med[name][1]:.2f} |")
    ratio = med["agent-brain-mcp"][1] / med["bare"][1]
    print(f"\nratio agent-brain-mcp / bare (tools/list): {ratio:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    anyio.run(main, parser.parse_args().runs)
