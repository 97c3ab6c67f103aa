"""File-level retrieval on real code (issues/, commits/), through the real service, beside whole-file BM25.

For every dataset of a set folder (``../shared/eval/issues`` or ``../shared/eval/commits``: each
``<package>-<release>/`` holds ``queries.jsonl``, ``qrels.tsv``, ``source.json``) the release tree
(``--trees ROOT``: ``ROOT/<dataset>/``, made by the set's ``materialize.py``; ``--materialize`` runs it
for missing trees) is indexed as ONE root through ``RetrievalService.index_path`` (real walker, chunker,
model, backend; ``--include`` globs passed to it), every query goes through each mode, the chunk hits
are turned into a file ranking (a file counts once, at its best hit) and scored: file-level Acc@1/5/10,
MRR@10, and the mean number of distinct files among the first 5 hits. In the same run, a whole-file
BM25 (benchmarks/file_bm25.py, the sets' own baseline) ranks the same trees: over all files, and over
the files of ``--baseline-filter`` (``py``: ``*.py``; ``code``: code extensions). Report per dataset
(``--per-dataset``), per package and overall; ``--json FILE`` keeps every number and per-query ranks.

Modes (``--modes`` picks and orders them, default: every built-in mode the service supports):
  search          service.search
  hybrid_search   service.hybrid_search
  keyword         service.keyword_search
  files           service.hybrid_search(group_by="file")   only when hybrid_search has a group_by parameter
  search_files    service.search(group_by="file")          likewise
Add modes without editing this file: ``--mode LABEL=METHOD[:ARG=VALUE[,ARG=VALUE...]]`` (repeatable;
VALUE is JSON when it parses, else a string), e.g.
  --mode hybrid_code=hybrid_search:kind=code --mode files_a3=hybrid_search:group_by=file,alpha=0.3
Each call asks ``--first-k`` hits (default 50); when they hold fewer than 10 distinct files and the
service returned all it was asked for, the query is asked again with top_k=200 (the maximum).
A result's files are read from ``result.files`` when it has one (each item's ``file_path``/``path``),
else from ``result.hits[*].file_path``.

Generated queries (``--generated``): from the newest release of each package in the run (or the
datasets named by ``--generated-from``), ``--defs N`` definition queries (a function/class/method name
found by tree-sitter -> every file defining it; names defined in more than 3 files, dunder and
< 4-character names are skipped) and ``--literals N`` string-literal queries (the message of a
``raise X("...")`` / ``throw new E("...")`` / ``log*.error|warning|info(...)`` / ``console.*(...)``
call -> every file with that literal in such a call); seed ``--seed``. Same modes, same BM25s.

State: ``--state-root DIR`` keeps one index per dataset (``DIR/<dataset>/``); a re-run only re-indexes
what changed (index_path is incremental). ``--reuse`` skips index_path when the tree, the include
globs and the pipeline version are those of the last run (recorded in ``DIR/<dataset>/tree.json``).
``--baseline-only`` computes the whole-file BM25s alone (no index, no model).
``--only-indexed`` leaves out (and lists) the datasets whose index is not finished yet (implies ``--reuse``).
``--embedding-cache FILE``: document vectors by (model, exact chunk text), shared by all datasets and
runs; ranking changes never invalidate it (only chunk text or model changes make new keys).

Usage (what ``make eval-code`` runs; progress on stderr, Markdown on stdout):
  python benchmarks/eval_files.py --set ../shared/eval/issues --datasets 'django-*' --include '**/*.py' \\
      --baseline-filter py --trees .tmp/eval/trees/issues --state-root .tmp/eval/state/issues \\
      --embedding-cache .tmp/eval/vectors.sqlite3 --materialize --generated --json .tmp/eval/issues-django.json
  python benchmarks/eval_files.py --set ../shared/eval/commits --baseline-filter code \\
      --trees .tmp/eval/trees/commits --state-root .tmp/eval/state/commits \\
      --embedding-cache .tmp/eval/vectors.sqlite3 --materialize --generated --json .tmp/eval/commits.json
  ... --modes hybrid_search,files --mode files_code=hybrid_search:group_by=file,kind=code   # a variant
  ... --index-only                      # build/refresh the indexes (warm the cache), ask nothing
  ... --limit-queries 5 --provider hash # smoke run
  ... --provider hash --modes keyword   # keyword mode only: chunks and keyword index do not depend on the
                                        # model, so a hash-provider index gives the real keyword figures fast
  ... --only-indexed                    # score what is indexed now (e.g. while another run still embeds)
With the shared caches of the team machine:
  make eval-code EVAL_STATE=/work/cache/eval EVAL_TREES=/work/cache/trees EVAL_ARCHIVES=/work/cache/archives
  (= --trees /work/cache/trees/<set> --state-root /work/cache/eval/state/<set>
     --embedding-cache /work/cache/eval/vectors.sqlite3 --archive-cache /work/cache/archives)
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from eval_modes import BUILTIN, ModeSpec, builtin_modes, file_paths, parse_mode, supports  # noqa: E402
from eval_retrieval import CachedEmbedder, _throttled_progress, code_version  # noqa: E402
from file_bm25 import FILTERS, WholeFileBM25  # noqa: E402
from file_metrics import distinct_in_top, first_gold_rank, summarize  # noqa: E402
from retrieval_metrics import percentile  # noqa: E402

from agent_brain_mcp.backends.registry import create_backend  # noqa: E402
from agent_brain_mcp.config import Settings  # noqa: E402
from agent_brain_mcp.embeddings.base import EmbeddingProvider  # noqa: E402
from agent_brain_mcp.embeddings.factory import create_embedding_provider  # noqa: E402
from agent_brain_mcp.errors import AgentBrainError  # noqa: E402
from agent_brain_mcp.indexing.pipeline import PIPELINE_VERSION  # noqa: E402
from agent_brain_mcp.service import MAX_TOP_K, RetrievalService  # noqa: E402

log = logging.getLogger("eval_files")

WANT_FILES = 10


# -- datasets -------------------------------------------------------------------------------------------
@dataclass
class CodeDataset:
    name: str
    folder: Path
    queries: dict[str, str]  # id -> text, file order
    gold: dict[str, set[str]]  # query id -> relative paths

    @property
    def package(self) -> str:
        return self.name.rsplit("-", 1)[0]

    @property
    def release(self) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else -1 for p in self.name.rsplit("-", 1)[-1].split("."))


def load_code_dataset(folder: Path) -> CodeDataset:
    with (folder / "queries.jsonl").open(encoding="utf-8") as fh:
        queries = {str(r["_id"]): str(r["text"]) for r in map(json.loads, filter(str.strip, fh))}
    gold: dict[str, set[str]] = {}
    with (folder / "qrels.tsv").open(encoding="utf-8") as fh:
        fh.readline()
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3 and float(parts[2]) > 0:
                gold.setdefault(parts[0], set()).add(parts[1])
    return CodeDataset(folder.name, folder, queries, gold)


def find_datasets(set_dir: Path, patterns: list[str]) -> list[CodeDataset]:
    names = sorted(p.name for p in set_dir.iterdir() if (p / "qrels.tsv").is_file() and (p / "source.json").is_file())
    chosen = [n for n in names if not patterns or any(fnmatch.fnmatchcase(n, pat) for pat in patterns)]
    if not chosen:
        raise SystemExit(f"no dataset of {set_dir} matches {patterns}")
    return [load_code_dataset(set_dir / n) for n in chosen]


def materialize(set_dir: Path, ds: CodeDataset, tree: Path, cache: Path) -> None:
    cmd = [sys.executable, str(set_dir / "materialize.py"), str(ds.folder), str(tree), "--cache", str(cache)]
    log.info("materialising %s: %s", ds.name, " ".join(cmd))
    subprocess.run(cmd, check=True, cwd=set_dir)


# -- indexing -------------------------------------------------------------------------------------------
def tree_fingerprint(tree: Path, include: list[str]) -> dict[str, Any]:
    import hashlib

    h = hashlib.sha256()
    count = 0
    for path in sorted(tree.rglob("*")):
        if path.is_file():
            st = path.stat()
            h.update(f"{path.relative_to(tree).as_posix()}\x00{st.st_size}\x00{st.st_mtime_ns}\n".encode())
            count += 1
    return {"files": count, "sha256": h.hexdigest(), "include": include, "pipeline_version": PIPELINE_VERSION}


def indexed_files(tree: Path, include: list[str]) -> set[str]:
    """The files index_path takes from the tree with these globs (default settings), by the real walker."""
    from agent_brain_mcp.config import IndexingSettings
    from agent_brain_mcp.indexing.walker import Walker, WalkReport

    defaults = IndexingSettings()
    walker = Walker(include=include, use_gitignore=defaults.use_gitignore, max_file_bytes=defaults.max_file_bytes)
    return {c.rel_path for c in walker.walk(tree, WalkReport())}


def index_is_current(state: Path, fingerprint: dict[str, Any]) -> bool:
    """Whether the dataset's index was finished on this very tree, globs and pipeline version."""
    marker = state / "tree.json"
    return marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == fingerprint


@dataclass
class Indexed:
    dataset: str
    service: RetrievalService
    root: str
    files: int
    chunks: int
    seconds: float
    skipped_index: bool
    chunks_written: int
    cached_vectors: int


async def open_index(args: argparse.Namespace, ds: CodeDataset, tree: Path, embedder: EmbeddingProvider) -> Indexed:
    state: Path = args.state_root / ds.name
    state.mkdir(parents=True, exist_ok=True)
    settings = Settings.model_validate(
        {
            "storage": {"backend": "chromadb", "chromadb": {"persist_dir": str(state / "index")}},
            "embedding": {"provider": args.provider},
            "project_dir": str(tree),
        }
    )
    backend = create_backend(settings)
    await backend.open()
    service = RetrievalService(backend, embedder, settings.indexing, settings.project_dir)
    await service.check_identity()
    root = tree.as_posix()
    for other in await backend.roots():
        if other != root:
            log.warning("%s: removing indexed root %s (not this dataset's tree)", ds.name, other)
            await backend.remove_root(other)
    fingerprint = tree_fingerprint(tree, args.include)
    marker = state / "tree.json"
    t0 = time.perf_counter()
    before = embedder.hits if isinstance(embedder, CachedEmbedder) else 0
    if args.reuse and index_is_current(state, fingerprint):
        stats = await backend.stats()
        files, chunks, written, skipped = sum(s.files for s in stats), sum(s.chunks for s in stats), 0, True
    else:
        marker.unlink(missing_ok=True)  # valid again only once this run has finished
        result = await service.index_path(
            root, include=args.include, progress=_throttled_progress(f"indexing {ds.name}", 30.0)
        )
        files, chunks, written, skipped = result.total_files, result.total_chunks, result.chunks_written, False
        marker.write_text(json.dumps(fingerprint), encoding="utf-8")
    seconds = time.perf_counter() - t0
    cached = (embedder.hits - before) if isinstance(embedder, CachedEmbedder) else 0
    log.info(
        "%s: %d files, %d chunks; %s in %.1f s (%d chunks written, %d vectors from the cache)",
        ds.name, files, chunks, "index re-used" if skipped else "index_path", seconds, written, cached,
    )  # fmt: skip
    return Indexed(ds.name, service, root, files, chunks, seconds, skipped, written, cached)


# -- asking ---------------------------------------------------------------------------------------------
@dataclass
class ModeOutcome:
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # query id -> row
    latency_ms: list[float] = field(default_factory=list)
    retried: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    outside_root: int = 0


async def ask(service: RetrievalService, mode: ModeSpec, text: str, top_k: int) -> Any:
    method = getattr(service, mode.method)
    return await method(text, top_k=top_k, **mode.kwargs)


async def run_mode(ix: Indexed, mode: ModeSpec, queries: list[tuple[str, str, set[str]]], first_k: int) -> ModeOutcome:
    out = ModeOutcome()
    for qid, text, gold in queries:
        t0 = time.perf_counter()
        try:
            result = await ask(ix.service, mode, text, first_k)
            out.latency_ms.append((time.perf_counter() - t0) * 1000)
            paths, outside = file_paths(result, ix.root)
            if len(set(paths)) < WANT_FILES and len(paths) + outside >= first_k and first_k < MAX_TOP_K:
                out.retried += 1
                paths, outside = file_paths(await ask(ix.service, mode, text, MAX_TOP_K), ix.root)
        except AgentBrainError as exc:
            out.errors[qid] = str(exc)
            paths, outside = [], 0
        out.outside_root += outside
        ranking = list(dict.fromkeys(paths))
        out.rows[qid] = {
            "rank": first_gold_rank(ranking, gold),
            "distinct5": distinct_in_top(paths, 5),
            "top5": ranking[:5],
        }
    return out


def bm25_rows(
    tree: Path, name: str, queries: list[tuple[str, str, set[str]]], cache: Path | None
) -> dict[str, dict[str, Any]]:
    """Whole-file BM25 ``name`` ("all", "py", "code") on the queries. With ``cache`` (a JSON file in
    the dataset's state), rankings of queries already asked on the same tree are read back, so a
    re-run builds no BM25 index unless the tree or the queries changed."""
    import hashlib

    key = lambda text: hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()  # noqa: E731
    stamp = tree_fingerprint(tree, [])["sha256"]
    stored: dict[str, list[str]] = {}
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("tree") == stamp:
            stored = data["rankings"]
    missing = [text for _, text, _ in queries if key(text) not in stored]
    if missing:
        found = bm25_index(tree, name).search(missing, k=WANT_FILES)
        stored.update((key(text), ranking) for text, ranking in zip(missing, found, strict=True))
        if cache is not None:
            cache.write_text(json.dumps({"tree": stamp, "rankings": stored}), encoding="utf-8")
    return {
        qid: {"rank": first_gold_rank(stored[key(text)], gold), "distinct5": None, "top5": stored[key(text)][:5]}
        for qid, text, gold in queries
    }


async def evaluate_queries(
    args: argparse.Namespace,
    ix: Indexed | None,
    ds: CodeDataset,
    tree: Path,
    queries: list[tuple[str, str, set[str]]],
    modes: list[ModeSpec],
) -> dict[str, dict[str, Any]]:
    """System label -> {"rows": {qid: row}, "latency_ms": [...], ...} for every mode and both BM25s."""
    systems: dict[str, dict[str, Any]] = {}
    for mode in modes if ix is not None else []:
        outcome = await run_mode(ix, mode, queries, args.first_k)
        systems[mode.label] = {
            "rows": outcome.rows,
            "latency_ms": [round(x, 2) for x in outcome.latency_ms],
            "retried_with_200": outcome.retried,
            "errors": outcome.errors,
            "hits_outside_root": outcome.outside_root,
        }
    for name in dict.fromkeys(("all", args.baseline_filter)):
        cache = args.state_root / ds.name / f"bm25-{name}.json"
        systems[f"bm25_{name}"] = {"rows": bm25_rows(tree, name, queries, cache)}
    return systems


_BM25_CACHE: dict[tuple[Path, str], WholeFileBM25] = {}


def bm25_index(tree: Path, name: str) -> WholeFileBM25:
    key = (tree, name)
    if key not in _BM25_CACHE:
        if any(t != tree for t, _ in _BM25_CACHE):
            _BM25_CACHE.clear()  # one tree at a time: whole-file indexes of Django are large
        _BM25_CACHE[key] = WholeFileBM25(tree, FILTERS[name])
    return _BM25_CACHE[key]


# -- the run --------------------------------------------------------------------------------------------
def resolve_modes(args: argparse.Namespace, service: RetrievalService) -> list[ModeSpec]:
    modes = builtin_modes(service, args.modes)
    for spec in args.mode:
        if not supports(service, spec):
            raise SystemExit(f"--mode {spec.label}: the service has no {spec.describe()} (check the names)")
        modes = [m for m in modes if m.label != spec.label] + [spec]
    log.info("modes: %s", "; ".join(f"{m.label} = {m.describe()}" for m in modes))
    return modes


def make_embedder(args: argparse.Namespace) -> EmbeddingProvider:
    settings = Settings.model_validate({"embedding": {"provider": args.provider}})
    embedder = create_embedding_provider(settings.embedding)
    if args.embedding_cache:
        args.embedding_cache.parent.mkdir(parents=True, exist_ok=True)
        embedder = CachedEmbedder(embedder, args.embedding_cache)
    embedder.load()
    return embedder


def query_list(ds: CodeDataset, limit: int | None) -> list[tuple[str, str, set[str]]]:
    asked = [(qid, text, ds.gold[qid]) for qid, text in ds.queries.items() if ds.gold.get(qid)]
    return asked[:limit] if limit else asked


def ensure_tree(args: argparse.Namespace, ds: CodeDataset) -> Path | None:
    tree: Path = (args.trees / ds.name).resolve()
    if not tree.is_dir() and args.materialize:
        materialize(args.set, ds, tree, args.archive_cache)
    if not tree.is_dir():
        log.error("%s: no tree at %s (run with --materialize, or the set's materialize.py)", ds.name, tree)
        return None
    return tree


async def run_dataset(
    args: argparse.Namespace,
    ds: CodeDataset,
    tree: Path,
    embedder: EmbeddingProvider,
    modes: list[ModeSpec] | None,
    queries: list[tuple[str, str, set[str]]],
) -> tuple[dict[str, Any], list[ModeSpec] | None]:
    t0 = time.perf_counter()
    record: dict[str, Any] = {"package": ds.package, "tree": str(tree)}
    if args.baseline_only:
        (args.state_root / ds.name).mkdir(parents=True, exist_ok=True)
        record["systems"] = await evaluate_queries(args, None, ds, tree, queries, [])
        record["seconds"] = round(time.perf_counter() - t0, 2)
        return record, modes
    ix = await open_index(args, ds, tree, embedder)
    record |= {
        "index": {
            "files": ix.files,
            "chunks": ix.chunks,
            "seconds": round(ix.seconds, 2),
            "reused_without_index_path": ix.skipped_index,
            "chunks_written": ix.chunks_written,
            "vectors_from_cache": ix.cached_vectors,
        },
    }
    try:
        if not args.index_only and queries:
            modes = modes if modes is not None else resolve_modes(args, ix.service)
            record["systems"] = await evaluate_queries(args, ix, ds, tree, queries, modes)
    finally:
        await ix.service.backend.close()
    record["seconds"] = round(time.perf_counter() - t0, 2)
    return record, modes


async def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    datasets = find_datasets(args.set, args.datasets)
    embedder = make_embedder(args)
    result: dict[str, Any] = {
        "set": args.set.name,
        "set_path": str(args.set),
        "datasets_selected": [d.name for d in datasets],
        "include": args.include,
        "baseline_filter": args.baseline_filter,
        "embedding": embedder.identity.describe(),
        "provider": args.provider,
        "backend": "chromadb",
        "first_k": args.first_k,
        "code": code_version(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "datasets": {},
    }
    modes: list[ModeSpec] | None = None
    trees: dict[str, Path] = {}
    try:
        for ds in datasets:
            tree = ensure_tree(args, ds)
            if tree is None:
                continue
            if args.only_indexed and not index_is_current(
                args.state_root / ds.name, tree_fingerprint(tree, args.include)
            ):
                log.warning("%s: left out (--only-indexed): its index is not finished on this tree", ds.name)
                result.setdefault("left_out_not_indexed", []).append(ds.name)
                continue
            trees[ds.name] = tree
            record, modes = await run_dataset(args, ds, tree, embedder, modes, query_list(ds, args.limit_queries))
            result["datasets"][ds.name] = record
            log.info("%s done in %.1f s", ds.name, record["seconds"])
        if args.generated and not args.index_only:
            result["generated"] = await run_generated(args, datasets, trees, embedder, modes)
    finally:
        embedder.close()
    result["modes"] = {m.label: m.describe() for m in modes or []}
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["summary"] = summaries(result)
    return result


async def run_generated(
    args: argparse.Namespace,
    datasets: list[CodeDataset],
    trees: dict[str, Path],
    embedder: EmbeddingProvider,
    modes: list[ModeSpec] | None,
) -> dict[str, Any]:
    from code_queries import generate

    newest: dict[str, CodeDataset] = {}
    for ds in datasets:
        if ds.name in trees and (ds.package not in newest or ds.release > newest[ds.package].release):
            newest[ds.package] = ds
    sources = [d for d in datasets if d.name in args.generated_from] if args.generated_from else list(newest.values())
    t0 = time.perf_counter()
    sets = generate(
        {d.name: trees[d.name] for d in sources},
        n_definitions=args.defs,
        n_literals=args.literals,
        seed=args.seed,
        py_only=args.baseline_filter == "py",
        allowed={d.name: indexed_files(trees[d.name], args.include) for d in sources},
    )
    log.info("generated queries in %.1f s: %s", time.perf_counter() - t0, {k: len(v) for k, v in sets.items()})
    out: dict[str, Any] = {"sources": [d.name for d in sources], "seed": args.seed, "kinds": {}}
    for kind, queries in sets.items():
        per_ds: dict[str, Any] = {}
        for ds in sources:
            mine = [(q.qid, q.text, q.gold) for q in queries if q.dataset == ds.name]
            if mine:
                record, modes = await run_dataset(args, ds, trees[ds.name], embedder, modes, mine)
                record["queries"] = {
                    q.qid: {"text": q.text, "gold": sorted(q.gold)} for q in queries if q.dataset == ds.name
                }
                per_ds[ds.name] = record
        out["kinds"][kind] = {"datasets": per_ds}
    return out


# -- summaries and report -------------------------------------------------------------------------------
def _systems_of(datasets: dict[str, Any]) -> list[str]:
    labels: list[str] = []
    for record in datasets.values():
        for label in record.get("systems", {}):
            if label not in labels:
                labels.append(label)
    return labels


def summarize_datasets(datasets: dict[str, Any]) -> dict[str, Any]:
    """{"overall"|"package:<p>"|"dataset:<d>": {system: metrics}} over the datasets' per-query rows."""
    groups: dict[str, list[str]] = {"overall": list(datasets)}
    for name, record in datasets.items():
        groups.setdefault(f"package:{record['package']}", []).append(name)
        groups[f"dataset:{name}"] = [name]
    out: dict[str, Any] = {}
    for group, names in groups.items():
        out[group] = {}
        for label in _systems_of(datasets):
            rows = [r for n in names for r in datasets[n].get("systems", {}).get(label, {}).get("rows", {}).values()]
            if not rows:
                continue
            metrics = summarize(rows)
            lat = [x for n in names for x in datasets[n]["systems"][label].get("latency_ms", [])]
            metrics["latency_ms_p50"] = round(percentile(lat, 50), 1) if lat else None
            metrics["latency_ms_p95"] = round(percentile(lat, 95), 1) if lat else None
            out[group][label] = metrics
    return out


def summaries(result: dict[str, Any]) -> dict[str, Any]:
    out = {"real": summarize_datasets(result["datasets"])}
    for kind, gen in result.get("generated", {}).get("kinds", {}).items():
        out[f"generated:{kind}"] = summarize_datasets(gen["datasets"])
    return out


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def overall_table(summary: dict[str, Any], labels: dict[str, str]) -> list[str]:
    lines = [
        "| system | queries | Acc@1 | Acc@5 | Acc@10 | MRR@10 | distinct files in top 5 hits | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, m in summary.items():
        lines.append(
            f"| {labels.get(label, label)} | {m['queries']} | {_fmt(m['acc@1'])} | {_fmt(m['acc@5'])} "
            f"| {_fmt(m['acc@10'])} | {_fmt(m['mrr@10'])} | {_fmt(m['distinct5'], 2)} "
            f"| {_fmt(m['latency_ms_p50'], 0)} | {_fmt(m['latency_ms_p95'], 0)} |"
        )
    return lines


def group_table(summary: dict[str, Any], prefix: str, labels: dict[str, str]) -> list[str]:
    groups = [g for g in summary if g.startswith(prefix)]
    systems = list(summary["overall"])
    head = "| " + prefix.rstrip(":") + " | queries | " + " | ".join(labels.get(s, s) for s in systems) + " |"
    lines = [head, "|---|---|" + "---|" * len(systems), *[]]
    for g in groups:
        row = summary[g]
        n = next(iter(row.values()))["queries"] if row else 0
        cells = [f"{_fmt(row[s]['acc@1'], 2)} / {_fmt(row[s]['acc@5'], 2)}" if s in row else "-" for s in systems]
        lines.append(f"| {g.split(':', 1)[1]} | {n} | " + " | ".join(cells) + " |")
    return lines


def system_labels(result: dict[str, Any]) -> dict[str, str]:
    filt = {"py": "`.py` files", "code": "code files", "all": "all files"}[result["baseline_filter"]]
    labels = {"bm25_all": "whole-file BM25, all files", f"bm25_{result['baseline_filter']}": f"whole-file BM25, {filt}"}
    for label, call in result.get("modes", {}).items():
        plain = BUILTIN.get(label) is not None and BUILTIN[label].describe() == call
        labels[label] = label if plain else f"{label} `{call}`"
    return labels


def render_markdown(result: dict[str, Any], per_dataset: bool) -> str:
    labels = system_labels(result)
    real = result["summary"]["real"]
    ix = [d["index"] for d in result["datasets"].values() if "index" in d]
    inc = f"include {result['include']}" if result["include"] else "every file the walker accepts"
    indexed = (
        f"Indexed through `RetrievalService.index_path` ({inc}), {result['backend']}, {result['embedding']}; "
        f"{sum(i['files'] for i in ix):,} files, {sum(i['chunks'] for i in ix):,} chunks; indexing "
        f"{sum(i['seconds'] for i in ix):.0f} s ({sum(i['chunks_written'] for i in ix):,} chunks written, "
        f"{sum(i['vectors_from_cache'] for i in ix):,} vectors from the cache)."
        if ix
        else "Whole-file BM25 only (--baseline-only): nothing indexed."
    )
    code = result["code"]
    changed = f" + uncommitted {code['uncommitted_package_files']}" if code["uncommitted_package_files"] else ""
    lines = [
        f"## {result['set']}: {len(result['datasets'])} datasets ({', '.join(result['datasets'])})",
        "",
        f"{indexed} Whole run {result['seconds']:.0f} s. Code {code['commit']}{changed}.",
        "",
    ]
    if result.get("left_out_not_indexed"):
        lines += [f"Left out (index not finished): {', '.join(result['left_out_not_indexed'])}.", ""]
    if "overall" in real:
        lines += ["### Overall (file level)", "", *overall_table(real["overall"], labels), ""]
        lines += ["### Per package (Acc@1 / Acc@5)", "", *group_table(real, "package:", labels), ""]
        if per_dataset:
            lines += ["### Per dataset (Acc@1 / Acc@5)", "", *group_table(real, "dataset:", labels), ""]
    for key, summary in result["summary"].items():
        if key.startswith("generated:") and "overall" in summary:
            kind = key.split(":", 1)[1]
            src = ", ".join(result["generated"]["sources"])
            lines += [f"### Generated {kind} queries (seed {result['generated']['seed']}; trees: {src})", ""]
            lines += [*overall_table(summary["overall"], labels), ""]
            lines += [*group_table(summary, "package:", labels), ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--set", type=Path, required=True, help="set folder, e.g. ../shared/eval/commits")
    p.add_argument("--datasets", action="append", default=[], help="dataset name globs (repeatable; default all)")
    p.add_argument(
        "--trees", type=Path, help="ROOT of the materialised trees, ROOT/<dataset>/ (default .tmp/eval/trees/<set>)"
    )
    p.add_argument("--materialize", action="store_true", help="run the set's materialize.py for missing trees")
    p.add_argument(
        "--archive-cache",
        type=Path,
        default=Path(".tmp/eval/archives"),
        help="registry archives (materialize.py --cache)",
    )
    p.add_argument("--include", action="append", default=[], help="include glob given to index_path (repeatable)")
    p.add_argument(
        "--baseline-filter", choices=["py", "code", "all"], default="code", help="second BM25: .py / code files"
    )
    p.add_argument("--state-root", type=Path, help="one index per dataset under it (default .tmp/eval/state/<set>)")
    p.add_argument("--reuse", action="store_true", help="skip index_path when tree, globs and pipeline are unchanged")
    p.add_argument("--baseline-only", action="store_true", help="whole-file BM25 only: no index, no service")
    p.add_argument("--only-indexed", action="store_true", help="leave out datasets whose index is not finished")
    p.add_argument("--index-only", action="store_true", help="index (warm the embedding cache) and stop")
    p.add_argument("--embedding-cache", type=Path, help="SQLite file of document vectors by (model, text)")
    p.add_argument("--provider", choices=["local", "hash"], default="local", help="hash: smoke runs only")
    p.add_argument(
        "--modes", type=lambda s: [m.strip() for m in s.split(",") if m.strip()], help="built-in modes, comma-separated"
    )
    p.add_argument(
        "--mode", type=parse_mode, action="append", default=[], help="LABEL=METHOD[:ARG=VALUE,...] (repeatable)"
    )
    p.add_argument("--first-k", type=int, default=50, help=f"hits asked first; {MAX_TOP_K} when < 10 files came back")
    p.add_argument("--limit-queries", type=int, help="only the first N queries of each dataset")
    p.add_argument("--generated", action="store_true", help="also the generated definition / string-literal queries")
    p.add_argument(
        "--generated-from",
        action="append",
        default=[],
        help="datasets whose trees feed them (default: newest per package)",
    )
    p.add_argument("--defs", type=int, default=200, help="definition queries (default 200)")
    p.add_argument("--literals", type=int, default=100, help="string-literal queries (default 100)")
    p.add_argument("--seed", type=int, default=10, help="seed of the generated queries")
    p.add_argument("--per-dataset", action="store_true", help="a table per dataset too")
    p.add_argument("--json", type=Path, help="write every number (per query too) to this file")
    args = p.parse_args(argv)
    args.set = args.set.resolve()
    args.trees = (args.trees or Path(".tmp/eval/trees") / args.set.name).resolve()
    args.state_root = (args.state_root or Path(".tmp/eval/state") / args.set.name).resolve()
    args.archive_cache = args.archive_cache.resolve()
    args.reuse = args.reuse or args.only_indexed
    if not 1 <= args.first_k <= MAX_TOP_K:
        p.error(f"--first-k must be between 1 and {MAX_TOP_K}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("agent_brain_mcp").setLevel(logging.WARNING)
    result = asyncio.run(evaluate(args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=sorted), encoding="utf-8")
        log.info("wrote %s", args.json)
    print(render_markdown(result, args.per_dataset))


if __name__ == "__main__":
    main()
