"""Repeated queries: the latency of a query embedding served from the cache vs one the model computes.

The bundled local model, loaded once; ``--queries`` distinct agent-like queries are embedded one at a
time (each a miss: the model runs), then the same queries again (each a hit). Both sides go through
``aembed_query``, the call the service makes for every ``search`` and ``hybrid_search``.
Usage: python benchmarks/bench_query_cache.py [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from agent_brain_mcp.embeddings.local_onnx import LocalOnnxProvider

WORDS = (
    "retry payment provider backoff database pool connection acquire release config loader yaml "
    "parse error message slug title handler cancel job progress index status chunk keyword vector"
).split()


def queries(count: int) -> list[str]:
    return [f"where is the {WORDS[i % len(WORDS)]} {WORDS[(i * 7 + 3) % len(WORDS)]} handled {i}" for i in range(count)]


async def timed(provider: LocalOnnxProvider, texts: list[str]) -> list[float]:
    out = []
    for text in texts:
        started = time.perf_counter()
        await provider.aembed_query(text)
        out.append((time.perf_counter() - started) * 1000)
    return out


def describe(ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"{statistics.median(ms):.3f} | {p95:.3f}"


async def main(count: int) -> None:
    provider = LocalOnnxProvider()
    provider.query_cache_size = count
    provider.load()
    await provider.aembed_query("warm-up")  # first call pays one-off start-up costs
    texts = queries(count)
    misses = await timed(provider, texts)
    hits = await timed(provider, texts)
    print(f"{count} distinct queries, one at a time; milliseconds", file=sys.stderr)
    print("| query embedding | p50 (ms) | p95 (ms) |")
    print("|---|---|---|")
    print(f"| miss (the model runs) | {describe(misses)} |")
    print(f"| hit (from the cache) | {describe(hits)} |")
    print(f"\nmiss / hit (p50): {statistics.median(misses) / statistics.median(hits):.0f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    asyncio.run(main(parser.parse_args().queries))
