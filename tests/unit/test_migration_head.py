"""The schema check that skips Alembic knows the newest revision."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from agent_brain_mcp.backends.postgres.migrations import HEAD_REVISION, migrations_dir


def test_the_head_revision_the_backend_checks_for_is_alembics_head() -> None:
    script = ScriptDirectory(str(migrations_dir()))
    assert script.get_heads() == [HEAD_REVISION], "a new migration: update migrations.HEAD_REVISION"
