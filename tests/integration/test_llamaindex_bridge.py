"""The LlamaIndex bridge on real stores: our retriever in a query engine, LlamaIndex's own
ChromaVectorStore reading our collection, and LlamaIndex Documents indexed next to the code and
found by the MCP tools. Both backends; the bundled model."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from support import make_settings, open_service

from agent_brain_mcp.config import Settings
from agent_brain_mcp.errors import InvalidInputError
from agent_brain_mcp.server import build_server

pytestmark = pytest.mark.anyio

llama_core = pytest.importorskip("llama_index.core")
from llama_index.core import Document, VectorStoreIndex  # noqa: E402
from llama_index.core.llms import MockLLM  # noqa: E402
from llama_index.core.query_engine import RetrieverQueryEngine  # noqa: E402

from agent_brain_mcp.llamaindex import (  # noqa: E402
    AgentBrain,
    AgentBrainEmbedding,
    AgentBrainRetriever,
    chroma_collection,
)


@pytest.fixture(params=["chromadb", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, sample_project: Path) -> Settings:
    extra: dict[str, Any] = {}
    if request.param == "postgresql":
        extra = {"pg_url": request.getfixturevalue("pg_url"), "table": request.getfixturevalue("pg_table")}
    return make_settings(tmp_path / "index", sample_project, "local", backend=request.param, **extra)


def test_a_query_engine_over_our_retriever_answers_from_our_chunks(settings: Settings) -> None:
    with AgentBrain.open(settings=settings) as brain:
        brain.index_path(".")
        ours = brain.service
        retriever = brain.as_retriever(mode="hybrid", top_k=3)
        engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
        response = engine.query("retry_with_backoff")

        top = response.source_nodes[0]
        assert top.node.metadata["file_path"] == "src/payments/retry.py"
        assert top.node.metadata["root"] == settings.project_dir.as_posix()
        assert top.node.metadata["language"] == "python"
        assert top.node.metadata["start_line"] >= 1 and top.node.metadata["end_line"] >= top.node.metadata["start_line"]
        assert top.score is not None and top.score > 0
        assert "def retry_with_backoff" in top.node.get_content()
        # MockLLM echoes its prompt: the chunk text and where it is from reached the LLM.
        assert "def retry_with_backoff" in str(response) and "src/payments/retry.py" in str(response)

        semantic = brain.as_retriever(mode="vector", top_k=2).retrieve("open a pooled database connection")
        assert semantic[0].node.metadata["file_path"] == "src/db/connection.py"
        assert semantic[0].node.metadata["vector_rank"] == 1 and semantic[0].node.metadata["keyword_rank"] is None
        assert ours is brain.service


async def test_the_retriever_works_on_the_services_own_event_loop(settings: Settings) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(settings.project_dir))
        retriever = AgentBrainRetriever(svc, mode="keyword", top_k=2)
        with anyio.fail_after(60):
            engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
            response = await engine.aquery("DatabasePool acquire")
        assert response.source_nodes[0].node.metadata["file_path"] == "src/db/connection.py"
        with pytest.raises(RuntimeError, match="aretrieve"):
            retriever.retrieve("sync use without a portal")  # would deadlock the loop: refused instead


async def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="hybrid, vector, keyword"):
        AgentBrainRetriever(object(), mode="fuzzy")  # type: ignore[arg-type]


def test_llamaindex_chroma_vector_store_reads_our_collection(tmp_path: Path, sample_project: Path) -> None:
    from llama_index.vector_stores.chroma import ChromaVectorStore

    settings = make_settings(tmp_path / "index", sample_project, "local")
    with AgentBrain.open(settings=settings) as brain:
        brain.index_path(".")
        ours = brain.as_retriever(mode="vector", top_k=3).retrieve("DatabasePool acquire")
        embed_model = brain.embed_model()

        store = ChromaVectorStore(chroma_collection=chroma_collection(brain.settings))
        index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
        theirs = index.as_retriever(similarity_top_k=3).retrieve("DatabasePool acquire")

    assert isinstance(embed_model, AgentBrainEmbedding)
    assert [n.node.get_content() for n in theirs] == [n.node.get_content() for n in ours]
    top = theirs[0].node.metadata
    assert top["rel_path"] == "src/db/connection.py" and top["root"] == sample_project.as_posix()
    assert top["language"] == "python" and top["start_line"] >= 1
    # ChromaVectorStore reports exp(-cosine distance), not the cosine similarity our tools give.
    assert abs((theirs[0].score or 0) - math.exp((ours[0].score or 0) - 1)) < 1e-3


async def test_documents_are_searchable_by_the_mcp_tools_and_removable_by_their_root(settings: Settings) -> None:
    handbook = [
        Document(id_="onboarding.md", text="# Onboarding\n\nEvery new hire gets a yubikey on day one.\n"),
        Document(id_="https://wiki/expenses", text="Expense reports are due by the fifth of each month."),
        Document(id_="blank", text="   \n"),
    ]
    with AgentBrain.open(settings=settings) as brain:
        brain.index_path(".")
        added = brain.add_documents("handbook", handbook)
        again = brain.add_documents("handbook", handbook[:2])
        code_roots = [r.root for r in brain.status().roots]

    assert added.root == "llamaindex://handbook"
    assert (added.files_indexed, added.files_skipped, added.total_files) == (2, 1, 2)
    assert (again.files_indexed, again.files_unchanged, again.chunks_written) == (0, 2, 0)
    assert sorted(code_roots) == sorted([settings.project_dir.as_posix(), "llamaindex://handbook"])

    async with Client(build_server(settings)) as client:
        with anyio.fail_after(60):
            found = await client.call_tool("hybrid_search", {"query": "yubikey", "top_k": 3})
        assert not found.is_error, found.content
        hit = found.structured_content["hits"][0]
        assert (hit["root"], hit["file_path"], hit["language"]) == (
            "llamaindex://handbook",
            "onboarding.md",
            "markdown",
        )
        assert hit["symbol"] == "Onboarding" and "yubikey" in hit["text"]
        only_docs = await client.call_tool("search", {"query": "expenses", "path_prefix": "llamaindex://handbook/"})
        assert {h["root"] for h in only_docs.structured_content["hits"]} == {"llamaindex://handbook"}
        # The code's own run leaves the documents alone (and the other way round).
        rerun = await client.call_tool("index_path", {"path": "."})
        assert rerun.structured_content["files_unchanged"] == 8 and rerun.structured_content["files_removed"] == 0

    with AgentBrain.open(settings=settings) as brain:
        removed = brain.remove_documents("handbook")
        left = brain.as_retriever(mode="keyword", top_k=5).retrieve("yubikey expense reports")
        roots = [r.root for r in brain.status().roots]
    assert removed > 0
    assert all(n.node.metadata["root"] != "llamaindex://handbook" for n in left)
    assert roots == [settings.project_dir.as_posix()]


async def test_a_bad_collection_name_or_document_id_is_a_clear_error(tmp_path: Path, sample_project: Path) -> None:
    from agent_brain_mcp.llamaindex import add_documents

    async with open_service(make_settings(tmp_path / "index", sample_project)) as svc:
        with pytest.raises(InvalidInputError, match="letters, digits"):
            await add_documents(svc, "../etc", [Document(text="x")])
        with pytest.raises(InvalidInputError, match="id_"):
            await add_documents(svc, "notes", [Document(id_="", text="x")])


async def test_documents_are_refused_by_an_index_built_with_another_model(tmp_path: Path, sample_project: Path) -> None:
    from agent_brain_mcp.errors import IndexMismatchError
    from agent_brain_mcp.llamaindex import add_documents

    built = make_settings(tmp_path / "index", sample_project, embedding={"dimension": 64})
    async with open_service(built) as svc:
        await add_documents(svc, "notes", [Document(id_="a", text="first note")])
    other = make_settings(tmp_path / "index", sample_project, embedding={"dimension": 32})
    async with open_service(other) as svc:
        with pytest.raises(IndexMismatchError, match="was built with"):
            await add_documents(svc, "notes", [Document(id_="b", text="second note")])
        assert [s.files for s in await svc.backend.stats()] == [1]  # nothing of 'b' was written
