"""notes

Revision ID: sample0001
Revises:
"""

from alembic import op

revision = "sample0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL, seen INTEGER NOT NULL DEFAULT 0)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE notes")
