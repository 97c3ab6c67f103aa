"""Keyword first, vectors fill in: how soon a cold repository answers, and what it costs the model.

A repository of ``--files`` files of real Python source (site-packages modules, each cut to its first
``--lines`` lines so that the model's part stays minutes, not hours) plus two needle files, one that
sorts first and one that sorts last, each defining a unique identifier. Cold: an empty index and an
empty vector store, the bundled local model loaded (as the server's warm-up does after the handshake).

Through the real service: ``index_path(background=true)``, then ``hybrid_search`` for each needle
every 0.2 s. Reported: seconds from the call to the first keyword hit of each needle, to the start
of the vectors phase, and to full vector coverage; the vectors phase's chunks/s against the raw model
on exactly the same chunk texts, in the pipeline's own calls, measured in the same process right
after the run (ratio in one run); and end to end (call to full coverage) against the raw model.

On a busy machine ``--vectors-sample N`` stops the job (cancel_indexing) once N vectors are stored:
the ratio is then measured on those N chunks (the raw model embeds the same texts), and the time to
full coverage is estimated from the vectors phase's rate (marked as an estimate).

Usage: python benchmarks/bench_first_answer.py [--files 5000] [--lines 8] [--backend chromadb]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support import make_settings, open_service, world_readable_tmpdir  # noqa: E402

from agent_brain_mcp.errors import NotIndexedError  # noqa: E402
from agent_brain_mcp.indexing.chunking import Chunk, ChunkLimits, chunk_text, embedding_text  # noqa: E402
from agent_brain_mcp.indexing.languages import detect_language  # noqa: E402

NEEDLES = {
    "first": ("aaa_first/needle.py", "def firstNeedleQuuxFrobnicate(x):\n    return x + 1\n"),
    "last": ("zzz_last/needle.py", "def lastNeedleQuuxFrobnicate(x):\n    return x - 1\n"),
}
POLL_S = 0.2


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_repo(dest: Path, files: int, lines: int) -> list[str]:
    """``files`` source files (first ``lines`` lines of site-packages modules) + the needles; returns
    the embedding texts the pipeline will embed for them."""
    limits = ChunkLimits()
    texts: list[str] = []
    site = Path(sysconfig.get_paths()["purelib"])
    written = 0
    for n, path in enumerate(sorted(site.rglob("*.py"))):
        if written >= files:
            break
        try:
            text = "\n".join(path.read_text(encoding="utf-8").splitlines()[:lines]).strip()
        except (OSError, UnicodeDecodeError):
            continue
        if not text:
            continue
        rel = f"pkg{written // 250:02d}/{n:05d}_{path.parent.name}_{path.name}"
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text + "\n", encoding="utf-8")
        texts += [embedding_text(rel, c) for c in chunk_text(text, detect_language(rel), limits)]
        written += 1
    for rel, text in NEEDLES.values():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text, encoding="utf-8")
        texts += [embedding_text(rel, c) for c in chunk_text(text, detect_language(rel), limits)]
    return texts


async def first_answers(service: Any, root: Path, sample: int) -> dict[str, Any]:
    """Start a background run; poll for each needle and for the job's phases until it is done (or,
    with ``sample``, until that many vectors are stored: then the job is cancelled)."""
    out: dict[str, Any] = {}
    started = time.perf_counter()
    job = await service.index_path(str(root), background=True)
    queries = {name: NEEDLES[name][1].split("(")[0].removeprefix("def ") for name in NEEDLES}
    while True:
        elapsed = time.perf_counter() - started
        for name, identifier in queries.items():
            if f"keyword_{name}_s" in out:
                continue
            try:
                found = await service.hybrid_search(identifier, top_k=3)
            except NotIndexedError:
                continue
            if any(h.keyword_rank is not None and h.file_path == NEEDLES[name][0] for h in found.hits):
                out[f"keyword_{name}_s"] = round(time.perf_counter() - started, 2)
                out[f"coverage_at_{name}"] = found.vector_coverage
                log(
                    f"  {name} needle found by keyword at {out[f'keyword_{name}_s']}s (coverage {found.vector_coverage})"
                )
        snap = next(j for j in service.jobs() if j.id == job.job_id)
        if snap.phase == "vectors" and "vectors_phase_s" not in out:
            out["vectors_phase_s"] = round(elapsed, 2)
            out["chunks_at_vectors_phase"] = snap.chunks  # vectors already stored (none on a cold store)
            log(f"  vectors phase from {elapsed:.1f}s ({snap.chunks_keyword_indexed} chunks searchable by keyword)")
        if snap.state != "running":
            break
        if sample and "vectors_phase_s" in out and snap.chunks >= sample:
            await service.cancel_indexing(job.job_id)  # stops once the batch in flight is stored
            out["done_s"] = round(time.perf_counter() - started, 2)
            break
        await asyncio.sleep(POLL_S)
    out.setdefault("done_s", round(time.perf_counter() - started, 2))
    status = await service.status()
    if sample:
        out |= {"files": status.files, "chunks": status.chunks, "embedded": status.chunks - status.vectors_pending}
        out["sampled"] = True
        return out
    assert snap.state == "done", snap.error
    assert snap.result is not None
    out |= {
        "files": snap.result.files_indexed,
        "chunks": snap.result.chunks_written,
        "embedded": snap.result.chunks_embedded,
        "coverage_done": status.vector_coverage,
    }
    return out


async def embedded_texts(service: Any, texts: list[str]) -> list[str]:
    """The texts whose vectors the (cancelled) job stored: all but those still pending."""
    pending = Counter(
        embedding_text(p.rel_path, Chunk(p.text, 0, 0, p.symbol)) for p in await service.backend.pending_vectors(10**7)
    )
    out = []
    for text in texts:
        if pending[text]:
            pending[text] -= 1
        else:
            out.append(text)
    return out


async def raw_model(service: Any, texts: list[str]) -> dict[str, float]:
    embedder = service.embedder
    flush = max(embedder.batch_size * 4, 64)  # the pipeline embeds this many chunks per call
    started = time.perf_counter()
    for s in range(0, len(texts), flush):
        await embedder.aembed_documents(texts[s : s + flush])
    seconds = time.perf_counter() - started
    return {"raw_s": round(seconds, 1), "raw_rate": len(texts) / seconds}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    work = world_readable_tmpdir("bench-first-answer-")
    try:
        repo = work / "repo"
        texts = build_repo(repo, args.files, args.lines)
        log(f"repository: {args.files} files + 2 needles, {len(texts)} chunks; load {os.getloadavg()}")
        settings = make_settings(work / "state", repo, "local", backend=args.backend, pg_url=args.pg_url)
        async with open_service(settings) as service:
            await service.embedder.aembed_query("warm up the model")  # the server's warm-up
            result = await first_answers(service, repo, args.vectors_sample)
            same = await embedded_texts(service, texts) if args.vectors_sample else texts
            result |= await raw_model(service, same)
        phase = result["done_s"] - result["vectors_phase_s"]
        result["vectors_rate"] = result["embedded"] / phase
        if args.vectors_sample:  # full coverage estimated from the vectors phase's rate
            result["done_s"] = round(result["vectors_phase_s"] + result["chunks"] / result["vectors_rate"], 1)
        result["end_to_end_rate"] = result["chunks"] / result["done_s"]
        result["ratio_vectors_phase"] = result["vectors_rate"] / result["raw_rate"]
        result["ratio_end_to_end"] = result["end_to_end_rate"] / result["raw_rate"]
        result["load_after"] = os.getloadavg()
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def render(r: dict[str, Any], backend: str) -> str:
    return "\n".join(
        [
            f"backend {backend}: {r['files']:,} files, {r['chunks']:,} chunks ({r['embedded']:,} embedded)",
            "",
            "| from `index_path(background=true)` to | seconds |",
            "|---|---|",
            f"| first keyword hit, needle in the first folder | {r.get('keyword_first_s', 'never')} |",
            f"| first keyword hit, needle in the last folder | {r.get('keyword_last_s', 'never')} |",
            f"| vectors phase starts (every file searchable by keyword) | {r['vectors_phase_s']} |",
            f"| full vector coverage (job done) | {r['done_s']}{' (estimated)' if r.get('sampled') else ''} |",
            "",
            "| | chunks/s | / raw model |",
            "|---|---|---|",
            f"| raw model, same texts, same calls | {r['raw_rate']:.1f} | 1.00 |",
            f"| vectors phase ({r['embedded']:,} chunks) | {r['vectors_rate']:.1f} | {r['ratio_vectors_phase']:.2f} |",
            f"| end to end (call to full coverage) | {r['end_to_end_rate']:.1f} | {r['ratio_end_to_end']:.2f} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=8, help="lines kept of each source file")
    parser.add_argument("--backend", default="chromadb", choices=["chromadb", "postgresql"])
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--vectors-sample", type=int, default=0, help="stop after this many vectors (0: all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=2) if args.json else render(result, args.backend))


if __name__ == "__main__":
    main()
