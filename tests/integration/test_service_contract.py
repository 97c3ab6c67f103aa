"""The contract every backend keeps: the retrieval service end to end below MCP, on a real embedded
Chroma (with its BM25 sidecar) and on a real PostgreSQL + pgvector server.

Most tests use the deterministic hashing embedder so they are fast and exact about what was
embedded; the semantic tests use the real bundled model.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import memory_backend
import pytest
from support import eventually, job_when, make_settings, open_service

from agent_brain_mcp.config import Settings
from agent_brain_mcp.embeddings.hashing import HashingProvider
from agent_brain_mcp.errors import EmbeddingError, IndexMismatchError, InvalidInputError, NotIndexedError

pytestmark = pytest.mark.anyio


class CountingEmbedder(HashingProvider):
    """The real hashing embedder, counting what it is asked to embed."""

    def __init__(self, dimension: int = 256) -> None:
        super().__init__(dimension)
        self.embedded: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return super().embed_documents(texts)


# "memory": the test double of tests/memory_backend.py, held to the same contract as the real two.
BACKENDS = ["chromadb", "postgresql", "memory"]


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make(
    backend_name: str,
    tmp_path: Path,
    sample_project: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """Settings for this test's private index on the backend under test; keyword args override."""
    if backend_name == "memory":
        memory_backend.install(monkeypatch)

    def build(provider: str = "hash", state_dir: Path | None = None, **sections: Any) -> Settings:
        extra: dict[str, Any] = {}
        if backend_name == "postgresql":
            extra = {"pg_url": request.getfixturevalue("pg_url"), "table": request.getfixturevalue("pg_table")}
        backend = "chromadb" if backend_name == "memory" else backend_name
        return make_settings(
            state_dir or tmp_path / "index", sample_project, provider, backend=backend, **extra, **sections
        )

    return build


@pytest.fixture
def settings(make: Any) -> Settings:
    return make()


def _files(hits: Sequence[object]) -> list[str]:
    return [h.file_path for h in hits]  # type: ignore[attr-defined]


async def test_indexing_reports_what_it_indexed_and_what_it_skipped(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        result = await svc.index_path(str(sample_project))
    assert result.root == sample_project.as_posix()
    assert result.files_indexed == 8  # 4 code files, 2 markdown, legacy.txt, .gitignore
    assert result.skipped_by_reason == {"binary": 2}
    assert {s.path for s in result.skipped} == {"logo.png", "notes.txt"}
    assert result.total_files == 8 and result.total_chunks == result.chunks_written > 0


async def test_ignored_and_excluded_files_are_never_searchable(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        for query in ("hunter2 password", "left-pad module.exports", "x = 1"):
            hits = (await svc.hybrid_search(query, top_k=50)).hits
            assert not {"secret.txt", "generated/big.py", "node_modules/left-pad/index.js"} & set(_files(hits))


async def test_hybrid_search_finds_an_exact_identifier_on_the_keyword_side(
    settings: Settings, sample_project: Path
) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        result = await svc.hybrid_search("makeSlugFromTitle", top_k=3)
    top = result.hits[0]
    assert top.file_path == "src/text/slug.py"
    assert top.keyword_rank == 1
    assert top.start_line == 1 and top.end_line == 6
    assert "def makeSlugFromTitle" in top.text


async def test_keyword_side_matches_parts_of_camel_and_snake_case_names(
    settings: Settings, sample_project: Path
) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        camel = await svc.keyword_search("slug from title", top_k=1)
        snake = await svc.keyword_search("backoff retry", top_k=1)
    assert _files(camel.hits) == ["src/text/slug.py"]
    assert _files(snake.hits) == ["src/payments/retry.py"]


async def test_reindexing_an_unchanged_tree_embeds_nothing(settings: Settings, sample_project: Path) -> None:
    embedder = CountingEmbedder()
    async with open_service(settings, embedder) as svc:
        first = await svc.index_path(str(sample_project))
        embedded_first = len(embedder.embedded)
        # A touched file with the same bytes is recognised by its hash.
        os.utime(sample_project / "README.md", ns=(1, 1))
        second = await svc.index_path(str(sample_project))
    assert embedded_first == first.chunks_written > 0
    assert len(embedder.embedded) == embedded_first
    assert second.files_indexed == 0 and second.chunks_written == 0
    assert second.files_unchanged == first.files_indexed
    assert second.total_chunks == first.total_chunks


async def test_a_changed_file_replaces_its_old_chunks(settings: Settings, sample_project: Path) -> None:
    embedder = CountingEmbedder()
    async with open_service(settings, embedder) as svc:
        await svc.index_path(str(sample_project))
        embedder.embedded.clear()
        (sample_project / "src/text/slug.py").write_text("def turnTitleIntoKebab(t):\n    return t\n")
        result = await svc.index_path(str(sample_project))
        old = await svc.keyword_search("makeSlugFromTitle", top_k=5)
        new = await svc.hybrid_search("turnTitleIntoKebab", top_k=1)
        vec = await svc.search("turnTitleIntoKebab", top_k=1)
    assert result.files_indexed == 1 and result.files_unchanged == 7
    assert len(embedder.embedded) == 1 and embedder.embedded[0].startswith("src/text/slug.py")
    assert not any("makeSlugFromTitle" in h.text for h in old.hits)
    assert new.hits[0].file_path == "src/text/slug.py" and "turnTitleIntoKebab" in new.hits[0].text
    # Chroma ignores re-added ids; the vector side must show the new text, not the old one.
    assert "turnTitleIntoKebab" in vec.hits[0].text


async def test_an_edited_file_counts_its_old_chunks_as_replaced_not_removed(
    settings: Settings, sample_project: Path
) -> None:
    async with open_service(settings) as svc:
        first = await svc.index_path(str(sample_project))
        before = (await svc.backend.file_records(first.root))["docs/guide.md"].chunk_count
        (sample_project / "docs/guide.md").write_text("# Guide\n\nOne short section now.\n", encoding="utf-8")
        result = await svc.index_path(str(sample_project))
    assert before >= 1
    assert (result.files_indexed, result.chunks_written, result.chunks_replaced) == (1, 1, before)
    assert result.chunks_removed == 0 and result.files_removed == 0
    assert result.total_chunks == first.total_chunks - before + 1


async def test_a_deleted_file_disappears_from_both_rankings(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        (sample_project / "web/cart.ts").unlink()
        result = await svc.index_path(str(sample_project))
        hits = (await svc.hybrid_search("computeCartTotal shopping cart", top_k=50)).hits
        status = await svc.status()
    assert result.files_removed == 1 and result.chunks_removed >= 1
    assert "web/cart.ts" not in _files(hits)
    assert status.files == 7


async def test_a_newly_gitignored_file_is_removed_like_a_deleted_one(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        with (sample_project / ".gitignore").open("a", encoding="utf-8") as fh:
            fh.write("*.ts\n")
        result = await svc.index_path(str(sample_project))
    assert result.files_removed == 1 and result.total_files == 7


async def test_a_calls_own_globs_narrow_the_run_without_removing_anything(
    settings: Settings, sample_project: Path
) -> None:
    async with open_service(settings) as svc:
        only_py = await svc.index_path(str(sample_project), include=["*.py"])
        assert (only_py.files_indexed, only_py.total_files) == (3, 3)
        everything = await svc.index_path(str(sample_project))
        assert everything.files_unchanged == 3 and everything.files_indexed == 5
        (sample_project / "src/db/connection.py").unlink()
        no_docs = await svc.index_path(str(sample_project), exclude=["*.md", "docs/"])
    assert no_docs.files_removed == 1  # the deleted .py file, not the excluded docs
    assert no_docs.total_files == 7


async def test_force_reembeds_every_file(settings: Settings, sample_project: Path) -> None:
    embedder = CountingEmbedder()
    async with open_service(settings, embedder) as svc:
        first = await svc.index_path(str(sample_project))
        again = await svc.index_path(str(sample_project), force=True)
    assert again.files_indexed == first.files_indexed and again.chunks_written == first.chunks_written
    assert again.total_chunks == first.total_chunks  # replaced, not duplicated


async def test_path_prefix_and_language_filter_both_rankings(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        for mode in (svc.search, svc.hybrid_search):
            in_src = await mode("function", top_k=50, path_prefix="src/")
            assert in_src.hits and all(h.file_path.startswith("src/") for h in in_src.hits)
            absolute = await mode("function", top_k=50, path_prefix=str(sample_project / "src/db"))
            assert _files(absolute.hits) and set(_files(absolute.hits)) == {"src/db/connection.py"}
            md = await mode("install", top_k=50, language="markdown")
            assert md.hits and {h.language for h in md.hits} == {"markdown"}
            # LIKE wildcards and quotes in a prefix are literal characters.
            for weird in ("%", "_", "src/%", "x' OR '1'='1"):
                assert (await mode("function", top_k=50, path_prefix=weird)).hits == []


async def test_markdown_hits_carry_their_heading_trail(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        hits = (await svc.keyword_search("stale index skipped", top_k=1)).hits
    assert hits[0].file_path == "docs/guide.md"
    assert hits[0].symbol is not None and hits[0].symbol.startswith("Guide")


async def test_searching_before_indexing_says_to_index_first(settings: Settings) -> None:
    async with open_service(settings) as svc:
        with pytest.raises(NotIndexedError, match="index_path"):
            await svc.search("anything")


async def test_bad_arguments_are_input_errors(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        with pytest.raises(InvalidInputError, match="does not exist"):
            await svc.index_path(str(sample_project / "nope"))
        with pytest.raises(InvalidInputError):
            await svc.index_path("   ")
        await svc.index_path(str(sample_project))
        with pytest.raises(InvalidInputError, match="empty"):
            await svc.search("  ")
        with pytest.raises(InvalidInputError, match="top_k"):
            await svc.search("x", top_k=0)
        with pytest.raises(InvalidInputError, match="alpha"):
            await svc.hybrid_search("x", alpha=1.5)
        with pytest.raises(InvalidInputError, match="glob"):
            await svc.index_path(str(sample_project), include=[""])


async def test_an_empty_folder_indexes_to_zero_counts(settings: Settings, sample_project: Path) -> None:
    empty = sample_project / "empty"
    empty.mkdir()
    async with open_service(settings) as svc:
        result = await svc.index_path(str(empty))
    assert (result.files_indexed, result.total_files, result.total_chunks) == (0, 0, 0)
    assert "Nothing searchable" in result.summary
    assert [note for note in result.notes if "Nothing searchable" in note], "a typed note, not just a sentence"


async def test_a_single_file_then_its_folder_share_one_root(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        single = await svc.index_path(str(sample_project / "README.md"))
        assert (single.files_indexed, single.total_files) == (1, 1)
        folder = await svc.index_path(str(sample_project))
        status = await svc.status()
    assert single.root == folder.root == sample_project.as_posix()
    assert folder.files_unchanged == 1 and folder.files_indexed == 7
    assert [r.root for r in status.roots] == [sample_project.as_posix()] and status.files == 8


async def test_a_subfolder_run_leaves_the_rest_of_the_root_alone(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        shutil.rmtree(sample_project / "web")
        sub = await svc.index_path(str(sample_project / "src"))
        status = await svc.status()
    assert sub.scope == "src" and sub.files_removed == 0 and sub.files_unchanged == 3
    assert status.files == 8  # web/cart.ts is only dropped by a run that covers web/


async def test_indexing_a_parent_folder_absorbs_an_inner_root(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project / "src"))
        await svc.index_path(str(sample_project))
        status = await svc.status()
        hits = (await svc.keyword_search("retry_with_backoff", top_k=10)).hits
    assert [r.root for r in status.roots] == [sample_project.as_posix()]
    assert _files(hits).count("src/payments/retry.py") == len(hits) >= 1
    assert len({(h.root, h.file_path, h.start_line) for h in hits}) == len(hits)


async def test_the_index_survives_a_restart(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
    async with open_service(settings) as svc:
        hybrid = await svc.hybrid_search("DatabasePool acquire", top_k=1)
        again = await svc.index_path(str(sample_project))
    assert hybrid.hits[0].file_path == "src/db/connection.py"
    assert again.files_indexed == 0


@pytest.mark.parametrize("backend_name", ["chromadb"])
async def test_a_corrupted_keyword_index_is_rebuilt(settings: Settings, sample_project: Path, tmp_path: Path) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
    snapshot = tmp_path / "index" / "keyword" / "snapshot.npz"
    assert snapshot.is_file()
    snapshot.write_bytes(b"{not a snapshot" * 10)
    async with open_service(settings) as svc:
        hits = (await svc.keyword_search("DatabasePool", top_k=1)).hits
    assert _files(hits) == ["src/db/connection.py"]
    shutil.rmtree(snapshot.parent)  # gone entirely: rebuilt too
    async with open_service(settings) as svc:
        hits = (await svc.keyword_search("DatabasePool", top_k=1)).hits
    assert _files(hits) == ["src/db/connection.py"] and snapshot.is_file()


async def test_opening_an_index_with_another_model_is_refused_until_rebuilt(
    settings: Settings, sample_project: Path, make: Any
) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
    other = make(embedding={"dimension": 128})
    async with open_service(other) as svc:
        with pytest.raises(IndexMismatchError, match=r"hash:feature-hash-v1 \(256 dims\).*force=true"):
            await svc.search("retry")
        with pytest.raises(IndexMismatchError):
            await svc.index_path(str(sample_project))
        status = await svc.status()
        assert status.ready is False and "256 dims" in (status.problem or "")
        rebuilt = await svc.index_path(str(sample_project), force=True)
        hits = (await svc.hybrid_search("retry_with_backoff", top_k=1)).hits
        status = await svc.status()
    assert rebuilt.files_indexed == 8
    assert hits[0].file_path == "src/payments/retry.py"
    assert status.ready and status.index_embedding == "hash:feature-hash-v1 (128 dims)"


async def test_non_utf8_text_is_indexed_not_dropped(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        hits = (await svc.keyword_search("legacy menu", top_k=1)).hits
    assert hits[0].file_path == "legacy.txt"
    assert hits[0].text.startswith("Café crème") and "\r" not in hits[0].text
    assert (hits[0].start_line, hits[0].end_line) == (1, 2)


async def test_the_real_model_finds_code_by_meaning(make: Any, sample_project: Path) -> None:
    settings = make(provider="local")
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        retry = await svc.search("sleep longer after each failed attempt", top_k=3)
        pool = await svc.search("share database connections between handlers", top_k=3)
        cart = await svc.hybrid_search("sum of prices in the shopping basket", top_k=3)
        status = await svc.status()
    assert retry.hits[0].file_path == "src/payments/retry.py"
    assert pool.hits[0].file_path == "src/db/connection.py"
    assert cart.hits[0].file_path == "web/cart.ts"
    assert status.embedding_model == "all-MiniLM-L6-v2" and status.embedding_dimension == 384
    assert 0.2 < retry.hits[0].score <= 1.0


@pytest.mark.parametrize("backend_name", ["chromadb"])
async def test_an_index_folder_inside_the_project_is_never_indexed(make: Any, sample_project: Path) -> None:
    settings = make(state_dir=sample_project / "my-index")
    async with open_service(settings) as svc:
        first = await svc.index_path(str(sample_project))
        second = await svc.index_path(str(sample_project))
    assert first.files_indexed == 8
    assert second.files_indexed == 0 and second.total_files == 8


async def test_neighbouring_chunks_of_one_file_come_back_as_one_hit(settings: Settings, sample_project: Path) -> None:
    lines = [f"# ledger entry {n}: reconcile the quarterly ledger totals" for n in range(1, 121)]
    (sample_project / "ledger.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        for mode in (svc.search, svc.hybrid_search, svc.keyword_search):
            result = await mode("reconcile quarterly ledger totals", top_k=5)
            ledger = [h for h in result.hits if h.file_path == "ledger.py"]
            assert len(ledger) == 1, mode
            assert (ledger[0].start_line, ledger[0].end_line) == (1, 120)
            assert ledger[0].text.split("\n") == lines


async def test_max_chars_caps_the_text_of_the_whole_answer(settings: Settings, sample_project: Path) -> None:
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        full = await svc.hybrid_search("function connection pool retry", top_k=5)
        capped = await svc.hybrid_search("function connection pool retry", top_k=5, max_chars=300)
    assert sum(len(h.text) for h in full.hits) > 300 and not full.truncated
    assert capped.truncated and 0 < sum(len(h.text) for h in capped.hits) <= 300
    assert [h.file_path for h in capped.hits] == [h.file_path for h in full.hits][: len(capped.hits)]


async def test_a_root_indexed_by_an_older_pipeline_is_reindexed_once(settings: Settings, sample_project: Path) -> None:
    embedder = CountingEmbedder()
    async with open_service(settings, embedder) as svc:
        first = await svc.index_path(str(sample_project))
        await svc.backend.set_pipeline_version(first.root, "0")
        upgraded = await svc.index_path(str(sample_project))
        settled = await svc.index_path(str(sample_project))
    assert upgraded.files_indexed == first.files_indexed and "re-indexed" in upgraded.summary
    assert [note for note in upgraded.notes if "re-indexed" in note] and first.notes == []
    assert upgraded.total_chunks == first.total_chunks
    assert settled.files_indexed == 0
    # Re-chunked, but a chunk whose text came out the same keeps its vector: nothing is embedded twice.
    assert upgraded.chunks_written == first.chunks_written and upgraded.chunks_embedded == 0
    assert len(embedder.embedded) == first.chunks_written


async def test_paths_outside_the_allowed_roots_are_refused(
    settings: Settings, sample_project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("API_TOKEN = 'x'\n", encoding="utf-8")
    (sample_project / "escape").symlink_to(outside, target_is_directory=True)
    async with open_service(settings) as svc:
        for path in (str(outside), str(sample_project / ".." / "outside"), str(sample_project / "escape"), "/etc"):
            with pytest.raises(InvalidInputError, match=r"security\.allowed_roots"):
                await svc.index_path(path)
        await svc.index_path(str(sample_project))
        hits = (await svc.keyword_search("API_TOKEN", top_k=10)).hits
    assert hits == []  # the symlink that leaves the root is not followed either


async def test_allowed_roots_in_the_config_open_more_folders(make: Any, tmp_path: Path) -> None:
    extra = tmp_path / "shared-docs"
    extra.mkdir()
    (extra / "notes.md").write_text("# Runbook\n\nRestart the ingestion worker nightly.\n", encoding="utf-8")
    settings = make(security={"allowed_roots": [str(extra)]})
    async with open_service(settings) as svc:
        result = await svc.index_path(str(extra))
        hits = (await svc.keyword_search("ingestion worker", top_k=1)).hits
    assert result.files_indexed == 1 and hits[0].root == extra.as_posix()


class FailingEmbedder(HashingProvider):
    """The real hashing embedder that breaks on its 40th batch, like a model server going away."""

    def __init__(self) -> None:
        super().__init__(256, batch_size=2)
        self.batches = 0

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        self.batches += 1
        if self.batches == 40 and not is_query:
            raise RuntimeError("connection reset by the embedding server")
        return super()._embed(texts, is_query=is_query)


async def test_an_embedding_failure_mid_run_is_reported_and_leaves_every_file_searchable_by_keyword(
    settings: Settings, sample_project: Path
) -> None:
    import anyio

    many = sample_project / "many"
    many.mkdir()
    for n in range(300):  # more files than the reader queue holds, so the reader is blocked on it
        (many / f"m{n:03}.py").write_text(f"def handler_{n}():\n    return {n}\n", encoding="utf-8")
    async with open_service(settings, FailingEmbedder()) as svc:
        with anyio.fail_after(60), pytest.raises(EmbeddingError, match="connection reset"):
            await svc.index_path(str(sample_project))
        status = await svc.status()
        found = await svc.hybrid_search("handler_299", top_k=3)
    # Keyword first: every file was written before the model was asked, and its vectors are pending.
    assert status.files == 308 and 0 < status.vectors_pending < status.chunks
    assert status.vector_coverage == found.vector_coverage < 1.0
    assert found.hits[0].file_path == "many/m299.py"
    # The next run fills in what the failed one left, without re-reading a file.
    async with open_service(settings, CountingEmbedder()) as svc:
        again = await svc.index_path(str(sample_project))
        status = await svc.status()
        semantic = await svc.search("handler_299", top_k=1)
    assert again.files_indexed == 0 and again.chunks_embedded > 0
    assert status.vectors_pending == 0 and status.vector_coverage == 1.0 == semantic.vector_coverage


class GatedEmbedder(HashingProvider):
    """The hashing embedder whose document batches wait until ``gate`` opens (queries never wait)."""

    def __init__(self) -> None:
        super().__init__(256)
        self.gate = threading.Event()

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        if not is_query:
            assert self.gate.wait(60), "the test never opened the gate"
        return super()._embed(texts, is_query=is_query)


async def test_files_are_searchable_by_keyword_before_their_vectors_exist_and_coverage_says_so(
    settings: Settings, sample_project: Path
) -> None:
    from agent_brain_mcp.render import render_search

    embedder = GatedEmbedder()
    async with open_service(settings, embedder) as svc:
        try:
            job = await svc.index_path(str(sample_project), background=True)

            early_errors: list[str] = []

            async def keyword_hit() -> Any:
                try:
                    found = await svc.hybrid_search("makeSlugFromTitle", top_k=3)
                except NotIndexedError as exc:  # before the first batch is written
                    early_errors.append(str(exc))
                    return None
                return found if found.hits else None

            early = await eventually(keyword_hit, 30)
            status = await svc.status()
            semantic = await svc.search("retry with backoff", top_k=3)
            running = next(j for j in status.jobs if j.id == job.job_id)
        finally:
            embedder.gate.set()
        await job_when(svc, job.job_id, timeout=30)
        final = await svc.status()
        after = await svc.hybrid_search("makeSlugFromTitle", top_k=3)
    assert early.hits[0].file_path == "src/text/slug.py" and early.hits[0].keyword_rank is not None
    assert all("Indexing has started" in e and "Nothing is indexed" not in e for e in early_errors)
    assert early.vector_coverage == 0.0 and status.vector_coverage == 0.0  # no vector is stored yet
    assert status.vectors_pending == status.chunks > 0 and status.roots[0].vectors_pending == status.chunks
    assert running.state == "running" and running.chunks_keyword_indexed > 0
    assert semantic.hits == [] and semantic.vector_coverage == 0.0
    assert "could not see 100% of the chunks" in render_search(semantic)
    assert "Vector coverage 0%" in render_search(early)
    assert final.vectors_pending == 0 and final.vector_coverage == 1.0 == after.vector_coverage
    assert after.hits[0].vector_rank is not None and "Vector coverage" not in render_search(after)


NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Churn study\n", "Which customers leave first.\n"]},
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["printedOutputToken\n"]}],
            "source": ["def churnScoreForCustomer(customer):\n", "    return customer.months_idle / 12\n"],
        },
    ],
    "metadata": {"kernelspec": {"language": "python", "name": "python3"}, "language_info": {"name": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


async def test_data_and_generated_files_are_skipped_and_notebooks_indexed_by_cell(
    make: Any, sample_project: Path
) -> None:
    import json

    (sample_project / "web/icon.svg").write_text('<svg><path d="M0 0L1 1"/></svg>\n', encoding="utf-8")
    (sample_project / "Pipfile.lock").write_text('{"_meta": {}}\n', encoding="utf-8")
    (sample_project / "src/api_gen.py").write_text("# @generated by codegen\nzqxwGenToken = 1\n", encoding="utf-8")
    notebook = sample_project / "study.ipynb"
    notebook.write_text(json.dumps(NOTEBOOK, indent=1) + "\n", encoding="utf-8")
    lines = notebook.read_text(encoding="utf-8").split("\n")

    async with open_service(make()) as svc:
        result = await svc.index_path(str(sample_project))
        assert result.skipped_by_reason == {"binary": 2, "data": 1, "generated": 2}
        assert "index_anyway" in result.summary
        assert [note for note in result.notes if "index_anyway" in note]
        assert (await svc.keyword_search("zqxwGenToken", top_k=5)).hits == []
        [cell] = (await svc.hybrid_search("churnScoreForCustomer", top_k=1, language="python")).hits
        assert (cell.file_path, cell.symbol) == ("study.ipynb", "cell 2 / def churnScoreForCustomer")
        assert '"def churnScoreForCustomer(customer):\\n"' in lines[cell.start_line - 1]
        assert cell.end_line == cell.start_line + 1 and "printedOutputToken" not in cell.text
        [prose] = (await svc.hybrid_search("customers leave", top_k=1, language="markdown", path_prefix="study")).hits
        assert prose.text.startswith("# Churn study") and '"# Churn study\\n"' in lines[prose.start_line - 1]

    async with open_service(make(indexing={"index_anyway": ["*.svg", "src/api_gen.py"]})) as svc:
        again = await svc.index_path(str(sample_project))
        assert again.skipped_by_reason == {"binary": 2, "generated": 1}
        assert (await svc.keyword_search("zqxwGenToken", top_k=5)).hits


# -- live freshness: the file watcher (issue 13) ------------------------------------------------------
FRESH_S = 3.0  # the goal: an edit is searchable within this many seconds


async def _watching(svc: Any, root: Path) -> bool:
    watch = (await svc.status()).watch
    return watch is not None and watch.mode in ("native", "polling") and root.as_posix() in watch.roots


async def _hit_files(svc: Any, query: str) -> list[str]:
    return _files((await svc.hybrid_search(query, top_k=20)).hits)


async def _has(svc: Any, identifier: str, rel: str) -> bool:
    """A hit of ``rel`` shows ``identifier`` (the vector side returns every file of a small index)."""
    hits = (await svc.hybrid_search(identifier, top_k=20)).hits
    return any(h.file_path == rel and identifier in h.text for h in hits)


async def _lacks(svc: Any, query: str, rel: str) -> bool:
    return rel not in await _hit_files(svc, query)


@asynccontextmanager
async def _watched(settings: Settings, root: Path) -> AsyncIterator[Any]:
    """A service that indexed ``root`` and whose file watcher is watching it."""
    async with open_service(settings) as svc:
        await svc.index_path(str(root))
        svc.start_watching()
        await eventually(lambda: _watching(svc, root), 10)
        yield svc


async def test_the_watcher_makes_an_edit_searchable_and_a_deletion_vanish_within_seconds(
    settings: Settings, sample_project: Path
) -> None:
    import time

    async with _watched(settings, sample_project) as svc:
        retry = sample_project / "src/payments/retry.py"
        retry.write_text(retry.read_text() + "\n\ndef quarantine_flaky_gateway():\n    return 'zebra'\n")
        edited = time.monotonic()
        await eventually(lambda: _has(svc, "quarantine_flaky_gateway", "src/payments/retry.py"), 10)
        assert time.monotonic() - edited <= FRESH_S

        new = sample_project / "src/new_module/fresh.py"
        new.parent.mkdir()
        new.write_text("def brand_new_walrus_counter():\n    return 7\n")
        await eventually(lambda: _has(svc, "brand_new_walrus_counter", "src/new_module/fresh.py"), 10)

        new.unlink()
        await eventually(lambda: _lacks(svc, "brand_new_walrus_counter", "src/new_module/fresh.py"), 10)
        (sample_project / "src/text/slug.py").unlink()
        await eventually(lambda: _lacks(svc, "makeSlugFromTitle", "src/text/slug.py"), 10)
        await eventually(lambda: _idle(svc), 10)
        status = await svc.status()
    assert status.watch is not None and status.watch.batches >= 3 and status.watch.last_update
    assert status.files == 7  # retry.py edited, fresh.py added then deleted, slug.py deleted: counts are true


async def test_the_watcher_indexes_a_burst_of_files_in_one_batch_and_skips_ignored_ones(
    settings: Settings, sample_project: Path
) -> None:
    async with _watched(settings, sample_project) as svc:
        assert svc.watcher is not None
        before = svc.watcher.batches
        burst = sample_project / "burst"
        burst.mkdir()
        for n in range(300):  # like a branch switch: many files written back to back
            (burst / f"b{n:03}.py").write_text(f"def burst_handler_{n}():\n    return {n}\n")
        (sample_project / "node_modules/left-pad/burst.js").write_text("function burstIgnored() {}\n")
        (sample_project / "generated/burst.py").write_text("def burst_generated(): pass\n")  # .gitignore'd

        async def all_indexed() -> bool:
            records = await svc.backend.file_records(sample_project.as_posix(), "burst")
            return len(records) == 300

        await eventually(all_indexed, 30)
        await eventually(lambda: _idle(svc), 10)
        assert svc.watcher.batches - before == 1
        records = await svc.backend.file_records(sample_project.as_posix())
    assert "node_modules/left-pad/burst.js" not in records and "generated/burst.py" not in records


async def _idle(svc: Any) -> bool:
    watch = (await svc.status()).watch
    return watch is not None and watch.pending_changes == 0


async def test_index_path_never_fails_busy_because_of_the_watcher(settings: Settings, sample_project: Path) -> None:
    async with _watched(settings, sample_project) as svc:
        for n in range(50):
            (sample_project / f"busy_{n}.py").write_text(f"def busy_{n}(): pass\n")
        # Calls made while the watcher may be indexing that burst: they queue, they never fail.
        results = [await svc.index_path(str(sample_project)) for _ in range(3)]
        job = await svc.index_path(str(sample_project), background=True)
        await job_when(svc, job.job_id, lambda j: j.state == "done", 30)
    assert all(r.status == "done" for r in results)
    assert results[-1].total_files == 8 + 50


# -- never embed the same text twice: the vector store (issue 13) -------------------------------------
async def test_a_second_copy_of_an_indexed_tree_embeds_nothing_and_is_searchable(
    make: Any, sample_project: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "worktree2"
    shutil.copytree(sample_project, copy)
    settings = make(security={"allowed_roots": [str(copy)]})
    embedder = CountingEmbedder()
    async with open_service(settings, embedder) as svc:
        first = await svc.index_path(str(sample_project))
        embedded = len(embedder.embedded)
        second = await svc.index_path(str(copy))
        hits = (await svc.hybrid_search("makeSlugFromTitle", top_k=10)).hits
    assert first.chunks_embedded == first.chunks_written == embedded > 0
    assert second.chunks_written == first.chunks_written and second.chunks_embedded == 0
    assert len(embedder.embedded) == embedded
    assert {h.root for h in hits if h.file_path == "src/text/slug.py"} == {sample_project.as_posix(), copy.as_posix()}


async def test_force_without_a_model_change_re_chunks_but_embeds_nothing(
    settings: Settings, sample_project: Path
) -> None:
    embedder = CountingEmbedder()
    async with open_service(settings, embedder) as svc:
        first = await svc.index_path(str(sample_project))
        embedded = len(embedder.embedded)
        forced = await svc.index_path(str(sample_project), force=True)
        hits = (await svc.search("retry with backoff", top_k=3)).hits
    assert forced.files_indexed == first.files_indexed and forced.chunks_written == first.chunks_written
    assert forced.chunks_embedded == 0 and len(embedder.embedded) == embedded
    assert hits[0].file_path == "src/payments/retry.py"


def _handlers(names: Sequence[str]) -> str:
    body = "\n".join(f"    step_{i} = value * {i}  # a line of real work" for i in range(15))
    return "\n\n\n".join(f"def {name}(value):\n{body}\n    return value\n" for name in names)


async def test_an_edited_file_re_embeds_only_the_chunks_whose_text_changed(
    settings: Settings, sample_project: Path
) -> None:
    module = sample_project / "src/handlers.py"
    module.write_text(_handlers(["alpha", "beta", "gamma", "delta"]))
    embedder = CountingEmbedder()
    async with open_service(settings, embedder) as svc:
        await svc.index_path(str(sample_project))
        chunks = (await svc.backend.file_records(sample_project.as_posix()))["src/handlers.py"].chunk_count
        module.write_text(_handlers(["alpha", "beta", "gamma", "delta_renamed"]))
        embedder.embedded.clear()
        edited = await svc.index_path(str(sample_project))
        hits = (await svc.keyword_search("delta_renamed", top_k=1)).hits
    assert chunks >= 4 and edited.chunks_written == chunks
    assert edited.chunks_embedded == len(embedder.embedded) == 1
    assert "delta_renamed" in embedder.embedded[0] and hits[0].file_path == "src/handlers.py"


# -- ranking: definitions first, a per-file cap, files ranked as wholes, kinds, long queries --------
MENTIONS = {
    "src/checkout.py": """
        from payments.retry import retry_with_backoff


        def charge(card):
            # retry_with_backoff retries the charge; retry_with_backoff gives up after five attempts
            return retry_with_backoff(lambda: card.charge(), attempts=5)


        def refund(card):
            return retry_with_backoff(lambda: card.refund())
        """,
    "tests/test_retry.py": """
        import pytest
        from payments.retry import retry_with_backoff


        def test_retry_with_backoff_gives_up():
            with pytest.raises(RuntimeError, match="payment provider unreachable after retries"):
                retry_with_backoff(lambda: 1 / 0, attempts=1)
            # "payment provider unreachable after retries" is what retry_with_backoff says
        """,
    "docs/payments.md": """
        # Payments

        When the payment provider unreachable after retries error appears, retry_with_backoff gave up:
        "payment provider unreachable after retries" means five attempts failed.
        """,
    "src/books.py": "\n\n".join(
        f"def ledger_entry_{i}(book):\n"
        + "    # ledger entry ledger balance\n" * 12
        + f"    return book.pages[{i}]\n\n\n"
        f"def unrelated_{i}(shelf):\n" + "    # dust the shelf and count the spines\n" * 15 + "    return shelf\n"
        for i in range(5)
    ),
    "src/audit.py": "def audit_ledger(book):\n    # walk the ledger entry\n    return [e for e in book.ledger]\n",
}


async def _with_mentions(settings: Settings, sample_project: Path, svc: Any) -> None:
    from support import write_tree

    write_tree(sample_project, MENTIONS)
    await svc.index_path(str(sample_project))


async def test_a_named_function_comes_back_as_its_definition_before_callers_and_tests(
    settings: Settings, sample_project: Path
) -> None:
    async with open_service(settings) as svc:
        await _with_mentions(settings, sample_project, svc)
        for mode in (svc.hybrid_search, svc.search):
            top = (await mode("retry_with_backoff", top_k=5)).hits[0]
            assert top.file_path == "src/payments/retry.py", mode
            assert "def retry_with_backoff" in top.text


async def test_an_error_message_comes_back_where_it_is_raised_before_tests_and_docs(
    settings: Settings, sample_project: Path
) -> None:
    async with open_service(settings) as svc:
        await _with_mentions(settings, sample_project, svc)
        hits = (await svc.hybrid_search("payment provider unreachable after retries", top_k=5)).hits
    assert hits[0].file_path == "src/payments/retry.py"
    assert 'raise RuntimeError("payment provider unreachable after retries")' in hits[0].text


async def test_the_first_page_spans_files_and_lifting_the_cap_shows_one_files_every_match(
    settings: Settings, sample_project: Path
) -> None:
    async with open_service(settings) as svc:
        await _with_mentions(settings, sample_project, svc)
        for mode in (svc.hybrid_search, svc.search, svc.keyword_search):
            capped = (await mode("ledger entry", top_k=3)).hits
            assert _files(capped).count("src/books.py") <= 2, mode
            assert "src/audit.py" in _files(capped), mode
        uncapped = (await svc.hybrid_search("ledger entry", top_k=3, max_per_file=0)).hits
    assert _files(uncapped) == ["src/books.py"] * 3


async def test_group_by_file_returns_distinct_files_with_their_best_chunks(
    settings: Settings, sample_project: Path
) -> None:
    async with open_service(settings) as svc:
        await _with_mentions(settings, sample_project, svc)
        for mode in (svc.hybrid_search, svc.search):
            result = await mode("retry_with_backoff", top_k=4, group_by="file")
            assert result.hits == [] and result.files is not None
            paths = [f.file_path for f in result.files]
            assert len(paths) == len(set(paths)) == 4
            assert paths[0] == "src/payments/retry.py" and result.files[0].defines
            for f in result.files:
                assert 1 <= len(f.hits) <= 2 and all(h.file_path == f.file_path for h in f.hits)
                assert all(1 <= h.start_line <= h.end_line for h in f.hits)


async def test_the_kind_filter_keeps_only_code_config_docs_or_tests(settings: Settings, sample_project: Path) -> None:
    from support import write_tree

    write_tree(sample_project, {"pyproject.toml": '[tool.payments]\nretry_with_backoff = "payment provider"\n'})
    async with open_service(settings) as svc:
        await _with_mentions(settings, sample_project, svc)
        query = "payment provider unreachable after retries retry_with_backoff"
        code = _files((await svc.hybrid_search(query, top_k=10, kind="code")).hits)
        config = _files((await svc.hybrid_search(query, top_k=10, kind="config")).hits)
        docs = _files((await svc.hybrid_search(query, top_k=10, kind="docs")).hits)
        tests = [f.file_path for f in (await svc.search(query, top_k=10, kind="tests", group_by="file")).files or []]
        with pytest.raises(InvalidInputError, match="kind must be one of code, config, docs, tests"):
            await svc.hybrid_search(query, kind="vendor")
    assert "src/payments/retry.py" in code
    assert not {"docs/payments.md", "tests/test_retry.py", "pyproject.toml"} & set(code)
    assert "pyproject.toml" in config and set(config) <= {"pyproject.toml", ".gitignore"}
    assert docs and set(docs) <= {"docs/payments.md", "docs/guide.md", "README.md", "legacy.txt"}
    assert tests == ["tests/test_retry.py"]


async def test_a_long_bug_report_counts_past_its_first_eight_thousand_characters(
    settings: Settings, sample_project: Path
) -> None:
    report = "The page is slow and I pasted the whole log below.\n" + "INFO request served in 12 ms\n" * 400
    report += 'Traceback (most recent call last):\n  File "app/src/text/slug.py", line 5, in makeSlugFromTitle\n'
    assert report.index("makeSlugFromTitle") > 10_000
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        hybrid = await svc.hybrid_search(report, top_k=3)
        files = await svc.hybrid_search(report, top_k=3, group_by="file")
    assert hybrid.hits[0].file_path == "src/text/slug.py" and hybrid.hits[0].keyword_rank == 1
    assert files.files and files.files[0].file_path == "src/text/slug.py" and files.files[0].path_named
