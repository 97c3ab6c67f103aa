"""Keyword first, vectors fill in: a chunk row may wait for its vector (embedding NULL).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from alembic import context, op

from agent_brain_mcp.backends.postgres.schema import (
    pending_vectors_downgrade_statements,
    pending_vectors_upgrade_statements,
)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in pending_vectors_upgrade_statements(context.config.attributes["schema"]):
        op.execute(statement)


def downgrade() -> None:
    for statement in pending_vectors_downgrade_statements(context.config.attributes["schema"]):
        op.execute(statement)
