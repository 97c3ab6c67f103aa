"""Faults injected for real: unwritable and corrupted index folders, files that change or vanish
while a run reads them, symlink loops, huge and oddly encoded files, very many files.

Nothing under test is mocked. Disk faults are made on disk (an immutable folder, garbage bytes in
the catalog); "during the run" faults are made from the run's own progress callback, which the
pipeline awaits after the walk and after each written batch, so they land at a known moment.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from support import make_settings, open_service

from agent_brain_mcp.embeddings.hashing import HashingProvider
from agent_brain_mcp.errors import InvalidInputError
from agent_brain_mcp.indexing.progress import IndexProgress
from agent_brain_mcp.server import build_server

pytestmark = pytest.mark.anyio

SAMPLE_FILES_INDEXED = 8  # see conftest.sample_project: 4 code files, 2 markdown, legacy.txt, .gitignore


class CountingEmbedder(HashingProvider):
    """The real hashing embedder, counting what it is asked to embed."""

    def __init__(self, dimension: int = 256) -> None:
        super().__init__(dimension)
        self.embedded = 0

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return super().embed_documents(texts)


def _text(result: Any) -> str:
    return str(result.content[0].text)


def _catalog_chunks(state: Path, rel_path: str) -> list[tuple[int, int, str]]:
    """(start_line, end_line, text) of one file's chunks, as the Chroma backend's catalog stores them."""
    db = sqlite3.connect(state / "catalog.sqlite3")
    try:
        rows = db.execute(
            "SELECT start_line, end_line, text FROM chunks WHERE rel_path = ? ORDER BY ordinal", (rel_path,)
        ).fetchall()
    finally:
        db.close()
    return [(int(a), int(b), str(t)) for a, b, t in rows]


def _forget_chroma_clients() -> None:
    """chromadb caches one client system per folder in-process; a folder deleted on disk must not be reused."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


@contextmanager
def _unwritable(path: Path) -> Iterator[Callable[[], None]]:
    """Make ``path`` and everything in it unwritable for real; yields the undo (the user's fix).

    Root ignores permission bits, so as root the folder is made immutable (``chattr +i``), which
    stops root too; otherwise the write bits are removed.
    """
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a folder unwritable for root")
        made = subprocess.run(["chattr", "-R", "+i", str(path)], capture_output=True, text=True, timeout=30)
        if made.returncode != 0:
            pytest.skip(f"this filesystem has no immutable flag: {made.stderr.strip()}")

        def undo() -> None:
            subprocess.run(["chattr", "-R", "-i", str(path)], capture_output=True, timeout=30, check=True)

    else:
        modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
        for p, mode in modes.items():
            p.chmod(mode & ~0o222)

        def undo() -> None:
            for p, mode in modes.items():
                p.chmod(mode)

    try:
        yield undo
    finally:
        undo()


# -- 2. disk and permission faults, through the MCP tools ------------------------------------------
async def test_a_read_only_index_folder_is_a_clear_error_and_the_server_keeps_answering(
    tmp_path: Path, sample_project: Path
) -> None:
    state = tmp_path / "state"
    settings = make_settings(state, sample_project)
    async with Client(build_server(settings)) as client:
        built = await client.call_tool("index_path", {"path": "."})
        assert not built.is_error, built.content
    _forget_chroma_clients()

    with _unwritable(state) as let_write:
        async with Client(build_server(settings)) as client:
            for tool, args in (("index_path", {"path": "."}), ("hybrid_search", {"query": "retry"})):
                refused = await client.call_tool(tool, args)
                assert refused.is_error, tool
                message = _text(refused)
                assert "not writable" in message and str(state) in message, message
                assert "persist_dir" in message  # says how to fix it
                assert "Traceback" not in message
            status = await client.call_tool("index_status", {})
            assert not status.is_error
            assert status.structured_content["ready"] is False
            assert "not writable" in status.structured_content["problem"]

            let_write()  # the user fixes the permissions; no restart needed
            again = await client.call_tool("index_path", {"path": "."})
            assert not again.is_error, again.content
            assert again.structured_content["files_unchanged"] == SAMPLE_FILES_INDEXED
            found = await client.call_tool("hybrid_search", {"query": "retry_with_backoff", "top_k": 1})
            assert found.structured_content["hits"][0]["file_path"] == "src/payments/retry.py"


async def test_an_index_folder_below_a_regular_file_is_a_clear_error_and_the_server_keeps_answering(
    tmp_path: Path, sample_project: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file\n", encoding="utf-8")
    async with Client(build_server(make_settings(blocker / "index", sample_project))) as client:
        for _ in range(2):  # every call reports it (the warm-up is retried), none crashes the server
            refused = await client.call_tool("index_path", {"path": "."})
            assert refused.is_error
            assert "cannot create the index folder" in _text(refused) and "persist_dir" in _text(refused)
        status = await client.call_tool("index_status", {})
        assert not status.is_error and status.structured_content["ready"] is False


async def test_a_corrupted_catalog_says_how_to_recover_and_following_that_advice_works(
    tmp_path: Path, sample_project: Path
) -> None:
    state = tmp_path / "state"
    settings = make_settings(state, sample_project)
    async with Client(build_server(settings)) as client:
        assert not (await client.call_tool("index_path", {"path": "."})).is_error
    _forget_chroma_clients()
    catalog = state / "catalog.sqlite3"
    catalog.write_bytes(os.urandom(64 * 1024))  # garbage where the SQLite file was
    for sidecar in ("catalog.sqlite3-wal", "catalog.sqlite3-shm"):
        (state / sidecar).unlink(missing_ok=True)

    async with Client(build_server(settings)) as client:
        for tool, args in (("index_path", {"path": "."}), ("search", {"query": "retry"})):
            refused = await client.call_tool(tool, args)
            assert refused.is_error, tool
            message = _text(refused)
            assert str(catalog) in message and "unreadable" in message, message
            assert f"Delete the folder {state}" in message and "index_path" in message
        status = await client.call_tool("index_status", {})
        assert status.structured_content["ready"] is False

        shutil.rmtree(state)  # the documented recovery, while the server keeps running
        rebuilt = await client.call_tool("index_path", {"path": "."})
        assert not rebuilt.is_error, rebuilt.content
        assert rebuilt.structured_content["files_indexed"] == SAMPLE_FILES_INDEXED
        found = await client.call_tool("hybrid_search", {"query": "DatabasePool acquire", "top_k": 1})
        assert found.structured_content["hits"][0]["file_path"] == "src/db/connection.py"


async def test_an_index_of_an_older_layout_is_refused_until_index_path_force_rebuilds_it(
    tmp_path: Path, sample_project: Path
) -> None:
    state = tmp_path / "state"
    settings = make_settings(state, sample_project)
    async with Client(build_server(settings)) as client:
        assert not (await client.call_tool("index_path", {"path": "."})).is_error
        # A second run that writes: the saved keyword index is now at catalog generation 2.
        (sample_project / "src/text/slug.py").write_text("def slugify(t):\n    return t\n", encoding="utf-8")
        assert (await client.call_tool("index_path", {"path": "."})).structured_content["files_indexed"] == 1
    _forget_chroma_clients()
    db = sqlite3.connect(state / "catalog.sqlite3")
    with db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")  # an "older" layout
    db.close()
    # A file the old index never saw: after the rebuild the keyword side must know it.
    (sample_project / "src/ledger.py").write_text("def reconcileQuarterlyLedger():\n    pass\n", encoding="utf-8")

    async with Client(build_server(settings)) as client:
        for tool, args in (("index_path", {"path": "."}), ("hybrid_search", {"query": "retry"})):
            refused = await client.call_tool(tool, args)
            assert refused.is_error, tool
            assert "layout version 0" in _text(refused) and "force=true" in _text(refused), _text(refused)
        status = await client.call_tool("index_status", {})
        assert (
            status.structured_content["ready"] is False and "layout version 0" in status.structured_content["problem"]
        )

        rebuilt = await client.call_tool("index_path", {"path": ".", "force": True})
        assert not rebuilt.is_error, rebuilt.content
        assert rebuilt.structured_content["files_indexed"] == SAMPLE_FILES_INDEXED + 1
        status = await client.call_tool("index_status", {})
        assert status.structured_content["ready"] is True and status.structured_content["problem"] is None
        found = await client.call_tool("hybrid_search", {"query": "reconcileQuarterlyLedger", "top_k": 1})
        top = found.structured_content["hits"][0]
        assert top["file_path"] == "src/ledger.py" and top["keyword_rank"] == 1
        settled = await client.call_tool("index_path", {"path": "."})
        assert settled.structured_content["files_indexed"] == 0

    db = sqlite3.connect(state / "catalog.sqlite3")
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] != "0"
    db.close()


# -- 3. files that change or vanish while being indexed ---------------------------------------------
def _on_first_report(action: Callable[[], None]) -> Callable[[IndexProgress], Any]:
    """A progress callback that runs ``action`` once, at the first report: after the walk, before any read."""
    done: list[bool] = []

    async def progress(event: IndexProgress) -> None:
        if not done:
            done.append(True)
            assert event.phase == "walk"
            action()

    return progress


async def test_a_file_deleted_between_the_walk_and_the_read_is_skipped_as_disappeared_and_not_indexed(
    tmp_path: Path, sample_project: Path
) -> None:
    settings = make_settings(tmp_path / "state", sample_project)
    changed = sample_project / "src/db/connection.py"
    new = sample_project / "src/fresh_module.py"
    async with open_service(settings) as svc:
        await svc.index_path(str(sample_project))
        changed.write_text("class ConnectionBroker:\n    pass\n", encoding="utf-8")  # so the run reads it
        new.write_text("def brandNewHelper():\n    return 1\n", encoding="utf-8")

        def delete_both() -> None:
            changed.unlink()
            new.unlink()

        result = await svc.index_path(str(sample_project), progress=_on_first_report(delete_both))
        reasons = {s.path: s.reason for s in result.skipped}
        assert "disappeared" in reasons["src/db/connection.py"] and "disappeared" in reasons["src/fresh_module.py"]
        assert result.files_removed == 1  # the old chunks of the deleted file are gone too
        assert result.total_files == SAMPLE_FILES_INDEXED - 1
        for query in ("DatabasePool", "ConnectionBroker", "brandNewHelper"):
            hits = (await svc.hybrid_search(query, top_k=20)).hits
            assert not {"src/db/connection.py", "src/fresh_module.py"} & {h.file_path for h in hits}
        settled = await svc.index_path(str(sample_project))
    assert (settled.files_indexed, settled.files_removed) == (0, 0)
    assert settled.skipped_by_reason == {"binary": 2}  # only the sample's two binaries


async def test_a_file_rewritten_during_a_run_is_indexed_whole_and_the_next_run_catches_up(
    tmp_path: Path, sample_project: Path
) -> None:
    state = tmp_path / "state"
    settings = make_settings(state, sample_project)
    target = sample_project / "src/text/slug.py"
    version_b = "def slugVersionBee(title):\n    return title.lower()\n"
    version_c = "def slugVersionSea(title):\n    return title.upper()\n\n\n# a longer version\n"
    embedder = CountingEmbedder()
    async with open_service(settings, embedder) as svc:
        # Rewritten after the walk saw it, before it was read: the new text is indexed, whole.
        first = await svc.index_path(
            str(sample_project), progress=_on_first_report(lambda: target.write_text(version_b, encoding="utf-8"))
        )
        assert first.files_indexed == SAMPLE_FILES_INDEXED
        assert "\n".join(t for _, _, t in _catalog_chunks(state, "src/text/slug.py")) + "\n" == version_b
        # The manifest holds the walk's size/mtime, so the next run re-reads it, finds the same
        # bytes and embeds nothing.
        embedded = embedder.embedded
        second = await svc.index_path(str(sample_project))
        assert second.files_indexed == 0 and embedder.embedded == embedded

        # Rewritten after it was read and written (at the batch's progress report): the run ends
        # with the older text, and the next run picks up the newer one.
        async def rewrite_after_write(event: IndexProgress) -> None:
            if event.chunks_keyword_indexed:
                target.write_text(version_c, encoding="utf-8")

        target.write_text(version_b.replace("Bee", "Bea"), encoding="utf-8")
        stale = await svc.index_path(str(sample_project), progress=rewrite_after_write)
        assert stale.files_indexed == 1
        caught_up = await svc.index_path(str(sample_project))
        assert caught_up.files_indexed == 1
        assert "\n".join(t for _, _, t in _catalog_chunks(state, "src/text/slug.py")) + "\n" == version_c
        hits = (await svc.hybrid_search("slugVersionSea", top_k=1)).hits
        assert hits[0].file_path == "src/text/slug.py" and "slugVersionSea" in hits[0].text

        # A writer replacing the file over and over (atomically, as editors save) while runs go on:
        # every run indexes one whole version, and the run after the writer stops holds the last one.
        versions = [f"def writerVersion{n}():\n    return {n}\n" + "# padding\n" * (n % 5) for n in range(50)]
        stop = threading.Event()
        written: list[str] = []

        def writer() -> None:
            n = 0
            while not stop.is_set():
                tmp = target.with_suffix(".tmp~")
                tmp.write_text(versions[n % len(versions)], encoding="utf-8")
                os.replace(tmp, target)
                written.append(versions[n % len(versions)])
                n += 1
                time.sleep(0.001)

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            for _ in range(5):
                await svc.index_path(str(sample_project), exclude=["*.tmp~"])
                text = "\n".join(t for _, _, t in _catalog_chunks(state, "src/text/slug.py")) + "\n"
                assert text in versions  # never a mix of two versions
        finally:
            stop.set()
            thread.join(timeout=10)
        assert not thread.is_alive() and written
        final = target.read_text(encoding="utf-8")
        await svc.index_path(str(sample_project))
        assert "\n".join(t for _, _, t in _catalog_chunks(state, "src/text/slug.py")) + "\n" == final


async def test_symlink_loops_are_skipped_without_hanging(tmp_path: Path, sample_project: Path) -> None:
    (sample_project / "loop_a").symlink_to(sample_project / "loop_b")
    (sample_project / "loop_b").symlink_to(sample_project / "loop_a")
    (sample_project / "itself").symlink_to(sample_project / "itself")
    (sample_project / "src/up").symlink_to(sample_project, target_is_directory=True)  # a folder cycle
    (sample_project / "docs/deeper").symlink_to(sample_project / "docs", target_is_directory=True)
    settings = make_settings(tmp_path / "state", sample_project)
    async with open_service(settings) as svc:
        with anyio.fail_after(30):
            result = await svc.index_path(str(sample_project))
            again = await svc.index_path(str(sample_project))
            for name in ("loop_a", "itself"):
                with pytest.raises(InvalidInputError, match="cannot be resolved"):
                    await svc.index_path(name)
    assert result.total_files == SAMPLE_FILES_INDEXED
    reasons = {s.path: s.reason for s in result.skipped}
    for link in ("loop_a", "loop_b", "itself", "src/up", "docs/deeper"):
        assert "symlink" in reasons[link], (link, reasons)
    assert again.files_indexed == 0 and again.total_files == SAMPLE_FILES_INDEXED


async def test_a_file_over_the_size_limit_is_skipped_with_the_reason_even_if_it_grows_mid_run(
    tmp_path: Path, sample_project: Path
) -> None:
    settings = make_settings(tmp_path / "state", sample_project, indexing={"max_file_bytes": 4000})
    (sample_project / "big.txt").write_text("oversizedToken " * 400, encoding="utf-8")  # 6,000 bytes
    grower = sample_project / "grows.txt"
    grower.write_text("small for now\n", encoding="utf-8")
    async with open_service(settings) as svc:
        result = await svc.index_path(
            str(sample_project),
            progress=_on_first_report(lambda: grower.write_text("grownToken\n" * 1000, encoding="utf-8")),
        )
        hits = (await svc.hybrid_search("oversizedToken grownToken", top_k=20)).hits
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons["big.txt"] == "too large (6000 bytes > indexing.max_file_bytes=4000)"
    assert reasons["grows.txt"] == "too large (> indexing.max_file_bytes=4000)"  # seen by the bounded read
    assert result.skipped_by_reason["too large"] == 2
    assert not {"big.txt", "grows.txt"} & {h.file_path for h in hits}


def _write_one_line_js(path: Path, size: int, marker: str) -> None:
    """A minified-looking bundle: ``size`` bytes on one line (code and inlined hex assets), ``marker`` mid-way.

    Long literals keep the word count (what the test-only hashing embedder pays for) low.
    """
    unit = b"".join(
        b'var h%d="%s";function f%d(a){return a.map(function(b){return b*%d})};'
        % (n, os.urandom(500).hex().encode(), n, n)
        for n in range(64)
    )
    block = unit * (1024 * 1024 // len(unit) + 1)
    middle = f";var {marker}=1;".encode()
    with path.open("wb") as fh:
        written = 0
        while written < size:
            if written <= size // 2 < written + len(block):
                part = block[: size // 2 - written] + middle
            else:
                part = block[: size - written]
            fh.write(part)
            written += len(part)
    assert path.stat().st_size == size


async def test_a_100_mb_minified_bundle_is_skipped_as_too_large_without_being_read(
    tmp_path: Path, sample_project: Path
) -> None:
    bundle = sample_project / "static/app.bundle.js"
    bundle.parent.mkdir()
    _write_one_line_js(bundle, 100 * 1024 * 1024, "hugeBundleMarker")
    try:
        settings = make_settings(tmp_path / "state", sample_project)  # max_file_bytes: the default 1,000,000
        async with open_service(settings) as svc:
            started = time.perf_counter()
            folder = await svc.index_path(str(sample_project))
            alone = await svc.index_path(str(bundle))  # named directly: still refused by size
            elapsed = time.perf_counter() - started
    finally:
        bundle.unlink()
    assert elapsed < 2.0, f"took {elapsed:.2f}s: the file was read"
    for result in (folder, alone):
        assert {s.path: s.reason for s in result.skipped}["static/app.bundle.js"].startswith(
            "too large (104857600 bytes"
        )
    assert folder.total_files == SAMPLE_FILES_INDEXED


async def test_a_3_mb_one_line_file_under_a_raised_limit_is_cut_into_bounded_pieces(
    tmp_path: Path, sample_project: Path
) -> None:
    state = tmp_path / "state"
    bundle = sample_project / "static/app.bundle.js"
    bundle.parent.mkdir()
    size = 3 * 1024 * 1024
    _write_one_line_js(bundle, size, "middleOfTheBundle")
    settings = make_settings(
        state, sample_project, embedding={"dimension": 32}, indexing={"max_file_bytes": 4_000_000, "chunk_chars": 2000}
    )
    async with open_service(settings) as svc:
        with anyio.fail_after(60):
            result = await svc.index_path(str(sample_project))
        hits = (await svc.keyword_search("middleOfTheBundle", top_k=1)).hits
    chunks = _catalog_chunks(state, "static/app.bundle.js")
    assert result.files_skipped == 2  # only the sample's two binaries
    assert {(start, end) for start, end, _ in chunks} == {(1, 1)}
    assert max(len(text) for _, _, text in chunks) <= 2000
    assert sum(len(text) for _, _, text in chunks) == size  # nothing lost, nothing repeated
    assert len(chunks) <= -(-size // 1500)  # cut after a space in each piece's last quarter, else at 2,000
    assert hits and hits[0].file_path == "static/app.bundle.js" and hits[0].start_line == 1


async def test_non_utf8_text_and_mixed_line_endings_keep_exact_line_numbers(
    tmp_path: Path, sample_project: Path
) -> None:
    state = tmp_path / "state"
    lines = [f"line{n:02d} marker{n:02d} " + ("café" if n % 3 else "crème") for n in range(1, 24)]
    lines[6] += " \u2026 ellipsis"  # in cp1252 this is byte 0x85, which Latin-1 decodes as NEL
    lines[9] += " page\x0cbreak"  # a form feed inside a line is not a line break
    endings = ["\n", "\r\n", "\r"]
    mixed = "".join(line + endings[n % 3] for n, line in enumerate(lines))
    files = {
        "legacy_cp1252.txt": mixed.encode("cp1252"),
        "legacy_latin1.py": "".join(f"# {line.replace(chr(0x2026), '...')}\r\n" for line in lines).encode("latin-1"),
        "wide_utf16.txt": "\ufeff".encode("utf-16-le") + mixed.replace("\u2026", "...").encode("utf-16-le"),
        "mixed_utf8.md": ("# Title\r\n" + mixed).encode("utf-8"),
    }
    for name, data in files.items():
        (sample_project / name).write_bytes(data)
    settings = make_settings(state, sample_project, indexing={"chunk_lines": 5, "chunk_overlap_lines": 1})
    async with open_service(settings) as svc:
        result = await svc.index_path(str(sample_project))
        marker_hits = (await svc.keyword_search("marker17", top_k=50)).hits
    assert result.files_skipped == 2 and result.total_files == SAMPLE_FILES_INDEXED + len(files)
    for name, data in files.items():
        expected = _decoded_lines(data)
        chunks = _catalog_chunks(state, name)
        assert chunks, name
        covered: set[int] = set()
        for start, end, text in chunks:
            assert text.split("\n") == expected[start - 1 : end], (name, start, end)
            covered.update(range(start, end + 1))
        assert covered == set(range(1, len(expected) + 1)), name
    by_file = {h.file_path: h for h in marker_hits}
    for name in files:
        hit = by_file[name]
        offset = 1 if name.endswith(".md") else 0  # the markdown file has a title line first
        line = 17 + offset
        assert hit.start_line <= line <= hit.end_line
        assert "marker17" in hit.text.split("\n")[line - hit.start_line]


def _decoded_lines(data: bytes) -> list[str]:
    """What an editor shows: the text in its encoding, lines split at CRLF, CR or LF only."""
    if data.startswith(b"\xff\xfe"):
        text = data[2:].decode("utf-16-le")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    return re.split(r"\r\n|\r|\n", text.removesuffix("\n").removesuffix("\r"))


# 50,000 files take well over a minute on this 2-core machine (Chroma's HNSW insert alone is ~1 ms
# per vector), so the many-files test uses 20,000, as the brief allows; see the report.
MANY_FILES = 20_000


@pytest.mark.slow
async def test_twenty_thousand_tiny_files_index_in_bounded_time_and_a_second_run_embeds_nothing(
    tmp_path: Path,
) -> None:
    project = tmp_path / "many"
    started = time.perf_counter()
    for folder in range(MANY_FILES // 1000):
        (project / f"d{folder:02d}").mkdir(parents=True)
    for n in range(MANY_FILES):
        fd = os.open(project / f"d{n // 1000:02d}" / f"f{n:05d}.txt", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, f"note {n} tinyfile{n}\n".encode())
        os.close(fd)
    generated = time.perf_counter() - started
    settings = make_settings(tmp_path / "state", project, embedding={"dimension": 32, "batch_size": 256})
    embedder = CountingEmbedder(dimension=32)
    async with open_service(settings, embedder) as svc:
        started = time.perf_counter()
        with anyio.fail_after(120):
            first = await svc.index_path(str(project))
        first_seconds = time.perf_counter() - started
        embedded = embedder.embedded
        started = time.perf_counter()
        second = await svc.index_path(str(project))
        second_seconds = time.perf_counter() - started
        hits = (await svc.keyword_search("tinyfile12345", top_k=1)).hits
    print(f"{MANY_FILES} files: generated {generated:.1f}s, indexed {first_seconds:.1f}s, re-run {second_seconds:.1f}s")
    assert first.total_files == MANY_FILES and embedded == MANY_FILES
    assert second.files_indexed == 0 and second.files_unchanged == MANY_FILES
    assert embedder.embedded == embedded  # the second run embedded nothing
    assert first_seconds < 90 and second_seconds < 10
    assert hits[0].file_path == "d12/f12345.txt"
