"""fund commitment entries: one row per `funds.committed` event, so that a withdrawal delivered out of
order takes back only the commitments made before it

`fund_commitments` (one summed row per stakeholder and cycle) stays for the release still running; the
next release drops it.

Revision ID: p0004
Revises: p0003
Create Date: 2026-11-21 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p0004"
down_revision: str | None = "p0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fund_commitment_entries",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        # the `funds.committed` event's sequence in the organisation's funds stream (0: unknown)
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=38, scale=18), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "cycle", "address", "sequence"),
    )
    op.execute(
        "INSERT INTO fund_commitment_entries (organization_id, cycle, address, sequence, amount) "
        "SELECT organization_id, cycle, address, 0, amount FROM fund_commitments"
    )


def downgrade() -> None:
    op.drop_table("fund_commitment_entries")
