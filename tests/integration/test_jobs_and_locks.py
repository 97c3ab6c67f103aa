"""Background indexing jobs, cancellation, and the one-writer-per-index rule, on both backends
(hash embedder), plus the same features over MCP in-process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from support import job_when, make_settings, open_service, tool_job_when, write_tree

from agent_brain_mcp import service as service_module
from agent_brain_mcp.config import Settings
from agent_brain_mcp.errors import IndexBusyError
from agent_brain_mcp.indexing.progress import IndexProgress
from agent_brain_mcp.jobs import Job
from agent_brain_mcp.server import build_server
from agent_brain_mcp.service import RetrievalService

pytestmark = pytest.mark.anyio

BACKENDS = ["chromadb", "postgresql"]
BIG_FILES = 800


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def big_project(tmp_path: Path) -> Path:
    """Enough small files (one chunk each) that a run with tiny batches takes a while."""
    files = {
        f"pkg{i // 100}/mod_{i}.py": f'def function_{i}(x):\n    """Return x plus {i}."""\n    return x + {i}\n'
        for i in range(BIG_FILES)
    }
    return write_tree(tmp_path / "big", files)


@pytest.fixture
def make(backend_name: str, tmp_path: Path, big_project: Path, request: pytest.FixtureRequest) -> Any:
    """Settings for a private index on the backend under test; ``name`` gives a second, separate index."""

    def build(name: str = "index", project: Path | None = None, **sections: Any) -> Settings:
        extra: dict[str, Any] = {}
        if backend_name == "postgresql":
            table = request.getfixturevalue("pg_table") if name == "index" else f"t_{uuid.uuid4().hex[:12]}"
            extra = {"pg_url": request.getfixturevalue("pg_url"), "table": table}
        sections.setdefault("embedding", {"batch_size": 2})
        return make_settings(tmp_path / name, project or big_project, "hash", backend=backend_name, **extra, **sections)

    return build


async def _manifest(svc: RetrievalService, root: str) -> dict[str, tuple[str, int]]:
    return {k: (r.sha256, r.chunk_count) for k, r in (await svc.backend.file_records(root)).items()}


async def test_a_background_job_completes_and_status_shows_it(make: Any, big_project: Path) -> None:
    async with open_service(make()) as svc:
        started = await svc.index_path(".", background=True)
        assert started.status == "started" and started.job_id and started.files_indexed == 0
        assert started.root == big_project.as_posix() and started.job_id in started.summary
        job = await job_when(svc, started.job_id)
        status = await svc.status()
    assert job.state == "done", job.error
    assert status.jobs[0].id == started.job_id and status.jobs[0].state == "done"
    assert status.jobs[0].result is not None and status.jobs[0].result.files_indexed == BIG_FILES
    assert status.jobs[0].files_done == status.jobs[0].files_total == BIG_FILES
    assert status.jobs[0].chunks == status.chunks == BIG_FILES and status.files == BIG_FILES
    assert status.jobs[0].finished is not None and status.jobs[0].rate


async def test_a_job_cancelled_while_vectors_fill_in_leaves_every_file_searchable_and_a_later_run_completes(
    make: Any, big_project: Path
) -> None:
    root = big_project.as_posix()
    async with open_service(make()) as svc:
        started = await svc.index_path(".", background=True)
        assert started.job_id
        await job_when(svc, started.job_id, lambda j: j.chunks > 0)  # some vectors are in: phase 2
        cancelled = await svc.cancel_indexing()
        assert cancelled.id == started.job_id and cancelled.state == "cancelled"
        assert cancelled.finished is not None and cancelled.eta_seconds is None

        partial = await _manifest(svc, root)
        status = await svc.status()
        assert 0 < status.vectors_pending < status.chunks, "the cancel should land while vectors fill in"
        assert status.chunks == sum(c for _, c in partial.values()) == len(partial) and 0 < status.vector_coverage < 1
        hits = await svc.hybrid_search("function_1 return x plus", top_k=5)
        assert {h.file_path for h in hits.hits} <= set(partial) and hits.vector_coverage == status.vector_coverage
        with pytest.raises(Exception, match="no indexing job is running"):
            await svc.cancel_indexing()

        finished = await svc.index_path(".")
        assert finished.files_unchanged == len(partial) and finished.files_indexed == BIG_FILES - len(partial)
        assert finished.files_removed == 0 and finished.vectors_pending == 0
        resumed = await _manifest(svc, root)
        after = await svc.status()
        assert after.vectors_pending == 0 and after.vector_coverage == 1.0

    async with open_service(make("clean")) as clean:
        await clean.index_path(".")
        assert await _manifest(clean, root) == resumed
        assert (await clean.status()).chunks == after.chunks == BIG_FILES


async def test_a_second_writer_in_the_same_process_is_told_the_job_id(make: Any) -> None:
    async with open_service(make()) as svc:
        started = await svc.index_path(".", background=True)
        assert started.job_id
        for background in (False, True):
            with pytest.raises(IndexBusyError, match=started.job_id) as err:
                await svc.index_path(".", background=background)
            assert "cancel_indexing" in str(err.value)
        await svc.cancel_indexing(started.job_id)


async def test_search_works_while_a_background_job_runs(make: Any) -> None:
    async with open_service(make()) as svc:
        started = await svc.index_path(".", background=True)
        assert started.job_id
        await job_when(svc, started.job_id, lambda j: j.chunks > 0)
        running_during_search = svc.jobs()[0].state == "running"
        hits = await asyncio.wait_for(svc.hybrid_search("function_3 return x plus 3", top_k=3), 10)
        vector = await asyncio.wait_for(svc.search("return x plus", top_k=3), 10)
        assert hits.hits and vector.hits
        assert running_during_search, "the job finished before the search: make the run longer"
        await svc.cancel_indexing()


@pytest.fixture
def lock_holder(backend_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Starts a separate process that holds this test's writer lock until the fixture ends."""
    procs: list[subprocess.Popen[str]] = []

    def start(settings: Settings) -> None:
        if backend_name == "chromadb":
            code = (
                "import sys; from pathlib import Path\n"
                "from agent_brain_mcp.backends.chroma.backend import try_index_lock\n"
                "fd = try_index_lock(Path(sys.argv[1]))\n"
                "print('locked' if fd is not None else 'busy', flush=True)\n"
                "sys.stdin.read()\n"
            )
            args = [str(settings.resolve(settings.storage.chromadb.persist_dir))]
        else:
            code = (
                "import asyncio, sys\n"
                "import asyncpg\n"
                "from agent_brain_mcp.backends.postgres.lock import writer_lock_key\n"
                "async def main():\n"
                "    conn = await asyncpg.connect(sys.argv[1])\n"
                "    await conn.execute('SELECT pg_advisory_lock(hashtext($1))', writer_lock_key(sys.argv[2]))\n"
                "    print('locked', flush=True)\n"
                "    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)\n"
                "    await conn.close()\n"
                "asyncio.run(main())\n"
            )
            url = request.getfixturevalue("pg_url").replace("postgresql+asyncpg://", "postgresql://", 1)
            args = [url, settings.storage.postgresql.table]
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"

    def release() -> None:
        for proc in procs:
            if proc.stdin and not proc.stdin.closed:
                proc.stdin.close()
            proc.wait(timeout=30)

    yield start, release
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_another_process_holding_the_index_makes_indexing_wait_then_fail_clearly(
    make: Any, lock_holder: Any, monkeypatch: pytest.MonkeyPatch, backend_name: str
) -> None:
    start, release = lock_holder
    settings = make()
    monkeypatch.setattr(service_module, "WRITER_LOCK_TIMEOUT_S", 1.0)
    async with open_service(settings) as svc:
        start(settings)
        began = time.monotonic()
        with pytest.raises(IndexBusyError, match="Another process is indexing") as err:
            await svc.index_path(".")
        waited = time.monotonic() - began
        assert 1.0 <= waited < 10.0
        assert "waited 1s" in str(err.value)
        assert (await svc.status()).files == 0  # nothing was written

        # a background job fails the same way, and says so in index_status
        started = await svc.index_path(".", background=True)
        assert started.job_id
        job = await job_when(svc, started.job_id)
        assert job.state == "failed" and job.error and "Another process is indexing" in job.error

        release()
        done = await svc.index_path(".")
        assert done.files_indexed == BIG_FILES


async def test_the_watcher_waits_out_another_processs_run_then_indexes_the_change(
    make: Any, lock_holder: Any, tmp_path: Path
) -> None:
    from support import eventually

    start, release = lock_holder
    project = write_tree(tmp_path / "small", {"a.py": "def alpha():\n    return 1\n"})
    settings = make(project=project)
    async with open_service(settings) as svc:
        await svc.index_path(str(project))
        svc.start_watching()
        assert svc.watcher is not None
        await eventually(lambda: _watching(svc), 10)
        start(settings)
        (project / "b.py").write_text("def beta_while_locked():\n    return 2\n")
        status = await eventually(lambda: _pending(svc), 10)  # seen, but kept out by the other process
        assert status.files == 1 and status.watch is not None and status.watch.pending_changes >= 1
        release()
        await eventually(lambda: _indexed(svc, 2), 20)


async def _watching(svc: RetrievalService) -> bool:
    return svc.watcher is not None and svc.watcher.watching


async def _pending(svc: RetrievalService) -> Any:
    status = await svc.status()
    return status if status.watch is not None and status.watch.pending_changes > 0 else None


async def _indexed(svc: RetrievalService, files: int) -> bool:
    status = await svc.status()
    return status.files == files and status.watch is not None and status.watch.pending_changes == 0


async def test_the_writer_lock_excludes_a_second_service_on_the_same_index(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two services (as two server processes would) on one index: the second waits, then fails."""
    monkeypatch.setattr(service_module, "WRITER_LOCK_TIMEOUT_S", 0.5)
    settings = make()
    async with open_service(settings) as first, open_service(settings) as second:
        async with first.backend.writer_lock(5.0):
            with pytest.raises(IndexBusyError):
                await second.index_path(".")
        assert (await second.index_path(".")).files_indexed == BIG_FILES


def test_job_progress_computes_rate_and_eta_from_the_pipelines_typed_events() -> None:
    job = Job(path=".")

    async def feed() -> None:
        await job.progress(IndexProgress("walk", 0, 100))
        await job.progress(IndexProgress("keywords", 25, 100, chunks_keyword_indexed=300, chunks_embedded=40))

    asyncio.run(feed())
    snap = job.snapshot()
    assert (snap.files_done, snap.files_total, snap.chunks, snap.state) == (25, 100, 40, "running")
    assert (snap.phase, snap.chunks_keyword_indexed) == ("keywords", 300)
    assert snap.eta_seconds is not None and snap.eta_seconds >= 0 and snap.rate is not None
    asyncio.run(job.progress(IndexProgress("vectors", 100, 100, 1000, chunks_embedded=400, vectors_pending=600)))
    snap = job.snapshot()
    assert (snap.phase, snap.vectors_pending) == ("vectors", 600)
    assert snap.rate and snap.eta_seconds == round(600 / snap.rate, 1)  # the vectors left set the ETA
    job.cancel_requested = True
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(job.progress(IndexProgress("vectors", 100, 100, 1000, chunks_embedded=464)))


# -- over MCP -------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend_name", ["chromadb"])
async def test_background_jobs_and_cancel_over_mcp(make: Any, backend_name: str) -> None:
    async with Client(build_server(make())) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "cancel_indexing" in tools and tools["cancel_indexing"].output_schema
        assert "background" in tools["index_path"].input_schema["properties"]

        started = await client.call_tool("index_path", {"path": ".", "background": True})
        assert not started.is_error, started.content
        job_id = started.structured_content["job_id"]
        assert started.structured_content["status"] == "started" and job_id

        busy = await client.call_tool("index_path", {"path": "."})
        assert busy.is_error and job_id in busy.content[0].text

        status = await client.call_tool("index_status", {})
        assert status.structured_content["jobs"][0]["id"] == job_id

        cancelled = await client.call_tool("cancel_indexing", {"job_id": job_id})
        assert not cancelled.is_error, cancelled.content
        assert cancelled.structured_content["id"] == job_id
        assert cancelled.structured_content["state"] in ("cancelled", "done")

        again = await client.call_tool("index_path", {"path": ".", "background": True})
        second = again.structured_content["job_id"]
        await tool_job_when(client, second)
        jobs = (await client.call_tool("index_status", {})).structured_content["jobs"]
        assert [j["id"] for j in jobs] == [second, job_id]
        assert jobs[0]["state"] == "done" and jobs[0]["result"]["total_files"] == BIG_FILES

        nothing = await client.call_tool("cancel_indexing", {})
        assert nothing.is_error and "no indexing job is running" in nothing.content[0].text
        hits = await client.call_tool("hybrid_search", {"query": "function_7", "top_k": 1})
        assert not hits.is_error and hits.structured_content["hits"]
