"""Whole-file BM25: the baseline of the issues/ and commits/ sets, computed on the same trees.

Matches ``../shared/eval/{issues,commits}/bm25_baseline.py``: one document per file = relative path
+ " " + file content; non-alphanumerics to spaces, camelCase split, lowercased; bm25s' tokenizer with
English stopwords and the Snowball (PyStemmer) English stemmer; default ``bm25s.BM25()`` (Lucene
variant, k1=1.5, b=0.75); every file under the tree (``os.walk``, nothing skipped: the materialiser
already dropped files > 1 MB and binaries), or only the files a filter keeps (``.py`` for issues/,
code extensions for commits/). The query is the full text, prepared the same way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["CODE_EXT", "FILTERS", "WholeFileBM25", "prep"]

CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
CODE_EXT = (".py", ".pyi", ".go", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx")

FILTERS: dict[str, Callable[[str], bool]] = {
    "all": lambda rel: True,
    "py": lambda rel: rel.endswith(".py"),
    "code": lambda rel: rel.endswith(CODE_EXT),
}


def prep(text: str) -> str:
    """Identifier parts split (snake_case by the non-alphanumerics, camelCase here), lowercased."""
    text = re.sub(r"[^A-Za-z0-9]+", " ", text)
    return " ".join(CAMEL.sub(" ", w) for w in text.split()).lower()


def tree_files(tree: Path, keep: Callable[[str], bool] = FILTERS["all"]) -> list[str]:
    """Relative paths (POSIX) of the files under ``tree`` that ``keep`` accepts, sorted."""
    out: list[str] = []
    for folder, _, files in os.walk(tree):
        for name in files:
            rel = Path(folder, name).relative_to(tree).as_posix()
            if keep(rel):
                out.append(rel)
    return sorted(out)


class WholeFileBM25:
    """A bm25s index over the files of one tree; ``search`` returns the top file paths per query."""

    def __init__(self, tree: Path, keep: Callable[[str], bool] = FILTERS["all"]) -> None:
        import bm25s
        import Stemmer

        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("english")
        self.paths = tree_files(tree, keep)
        docs = [prep(rel + " " + (tree / rel).read_text(encoding="utf-8", errors="replace")) for rel in self.paths]
        self._index = bm25s.BM25()
        if docs:
            tokens = bm25s.tokenize(docs, stopwords="en", stemmer=self._stemmer, show_progress=False)
            self._index.index(tokens, show_progress=False)

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[str]]:
        if not self.paths or not queries:
            return [[] for _ in queries]
        tokens = self._bm25s.tokenize(
            [prep(q) for q in queries], stopwords="en", stemmer=self._stemmer, show_progress=False
        )
        results, _ = self._index.retrieve(tokens, k=min(k, len(self.paths)), show_progress=False)
        return [[self.paths[int(i)] for i in row] for row in results]
