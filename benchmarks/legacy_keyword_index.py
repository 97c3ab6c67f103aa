"""The keyword index as it was before issue 5 (bm25s, rebuilt whole when the catalog generation
changes), kept only so `bench_scale.py` can measure before and after in one run."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent_brain_mcp.backends.chroma.catalog import Catalog

log = logging.getLogger(__name__)


def _bm25s() -> Any:
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def all_chunk_tokens(catalog: Catalog) -> tuple[list[str], list[str], list[str], list[list[str]]]:
    """ids, ``root\\x00rel_path`` keys, languages and token lists of every chunk (the old catalog call)."""
    ids: list[str] = []
    paths: list[str] = []
    langs: list[str] = []
    tokens: list[list[str]] = []
    with catalog._lock:
        for cid, root, rel, lang, toks in catalog._db.execute(
            "SELECT id, root, rel_path, language, tokens FROM chunks ORDER BY id"
        ):
            ids.append(cid)
            paths.append(f"{root}\x00{rel}")
            langs.append(lang)
            tokens.append(toks.split(" ") if toks else [])
    return ids, paths, langs, tokens


@dataclass
class _Loaded:
    generation: int
    ids: list[str]
    paths: list[str]
    rel_paths: list[str]
    langs: np.ndarray
    retriever: object | None


class LegacyKeywordIndex:
    def __init__(self, folder: Path, catalog: Catalog) -> None:
        self.folder = folder
        self._catalog = catalog
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def ensure_current(self) -> _Loaded:
        with self._lock:
            generation = self._catalog.generation()
            if self._loaded is not None and self._loaded.generation == generation:
                return self._loaded
            loaded = self._rebuild(generation)
            self._loaded = loaded
            return loaded

    def finish_run(self) -> None:
        self.ensure_current()

    def close(self) -> None:
        pass

    @staticmethod
    def _make(generation: int, ids: list[str], paths: list[str], langs: list[str], retriever: object) -> _Loaded:
        rel = [p.split("\x00", 1)[1] for p in paths]
        full = [p.replace("\x00", "/", 1) for p in paths]
        return _Loaded(generation, ids, full, rel, np.array(langs, dtype=object), retriever)

    def _rebuild(self, generation: int) -> _Loaded:
        ids, paths, langs, tokens = all_chunk_tokens(self._catalog)
        retriever = None
        tmp = self.folder.with_name(self.folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if ids:
            retriever = _bm25s().BM25()
            retriever.index([t or ["\x00"] for t in tokens], show_progress=False)
            retriever.save(str(tmp / "bm25"))
        (tmp / "chunks.json").write_text(
            json.dumps({"generation": generation, "ids": ids, "paths": paths, "langs": langs}), encoding="utf-8"
        )
        shutil.rmtree(self.folder, ignore_errors=True)
        tmp.rename(self.folder)
        return self._make(generation, ids, paths, langs, retriever)

    def search(
        self, tokens: list[str], top_k: int, path_prefix: str | None, language: str | None
    ) -> list[tuple[str, float]]:
        loaded = self.ensure_current()
        if loaded.retriever is None or not tokens:
            return []
        scores = loaded.retriever.get_scores(tokens)  # type: ignore[attr-defined]
        top_k = min(top_k, len(scores))
        best = np.argpartition(-scores, top_k - 1)[:top_k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(loaded.ids[i], float(scores[i])) for i in best if scores[i] > 0]
