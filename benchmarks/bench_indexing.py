"""Indexing speed and memory: end-to-end throughput vs the raw model, incremental re-runs, peak RSS.

Three measurements, each through the real service with the bundled local model on embedded Chroma
(or PostgreSQL with ``--backend postgresql``):

1. **Throughput.** A corpus of real source files (copied from site-packages) large enough for
   ``--chunks`` chunks is indexed from scratch; chunks/s end to end (walking, reading, hashing,
   chunking, tokenising, embedding, writing) is compared with the raw throughput of the same model
   on exactly the same chunk texts, fed in the pipeline's own batches (model alone). Both are
   measured in one process, alternately on quarters of the corpus (raw, pipeline, raw, pipeline, ...),
   so that load from other work on the machine hits both sides alike.
2. **Incremental re-index.** ``--files`` tiny files (one chunk each) are indexed; then the unchanged
   tree again (must re-embed nothing and take < 5% of the first run); then after ``touch`` of 100
   files (new mtime, same content: hashed, nothing re-embedded); then after editing one file (only
   its chunks re-embedded).
3. **Peak RSS.** Each indexing run of step 2 runs in its own child process (``--child``), whose peak
   resident set size (``ru_maxrss``) is read by this process; a run over an empty folder gives the
   baseline (Python, the model, the store), and a run over a quarter of the files shows whether memory
   grows with the size of the tree (it should not: files stream through a bounded queue).

Usage: python benchmarks/bench_indexing.py [--chunks 10000] [--files 20000] [--backend chromadb]
       [--skip throughput|incremental]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support import make_settings, open_service, world_readable_tmpdir  # noqa: E402

from agent_brain_mcp.indexing.chunking import ChunkLimits, chunk_text, embedding_text  # noqa: E402
from agent_brain_mcp.indexing.languages import detect_language  # noqa: E402

GROUPS = 4


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def settings_for(state: Path, project: Path, backend: str, pg_url: str | None) -> Any:
    return make_settings(state, project, "local", backend=backend, pg_url=pg_url, table="bench_indexing")


# -- 1. throughput --------------------------------------------------------------------------------
def build_corpus(dest: Path, chunks: int) -> list[str]:
    """Copy site-packages .py files (sorted, deterministic) into ``dest`` until they make ``chunks``
    chunks; returns the embedding texts the pipeline will embed for them, in file order."""
    limits = ChunkLimits()
    texts: list[str] = []
    site = Path(sysconfig.get_paths()["purelib"])
    for n, path in enumerate(sorted(site.rglob("*.py"))):
        if len(texts) >= chunks:
            break
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if not text.strip() or len(text) > 200_000:
            continue
        group = min(GROUPS - 1, len(texts) * GROUPS // chunks)  # fill g0, g1, ... in turn
        rel = f"g{group}/{n:05d}_{path.parent.name}_{path.name}"
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        pieces = chunk_text(text, detect_language(rel), limits)
        if not pieces:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        texts.extend(embedding_text(rel, c) for c in pieces)
    return texts


def timed_model_calls(embedder: Any) -> list[tuple[float, float]]:
    """Record (start, end) of every model call of ``embedder`` (raw or the pipeline's) in the list returned."""
    spans: list[tuple[float, float]] = []
    embed = embedder.embed_documents

    def timed(texts: Any) -> Any:
        start = time.perf_counter()
        try:
            return embed(texts)
        finally:
            spans.append((start, time.perf_counter()))

    embedder.embed_documents = timed
    return spans


async def throughput(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    corpus = work / "corpus"
    texts_all = build_corpus(corpus, args.chunks)
    parts = sorted(p for p in corpus.iterdir() if p.is_dir())
    limits = ChunkLimits()
    settings = settings_for(work / "state-throughput", corpus, args.backend, args.pg_url)
    result: dict[str, Any] = {"chunks": len(texts_all), "raw_s": 0.0, "pipeline_s": 0.0, "pipeline_chunks": 0}
    result |= {"ratios": [], "keywords_s": 0.0, "model_s": 0.0, "raw_cpu_s": 0.0, "pipeline_cpu_s": 0.0}
    async with open_service(settings) as service:
        embedder = service.embedder
        spans = timed_model_calls(embedder)
        await embedder.aembed_documents(["warm up the model"])
        flush = max(embedder.batch_size * 4, 64)  # the pipeline embeds this many chunks per call
        result["batch_size"] = embedder.batch_size
        for i, part in enumerate(parts):
            texts: list[str] = []
            for f in sorted(part.rglob("*.py")):
                rel = f.relative_to(corpus).as_posix()
                pieces = chunk_text(f.read_text(encoding="utf-8"), detect_language(rel), limits)
                texts.extend(embedding_text(rel, c) for c in pieces)
            started = time.perf_counter()
            cpu = time.process_time()  # every thread of this process: the model's and the pipeline's
            for s in range(0, len(texts), flush):
                await embedder.aembed_documents(texts[s : s + flush])
            raw = time.perf_counter() - started
            raw_cpu = time.process_time() - cpu
            spans.clear()
            started = time.perf_counter()
            cpu = time.process_time()
            written = (await service.index_path(str(part))).chunks_written
            pipe = time.perf_counter() - started
            pipe_cpu = time.process_time() - cpu
            keywords = spans[0][0] - started if spans else pipe  # phase 1 makes no model call
            model = sum(end - start for start, end in spans)
            log(
                f"  part {i + 1}/{len(parts)}: raw {len(texts)} chunks in {raw:.1f}s, pipeline {written} chunks in "
                f"{pipe:.1f}s (keywords phase {keywords:.1f}s, model {model:.1f}s, rest {pipe - keywords - model:.1f}s)"
                f": ratio {raw / pipe * written / len(texts):.3f}; CPU s raw {raw_cpu:.1f}, pipeline {pipe_cpu:.1f}"
            )
            result["ratios"].append(round(raw / pipe * written / len(texts), 3))
            result["keywords_s"] += keywords
            result["model_s"] += model
            result["raw_s"] += raw
            result["raw_cpu_s"] += raw_cpu
            result["pipeline_cpu_s"] += pipe_cpu
            result["pipeline_s"] += pipe
            result["pipeline_chunks"] += written
            result.setdefault("raw_chunks", 0)
            result["raw_chunks"] += len(texts)
    result["raw_rate"] = result["raw_chunks"] / result["raw_s"]
    result["pipeline_rate"] = result["pipeline_chunks"] / result["pipeline_s"]
    result["ratio"] = result["pipeline_rate"] / result["raw_rate"]
    return result


# -- 2 and 3. incremental re-index and peak RSS, each run in a child process ----------------------
def make_tree(folder: Path, files: int) -> None:
    for n in range(files):
        d = folder / f"d{n // 1000:02d}"
        if n % 1000 == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"f{n:05d}.txt").write_text(f"note {n}: tinyfile{n} keeps a short line of text\n", encoding="utf-8")


def child_index(project: Path, state: Path, backend: str, pg_url: str | None) -> dict[str, Any]:
    """Run in the child process: one index_path over ``project``, then report and exit."""

    async def run() -> dict[str, Any]:
        async with open_service(settings_for(state, project, backend, pg_url)) as service:
            await service.embedder.aembed_documents(["load the model before the clock starts"])
            started = time.perf_counter()
            res = await service.index_path(str(project))
            return {
                "seconds": time.perf_counter() - started,
                "files_indexed": res.files_indexed,
                "files_unchanged": res.files_unchanged,
                "chunks_written": res.chunks_written,
                "total_files": res.total_files,
            }

    out = asyncio.run(run())
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def in_child(project: Path, state: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(project), str(state), "--backend", args.backend]
    if args.pg_url:
        cmd += ["--pg-url", args.pg_url]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def incremental(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"files": args.files}
    empty, quarter, tree = work / "empty", work / "quarter", work / "tree"
    empty.mkdir()
    make_tree(quarter, args.files // 4)
    make_tree(tree, args.files)
    out["baseline"] = in_child(empty, work / "state-empty", args)
    out["quarter"] = in_child(quarter, work / "state-quarter", args)
    state = work / "state-tree"
    out["first"] = in_child(tree, state, args)
    out["unchanged"] = in_child(tree, state, args)
    now = time.time()
    for n in range(0, args.files, max(1, args.files // 100)):  # 100 files: new mtime, same content
        os.utime(tree / f"d{n // 1000:02d}" / f"f{n:05d}.txt", (now + 5, now + 5))
    out["touched"] = in_child(tree, state, args)
    edited = tree / "d00" / "f00007.txt"
    edited.write_text(edited.read_text(encoding="utf-8") + "an edited line\n", encoding="utf-8")
    out["edited"] = in_child(tree, state, args)
    out["unchanged_ratio"] = out["unchanged"]["seconds"] / out["first"]["seconds"]
    return out


def render(tp: dict[str, Any] | None, inc: dict[str, Any] | None, backend: str) -> str:
    lines = [f"backend: {backend}, local model (bundled int8 all-MiniLM-L6-v2)", ""]
    if tp:
        lines += [
            f"**Throughput** ({tp['chunks']:,} chunks of real Python source, model batch {tp['batch_size']}):",
            "",
            "| | chunks | seconds | chunks/s |",
            "|---|---|---|---|",
            f"| raw model, same texts, same batches | {tp['raw_chunks']:,} | {tp['raw_s']:.1f} | {tp['raw_rate']:.1f} |",
            f"| index_path end to end | {tp['pipeline_chunks']:,} | {tp['pipeline_s']:.1f} "
            f"| {tp['pipeline_rate']:.1f} |",
            "",
            f"Pipeline / raw: **{tp['ratio']:.2f}** (floor 0.9), per part {', '.join(map(str, tp['ratios']))}.",
            f"Of the pipeline's {tp['pipeline_s']:.1f} s: keywords phase (no model call) {tp['keywords_s']:.1f} s, "
            f"model calls {tp['model_s']:.1f} s, the rest (vectors phase between model calls) "
            f"{tp['pipeline_s'] - tp['keywords_s'] - tp['model_s']:.1f} s; CPU time (all threads) raw model "
            f"{tp['raw_cpu_s']:.1f} s, pipeline {tp['pipeline_cpu_s']:.1f} s.",
            "",
        ]
    if inc:
        rows = [
            ("empty folder (baseline)", inc["baseline"]),
            (f"first index, {inc['files'] // 4:,} files", inc["quarter"]),
            (f"first index, {inc['files']:,} files", inc["first"]),
            ("re-run, nothing changed", inc["unchanged"]),
            ("re-run after touching 100 files (same content)", inc["touched"]),
            ("re-run after editing 1 file", inc["edited"]),
        ]
        lines += [
            f"**Incremental re-index and memory** ({inc['files']:,} one-line files, each run in a fresh process):",
            "",
            "| run | seconds | files re-indexed | chunks embedded | peak RSS (MB) |",
            "|---|---|---|---|---|",
        ]
        for name, r in rows:
            lines.append(
                f"| {name} | {r['seconds']:.2f} | {r['files_indexed']:,} | {r['chunks_written']:,} "
                f"| {r['peak_rss_mb']:.0f} |"
            )
        lines += ["", f"Unchanged re-run / first run: **{inc['unchanged_ratio']:.1%}** (floor < 5%)."]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=10_000)
    p.add_argument("--files", type=int, default=20_000)
    p.add_argument("--backend", choices=["chromadb", "postgresql"], default="chromadb")
    p.add_argument("--pg-url", default=os.environ.get("AGENT_BRAIN_TEST_DATABASE_URL"))
    p.add_argument("--skip", choices=["throughput", "incremental"], action="append", default=[])
    p.add_argument("--json", type=Path, help="also write every number to this file")
    p.add_argument("--child", nargs=2, metavar=("PROJECT", "STATE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child_index(Path(args.child[0]), Path(args.child[1]), args.backend, args.pg_url)))
        return
    if args.backend == "postgresql" and not args.pg_url:
        raise SystemExit("--backend postgresql needs --pg-url or $AGENT_BRAIN_TEST_DATABASE_URL")
    work = world_readable_tmpdir("bench-indexing-")
    try:
        tp = inc = None
        if "throughput" not in args.skip:
            log(f"throughput: building a {args.chunks}-chunk corpus ...")
            tp = asyncio.run(throughput(args, work))
        if "incremental" not in args.skip:
            log(f"incremental: {args.files} files ...")
            inc = incremental(args, work)
        if args.json:
            args.json.write_text(json.dumps({"throughput": tp, "incremental": inc}, indent=1), encoding="utf-8")
        print(render(tp, inc, args.backend))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
