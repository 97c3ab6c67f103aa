"""Initial schema: pgvector extension, chunks (PGVectorStore layout), manifest, roots, metadata.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import context, op

from agent_brain_mcp.backends.postgres.schema import downgrade_statements, upgrade_statements

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in upgrade_statements(context.config.attributes["schema"]):
        op.execute(statement)


def downgrade() -> None:
    for statement in downgrade_statements(context.config.attributes["schema"]):
        op.execute(statement)
