"""A status needs no model: the CLI's `status` opens the index without loading it."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import make_settings

from agent_brain_mcp.embeddings.local_onnx import LocalOnnxProvider
from agent_brain_mcp.runtime import build_service

pytestmark = pytest.mark.anyio


async def test_a_service_built_without_loading_the_model_answers_status_and_loads_it_for_a_query(
    sample_project: Path, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "state", sample_project, provider="local")
    service = await build_service(settings, load_model=False)
    try:
        embedder = service.embedder
        assert isinstance(embedder, LocalOnnxProvider)
        status = await service.status()
        assert status.embedding_model == embedder.identity.model
        assert not embedder.loaded, "status loaded the model"
        await service.index_path(str(sample_project))
        assert embedder.loaded, "the first text to embed loads it"
    finally:
        await service.close()
