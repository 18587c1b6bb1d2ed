"""feedback commissions: a body kind with seat quotas by group, and the commissioner role

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("ck_bodies_kind", "bodies", type_="check")
    op.create_check_constraint(
        "ck_bodies_kind", "bodies", "kind IN ('STAKEHOLDER_GROUP', 'CELL', 'COMMISSION')"
    )
    # a commission, like the SHG, is a root of its own (no parent) without being the TLC
    op.drop_constraint("ck_bodies_root", "bodies", type_="check")
    op.create_check_constraint(
        "ck_bodies_root", "bodies", "(parent_id IS NULL) = (kind <> 'CELL' OR is_top_level)"
    )
    op.drop_constraint("ck_memberships_role", "memberships", type_="check")
    op.create_check_constraint(
        "ck_memberships_role",
        "memberships",
        "role IN ('STAKEHOLDER', 'CORE_TEAM', 'CONTRIBUTOR', 'COMMISSIONER')",
    )
    op.add_column("memberships", sa.Column("seat_group", sa.Text(), nullable=True))
    op.create_table(
        "commissions",
        sa.Column("body_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("bodies.id"), nullable=False),
        sa.Column(
            "organization_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("organizations.id"),
            nullable=False,
        ),
        sa.Column("seats", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("selection", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "selection IN ('APPOINTED', 'ELECTED', 'RANDOM')", name="ck_commissions_selection"
        ),
        sa.PrimaryKeyConstraint("body_id"),
    )


def downgrade() -> None:
    op.drop_table("commissions")
    op.drop_column("memberships", "seat_group")
    op.drop_constraint("ck_memberships_role", "memberships", type_="check")
    op.create_check_constraint(
        "ck_memberships_role", "memberships", "role IN ('STAKEHOLDER', 'CORE_TEAM', 'CONTRIBUTOR')"
    )
    op.drop_constraint("ck_bodies_root", "bodies", type_="check")
    op.create_check_constraint(
        "ck_bodies_root", "bodies", "(parent_id IS NULL) = (kind = 'STAKEHOLDER_GROUP' OR is_top_level)"
    )
    op.drop_constraint("ck_bodies_kind", "bodies", type_="check")
    op.create_check_constraint("ck_bodies_kind", "bodies", "kind IN ('STAKEHOLDER_GROUP', 'CELL')")
