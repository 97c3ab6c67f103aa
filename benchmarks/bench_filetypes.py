"""What skipping data/generated files and reading notebooks by cell saves, on real trees (no embedding).

For each tree, every file the real walker yields (default settings) is read and chunked by the real
reader and chunker twice:

- before: every text file indexed, notebooks chunked as their raw JSON text (pipeline version 4);
- after: the `filetypes` rules applied (`data` / `generated` skipped), notebooks by cell.

It prints files, chunks and characters embedded (path header + chunk text, what the model reads),
with the skipped files by reason and the notebooks apart.

Usage: python benchmarks/bench_filetypes.py TREE [TREE...]
  e.g. /work/cache/trees/issues/matplotlib-3.6.0 (materialise it with the dev set's materialize.py)
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from agent_brain_mcp.config import IndexingSettings
from agent_brain_mcp.indexing.chunking import ChunkLimits, chunk_text, embedding_text
from agent_brain_mcp.indexing.filetypes import FileTypePolicy
from agent_brain_mcp.indexing.languages import detect_language
from agent_brain_mcp.indexing.notebooks import NOTEBOOK
from agent_brain_mcp.indexing.reader import SkipFile, read_text
from agent_brain_mcp.indexing.walker import Walker, WalkReport


def _count(rel: str, text: str, language: str, limits: ChunkLimits) -> tuple[int, int]:
    chunks = chunk_text(text, language, limits)
    return len(chunks), sum(len(embedding_text(rel, c)) for c in chunks)


def measure(root: Path) -> dict[str, Counter[str]]:
    settings = IndexingSettings()
    limits = ChunkLimits(settings.chunk_lines, settings.chunk_overlap_lines, settings.chunk_chars)
    policy = FileTypePolicy()
    walker = Walker(max_file_bytes=settings.max_file_bytes)
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for cand in walker.walk(root, WalkReport()):
        try:
            text = read_text(cand.abs_path, settings.max_file_bytes).text
        except SkipFile:
            continue
        language = detect_language(cand.rel_path)
        old_language = "text" if language == NOTEBOOK else language  # v4 had no notebook reader
        chunks, chars = _count(cand.rel_path, text, old_language, limits)
        before.update(files=1, chunks=chunks, chars=chars)
        reason = _name_reason(policy, cand.rel_path) or policy.skip_by_content(cand.rel_path, text)
        if reason:
            kind = reason.split(" (", 1)[0]
            skipped.update({f"{kind} files": 1, f"{kind} chunks": chunks, f"{kind} chars": chars})
            skipped.update({f"{reason} files": 1, f"{reason} chunks": chunks})
            continue
        if language == NOTEBOOK:
            new_chunks, new_chars = _count(cand.rel_path, text, language, limits)
            skipped.update({"notebook files": 1, "notebook chunks before": chunks, "notebook chunks after": new_chunks})
            skipped.update({"notebook chars before": chars, "notebook chars after": new_chars})
            chunks, chars = new_chunks, new_chars
        after.update(files=1, chunks=chunks, chars=chars)
    return {"before": before, "after": after, "detail": skipped}


def _name_reason(policy: FileTypePolicy, rel_path: str) -> str | None:
    report = WalkReport()
    policy.wanted(rel_path, report)
    return report.skipped[0][1] if report.skipped else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="+", type=Path)
    args = parser.parse_args()
    print("| tree | files before -> after | chunks before -> after | characters embedded before -> after |")
    print("|---|---|---|---|")
    details = []
    for tree in args.trees:
        started = time.perf_counter()
        tree = tree.resolve()
        got = measure(tree)
        b, a = got["before"], got["after"]
        print(
            f"| {tree.name} | {b['files']:,} -> {a['files']:,} | {b['chunks']:,} -> {a['chunks']:,} "
            f"(-{1 - a['chunks'] / b['chunks']:.0%}) | {b['chars']:,} -> {a['chars']:,} "
            f"(-{1 - a['chars'] / b['chars']:.0%}) |"
        )
        details.append((tree.name, got["detail"], time.perf_counter() - started))
    for name, detail, seconds in details:
        print(f"\n{name} ({seconds:.0f} s to walk, read and chunk twice):")
        for key, value in sorted(detail.items()):
            print(f"  {key}: {value:,}")


if __name__ == "__main__":
    main()
