"""A BM25 index (bm25s) persisted beside the Chroma folder, rebuilt from the catalog when stale.

bm25s indexes are static, so after a run that changed chunks the whole index is rebuilt from the
token lists kept in the catalog (cheap: no re-tokenising) and saved with the catalog generation it
reflects. On load, a generation that differs from the catalog's means rebuild, never stale answers.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent_brain_mcp.backends.catalog import Catalog

log = logging.getLogger(__name__)


def _bm25s() -> Any:
    """Import bm25s lazily; it sets its own logger to DEBUG on import, which we undo."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


@dataclass
class _Loaded:
    generation: int
    ids: list[str]
    paths: list[str]
    rel_paths: list[str]
    langs: np.ndarray
    retriever: object | None  # bm25s.BM25, or None for an empty corpus


class KeywordIndex:
    def __init__(self, folder: Path, catalog: Catalog) -> None:
        self.folder = folder
        self._catalog = catalog
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def ensure_current(self) -> _Loaded:
        """The index for the catalog's current generation: loaded from disk or rebuilt."""
        with self._lock:
            generation = self._catalog.generation()
            if self._loaded is not None and self._loaded.generation == generation:
                return self._loaded
            loaded = self._load(generation)
            if loaded is None:
                loaded = self._rebuild(generation)
            self._loaded = loaded
            return loaded

    def _load(self, generation: int) -> _Loaded | None:
        meta_path = self.folder / "chunks.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("generation") != generation:
                return None
            retriever = None
            if meta["ids"]:
                retriever = _bm25s().BM25.load(str(self.folder / "bm25"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as exc:
            log.warning("keyword index at %s is unreadable (%s); rebuilding it", self.folder, exc)
            return None
        return self._make(generation, meta["ids"], meta["paths"], meta["langs"], retriever)

    @staticmethod
    def _make(generation: int, ids: list[str], paths: list[str], langs: list[str], retriever: object) -> _Loaded:
        rel = [p.split("\x00", 1)[1] for p in paths]
        full = [p.replace("\x00", "/", 1) for p in paths]
        return _Loaded(generation, ids, full, rel, np.array(langs, dtype=object), retriever)

    def _rebuild(self, generation: int) -> _Loaded:
        ids, paths, langs, tokens = self._catalog.all_chunk_tokens()
        retriever = None
        tmp = self.folder.with_name(self.folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if ids:
            retriever = _bm25s().BM25()
            # Empty token lists break bm25s' vocabulary; a placeholder token matches no query.
            retriever.index([t or ["\x00"] for t in tokens], show_progress=False)
            retriever.save(str(tmp / "bm25"))
        (tmp / "chunks.json").write_text(
            json.dumps({"generation": generation, "ids": ids, "paths": paths, "langs": langs}), encoding="utf-8"
        )
        shutil.rmtree(self.folder, ignore_errors=True)
        tmp.rename(self.folder)
        log.info("keyword index rebuilt: %d chunks", len(ids))
        return self._make(generation, ids, paths, langs, retriever)

    def search(
        self, tokens: list[str], top_k: int, path_prefix: str | None, language: str | None
    ) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; chunks that share no token with the query are left out."""
        loaded = self.ensure_current()
        if loaded.retriever is None or not tokens:
            return []
        mask = None
        if path_prefix or language:
            keep = np.ones(len(loaded.ids), dtype=bool)
            if language:
                keep &= loaded.langs == language
            if path_prefix:
                keep &= np.fromiter(
                    (
                        r.startswith(path_prefix) or p.startswith(path_prefix)
                        for r, p in zip(loaded.rel_paths, loaded.paths, strict=True)
                    ),
                    dtype=bool,
                    count=len(loaded.ids),
                )
            mask = keep.astype(np.float32)
        scores = loaded.retriever.get_scores(tokens, weight_mask=mask)  # type: ignore[attr-defined]
        top_k = min(top_k, len(scores))
        best = np.argpartition(-scores, top_k - 1)[:top_k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(loaded.ids[i], float(scores[i])) for i in best if scores[i] > 0]
