"""One function per backend says where its index lives; the server, the backends and the CLI all ask it."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from agent_brain_mcp.backends.chroma import ChromaBackend
from agent_brain_mcp.backends.locations import index_location
from agent_brain_mcp.backends.postgres import PostgresBackend
from agent_brain_mcp.cli import _banner
from agent_brain_mcp.cli_commands import _print_index_result
from agent_brain_mcp.config import Settings
from agent_brain_mcp.models import IndexResult
from agent_brain_mcp.runtime import Runtime
from agent_brain_mcp.server import _not_ready_status


def _settings(tmp_path: Path, storage: dict[str, object]) -> Settings:
    return Settings.model_validate({"project_dir": tmp_path, "storage": storage})


def test_the_chroma_index_location_is_the_same_for_the_backend_the_not_ready_status_and_the_banner(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, {"backend": "chromadb", "chromadb": {"persist_dir": "idx"}})
    chroma = settings.storage.chromadb
    where = index_location(settings)
    assert where == str(tmp_path / "idx")
    assert ChromaBackend(chroma, settings.resolve(chroma.persist_dir)).info().location == where
    assert _not_ready_status(Runtime(settings), "starting").location == where
    assert f"Index: {where}." in _banner(settings, tmp_path / "config.yaml")


def test_a_chroma_server_location_names_the_server_and_the_local_folder(tmp_path: Path) -> None:
    settings = _settings(tmp_path, {"backend": "chromadb", "chromadb": {"host": "chroma.local", "port": 8001}})
    where = index_location(settings)
    assert where.startswith("chroma server chroma.local:8001")
    assert str(settings.resolve(settings.storage.chromadb.persist_dir)) in where


def test_the_embedded_postgres_location_is_its_data_folder_before_and_after_the_backend_is_built(
    tmp_path: Path,
) -> None:
    settings = _settings(
        tmp_path, {"backend": "postgresql", "postgresql": {"embedded": True, "data_dir": "pg", "table": "chunks_x"}}
    )
    where = index_location(settings)
    assert where == f"embedded PostgreSQL in {tmp_path / 'pg'} (table chunks_x)"
    assert PostgresBackend(settings, tmp_path / "pg").info().location == where
    assert _not_ready_status(Runtime(settings), "starting").location == where


def _result(root: str, summary: str) -> IndexResult:
    return IndexResult(
        root=root,
        scope=".",
        files_indexed=1,
        files_unchanged=0,
        files_removed=0,
        files_skipped=0,
        chunks_written=2,
        chunks_removed=0,
        total_files=1,
        total_chunks=2,
        seconds=0.1,
        summary=summary,
    )


def _printed(result: IndexResult) -> str:
    out = Console(file=io.StringIO(), width=200, highlight=False, color_system=None)
    _print_index_result(result, out)
    assert isinstance(out.file, io.StringIO)
    return out.file.getvalue()


def test_the_cli_shows_the_runs_notes_from_their_own_field_whatever_the_summary_says(tmp_path: Path) -> None:
    result = _result(str(tmp_path), "Indexed 1 file in a sentence worded some other way.")
    result.add_note("Nothing searchable was found: check the path and the include/exclude globs.")
    printed = _printed(result)
    assert "Nothing searchable was found" in printed
    assert "worded some other way" not in printed
    assert result.summary.endswith("include/exclude globs.")
    assert result.notes == ["Nothing searchable was found: check the path and the include/exclude globs."]


def test_the_cli_shows_no_note_line_for_a_run_without_notes(tmp_path: Path) -> None:
    printed = _printed(_result(str(tmp_path), "A summary the CLI must not echo."))
    assert "must not echo" not in printed
