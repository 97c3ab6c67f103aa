"""The evaluation's embedding cache (benchmarks/eval_retrieval.py): same vectors, nothing recomputed."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from eval_retrieval import CachedEmbedder

from agent_brain_mcp.embeddings.hashing import HashingProvider


class Counting(HashingProvider):
    def __init__(self, dimension: int = 16) -> None:
        super().__init__(dimension=dimension, batch_size=2)
        self.embedded = 0

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        self.embedded += len(texts)
        return super()._embed(texts, is_query=is_query)


def test_a_second_run_over_the_same_texts_reads_every_vector_from_the_cache(tmp_path: Path) -> None:
    texts = ["alpha beta", "gamma", "delta epsilon", "alpha beta"]
    first = CachedEmbedder(Counting(), tmp_path / "cache.sqlite3")
    vectors = first.embed_documents(texts)
    assert isinstance(first.inner, Counting)
    assert first.inner.embedded == 4 and (first.hits, first.misses) == (0, 4)
    first.close()

    again = CachedEmbedder(Counting(), tmp_path / "cache.sqlite3")
    cached = again.embed_documents([*texts, "zeta"])
    assert isinstance(again.inner, Counting)
    assert again.inner.embedded == 1 and (again.hits, again.misses) == (4, 1)
    assert cached[:4] == [_f32(v) for v in vectors]
    assert cached[4] == _f32(HashingProvider(dimension=16).embed_documents(["zeta"])[0])


def test_another_model_does_not_read_the_cached_vectors(tmp_path: Path) -> None:
    CachedEmbedder(Counting(), tmp_path / "cache.sqlite3").embed_documents(["alpha"])
    other = Counting(dimension=8)  # another identity ("hash:feature-hash-v1 (8 dims)"): another key
    wrapped = CachedEmbedder(other, tmp_path / "cache.sqlite3")
    wrapped.embed_documents(["alpha"])
    assert other.embedded == 1


def _f32(vector: Sequence[float]) -> list[float]:
    import numpy as np

    return [float(x) for x in np.asarray(vector, dtype=np.float32)]
