"""Vectors by (model identity, exact embedding text): the same text is never embedded twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import context, op

from agent_brain_mcp.backends.postgres.schema import vectors_downgrade_statements, vectors_upgrade_statements

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in vectors_upgrade_statements(context.config.attributes["schema"]):
        op.execute(statement)


def downgrade() -> None:
    for statement in vectors_downgrade_statements(context.config.attributes["schema"]):
        op.execute(statement)
