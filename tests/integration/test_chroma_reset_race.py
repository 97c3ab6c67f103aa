"""A search that runs while ``index_path(force=true)`` resets the Chroma store answers; it never raises.

The reset empties the catalog, drops the collection, then creates it again. A search that read the
collection before the drop and queries it after (another thread of the same server, or another
process) used to fail with Chroma's ``NotFoundError``. The steps of the reset are taken here one by
one on a real store, so the window is hit every time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import make_settings, open_service

from agent_brain_mcp.backends.base import SearchFilters
from agent_brain_mcp.backends.chroma.backend import ChromaBackend

pytestmark = pytest.mark.anyio


async def test_a_vector_search_between_the_drop_and_the_new_collection_answers_with_the_new_state(
    tmp_path: Path, sample_project: Path
) -> None:
    settings = make_settings(tmp_path / "index", sample_project)
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        backend = svc.backend
        assert isinstance(backend, ChromaBackend)
        query = await svc.embedder.aembed_query("retry with backoff")
        assert await backend.vector_search(query, 5, SearchFilters())  # the old state answers

        backend.catalog.reset()  # the reset's first step: the catalog holds nothing any more
        backend._client.delete_collection(settings.storage.chromadb.collection)  # the drop, not yet recreated
        assert await backend.vector_search(query, 5, SearchFilters()) == []
        hybrid = await backend.hybrid_search(
            query, "retry backoff", 5, SearchFilters(), alpha=0.5, rrf_k=5, candidates=10
        )
        assert hybrid == []

        await backend.reset()  # the writer's reset runs to its end (each step is idempotent)
        await svc.index_path(str(sample_project))
        assert await backend.vector_search(query, 5, SearchFilters())
