"""Document frequency of full-text lexemes: weights keyword terms by rarity, bounds keyword candidates.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from alembic import context, op

from agent_brain_mcp.backends.postgres.schema import terms_downgrade_statements, terms_upgrade_statements

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in terms_upgrade_statements(context.config.attributes["schema"]):
        op.execute(statement)


def downgrade() -> None:
    for statement in terms_downgrade_statements(context.config.attributes["schema"]):
        op.execute(statement)
