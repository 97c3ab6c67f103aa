"""The service's own rules (roots, absorb, model mismatch, the answer budget, jobs), on the in-memory store.

The store is the test double of tests/memory_backend.py (held to the contract suite), so these run
in milliseconds and fail only when the service's logic does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from memory_backend import MemoryBackend
from support import write_tree

from agent_brain_mcp.config import IndexingSettings
from agent_brain_mcp.embeddings.hashing import HashingProvider
from agent_brain_mcp.errors import IndexBusyError, IndexMismatchError, InvalidInputError, NotIndexedError
from agent_brain_mcp.service import RetrievalService

pytestmark = pytest.mark.anyio

FILES = {
    "app/billing/invoice.py": "def total_due(invoice):\n    return sum(line.amount for line in invoice.lines)\n",
    "app/billing/tax.py": "def vat_rate(country):\n    return 0.2 if country == 'FR' else 0.1\n",
    "app/users/login.py": "def check_password(user, password):\n    return user.hash == hash(password)\n",
    "docs/guide.md": "# Guide\n\nInvoices are totalled by total_due.\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "project", FILES)


@asynccontextmanager
async def service_on(store: Path, project: Path, dimension: int = 64) -> AsyncIterator[RetrievalService]:
    """A service as the lifespan builds it (identity checked), on the in-memory store of ``store``."""
    svc = RetrievalService(MemoryBackend(store), HashingProvider(dimension), IndexingSettings(), project)
    await svc.check_identity()
    try:
        yield svc
    finally:
        await svc.close()


async def test_a_path_inside_an_indexed_root_is_indexed_under_that_root(tmp_path: Path, project: Path) -> None:
    async with service_on(tmp_path / "store", project) as svc:
        first = await svc.index_path(str(project))
        again = await svc.index_path(str(project / "app" / "billing"))
        assert again.root == first.root == project.as_posix()
        assert again.scope == "app/billing" and again.files_unchanged == 2
        assert await svc.backend.roots() == [project.as_posix()]


async def test_indexing_a_parent_absorbs_the_child_root_and_keeps_every_file_searchable(
    tmp_path: Path, project: Path
) -> None:
    async with service_on(tmp_path / "store", project) as svc:
        child = await svc.index_path(str(project / "app"))
        assert child.root == (project / "app").as_posix()
        parent = await svc.index_path(str(project))
        assert await svc.backend.roots() == [project.as_posix()]
        assert parent.total_files == len(FILES)
        hits = (await svc.keyword_search("vat_rate", top_k=3)).hits
        assert hits and hits[0].file_path.endswith("app/billing/tax.py")
        records = await svc.backend.file_records(project.as_posix())
        assert set(records) == set(FILES)  # the child's files now live under the parent's root


async def test_another_model_is_refused_until_a_forced_rebuild(tmp_path: Path, project: Path) -> None:
    async with service_on(tmp_path / "store", project, dimension=64) as svc:
        await svc.index_path(str(project))
    async with service_on(tmp_path / "store", project, dimension=32) as svc:
        with pytest.raises(IndexMismatchError, match="force=true"):
            await svc.search("total due")
        with pytest.raises(IndexMismatchError):
            await svc.index_path(str(project))
        assert not (await svc.status()).ready
        rebuilt = await svc.index_path(str(project), force=True)
        assert rebuilt.files_indexed == len(FILES)
        assert (await svc.search("total due")).hits
        assert (await svc.backend.get_identity()) == svc.embedder.identity


async def test_an_empty_index_says_to_index_first(tmp_path: Path, project: Path) -> None:
    async with service_on(tmp_path / "store", project) as svc:
        with pytest.raises(NotIndexedError, match="index_path"):
            await svc.hybrid_search("total due")


async def test_max_chars_bounds_the_text_an_answer_carries(tmp_path: Path, project: Path) -> None:
    async with service_on(tmp_path / "store", project) as svc:
        await svc.index_path(str(project))
        full = await svc.hybrid_search("invoice total due vat", top_k=5)
        budget = 120
        cut = await svc.hybrid_search("invoice total due vat", top_k=5, max_chars=budget)
        assert sum(len(h.text) for h in full.hits) > budget
        assert cut.truncated and sum(len(h.text) for h in cut.hits) <= budget


async def test_a_background_job_runs_to_done_and_blocks_a_second_run_meanwhile(tmp_path: Path, project: Path) -> None:
    async with service_on(tmp_path / "store", project) as svc:
        started = await svc.index_path(str(project), background=True)
        assert started.status == "started" and started.job_id
        with pytest.raises(IndexBusyError, match="cancel_indexing"):
            await svc.index_path(str(project))
        job = next(j for j in svc._jobs.all() if j.id == started.job_id)
        assert job.task is not None
        await asyncio.wait_for(job.task, 10)
        [snapshot] = svc.jobs()
        assert snapshot.state == "done" and snapshot.files_done == len(FILES)
        with pytest.raises(InvalidInputError, match="no indexing job is running"):
            await svc.cancel_indexing()


class _RecordingEmbedder(HashingProvider):
    """The hashing model, remembering the query texts it was asked to embed."""

    def __init__(self, dimension: int) -> None:
        super().__init__(dimension)
        self.queries: list[str] = []

    async def aembed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return await super().aembed_query(text)


async def test_a_long_query_reaches_the_model_once_as_its_opening_and_the_names_it_holds(
    tmp_path: Path, project: Path
) -> None:
    report = "Invoices are wrong when the tax changes.\n" + "\n".join(
        f'  File "app/billing/invoice.py", line {n}, in total_due' for n in range(400)
    )
    embedder = _RecordingEmbedder(64)
    svc = RetrievalService(MemoryBackend(tmp_path / "store"), embedder, IndexingSettings(), project)
    await svc.check_identity()
    try:
        await svc.index_path(str(project))
        embedder.queries.clear()
        await svc.hybrid_search(report, top_k=3)
        await svc.search("total_due", top_k=3)
    finally:
        await svc.close()
    long_text, short_text = embedder.queries
    assert long_text.startswith("Invoices are wrong when the tax changes.") and "total_due" in long_text
    assert len(long_text) < len(report) and short_text == "total_due"
