"""Live freshness: seconds from saving a file to finding its new text with hybrid_search.

The service as the stdio server runs it (bundled local model, Chroma, file watcher on) indexes a
copy of this repository's package; then, ``--edits`` times, a new function with a fresh name is
appended to a real source file, and ``hybrid_search`` is polled (every 50 ms) until a hit of that
file shows the name. Then one file is deleted and the time until no hit shows it is taken.
Usage: python benchmarks/bench_freshness.py [--edits 10]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support import make_settings, open_service  # noqa: E402

POLL_S = 0.05


async def until(check: object, timeout: float = 60.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await check():  # type: ignore[operator]
            return time.monotonic() - started
        await asyncio.sleep(POLL_S)
    raise TimeoutError("not searchable within the timeout")


async def main(edits: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-freshness-"))
    project = work / "project"
    shutil.copytree(
        HERE.parent / "agent_brain_mcp", project / "agent_brain_mcp", ignore=shutil.ignore_patterns("models")
    )
    settings = make_settings(work / "state", project, "local")
    async with open_service(settings) as svc:
        first = await svc.index_path(str(project))
        svc.start_watching()
        while not (svc.watcher and svc.watcher.watching):
            await asyncio.sleep(POLL_S)
        files = sorted((project / "agent_brain_mcp").rglob("*.py"))[:edits]
        latencies = []
        for n, path in enumerate(files):
            name = f"freshly_added_function_{n}"
            rel = path.relative_to(project).as_posix()
            path.write_text(path.read_text() + f"\n\ndef {name}(value):\n    return value * {n}\n")

            async def found(name: str = name, rel: str = rel) -> bool:
                hits = (await svc.hybrid_search(name, top_k=10)).hits
                return any(h.file_path == rel and name in h.text for h in hits)

            latencies.append(await until(found))
        gone = files[0].relative_to(project).as_posix()
        files[0].unlink()

        async def deleted() -> bool:
            return all(
                h.file_path != gone for h in (await svc.hybrid_search("freshly_added_function_0", top_k=50)).hits
            )

        deletion = await until(deleted)
    print(f"{first.total_files} files / {first.total_chunks} chunks indexed; {edits} edits, one after another")
    print("| | median (s) | max (s) |")
    print("|---|---|---|")
    print(f"| edit -> new text found by hybrid_search | {statistics.median(latencies):.2f} | {max(latencies):.2f} |")
    print(f"| delete -> file gone from hits | {deletion:.2f} | {deletion:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=10)
    asyncio.run(main(parser.parse_args().edits))
