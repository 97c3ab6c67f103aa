"""While searches run, Chroma writes go in calls sized to a time budget (each call holds the GIL and
stalls every search), and slicing loses nothing: every store ends with exactly the indexed chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from stores import chroma_state
from support import generate_modules, make_settings, open_service

from agent_brain_mcp.backends.base import SearchFilters
from agent_brain_mcp.backends.chroma import backend as chroma_backend
from agent_brain_mcp.backends.chroma.slices import FEWEST, MOST

pytestmark = pytest.mark.anyio


async def test_while_searches_run_chroma_writes_start_with_a_small_call_and_slicing_loses_no_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chromadb.api.models.Collection import Collection

    sizes: list[int] = []
    real_upsert = Collection.upsert

    def recording_upsert(self: Any, *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(kwargs["ids"]))
        return real_upsert(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "upsert", recording_upsert)
    monkeypatch.setattr(chroma_backend, "SEARCH_WINDOW_S", 3600.0)  # the search below counts as recent throughout
    project = tmp_path / "project"
    generate_modules(project, 8)
    state = tmp_path / "index"
    async with open_service(make_settings(state, project)) as service:
        await service.backend.keyword_search("handler", 5, SearchFilters())
        await service.index_path(".")
    stored = chroma_state(state)
    assert len(stored["ids"]) > FEWEST  # more than one small call's worth
    assert sizes[0] <= FEWEST and max(sizes) <= MOST, sizes
    assert sum(sizes) == len(stored["ids"]), sizes
