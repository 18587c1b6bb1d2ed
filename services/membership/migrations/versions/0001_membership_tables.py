"""membership tables, with the core-team counter trigger

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "applied_proposals",
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_body_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("proposal_id"),
    )
    op.create_table(
        "members",
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("address ~ '^0x[0-9a-f]{40}$'", name="ck_members_address_lower"),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("policy", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cycle_segments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("stakeholder_group_id", sa.Uuid(), nullable=False),
        sa.Column("top_level_cell_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "sign_in_nonces",
        sa.Column("nonce", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_index("ix_sign_in_nonces_expires", "sign_in_nonces", ["expires_at"], unique=False)
    op.create_table(
        "bodies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column("is_top_level", sa.Boolean(), nullable=False),
        sa.Column("core_team_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("state_status", sa.Text(), nullable=True),
        sa.Column("state_purpose", sa.Text(), nullable=True),
        sa.Column("state_strategy", sa.Text(), nullable=True),
        sa.Column("state_agreements", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("state_approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state_proposal_id", sa.Uuid(), nullable=True),
        sa.Column("proposal_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(parent_id IS NULL) = (kind = 'STAKEHOLDER_GROUP' OR is_top_level)", name="ck_bodies_root"
        ),
        sa.CheckConstraint("kind = 'CELL' OR core_team_count = 0", name="ck_bodies_shg_has_no_core_team"),
        sa.CheckConstraint("kind = 'CELL' OR parent_id IS NULL", name="ck_bodies_shg_has_no_parent"),
        sa.CheckConstraint("kind IN ('STAKEHOLDER_GROUP', 'CELL')", name="ck_bodies_kind"),
        sa.CheckConstraint("core_team_count BETWEEN 0 AND 9", name="ck_bodies_core_team_max"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["bodies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bodies_organization", "bodies", ["organization_id"], unique=False)
    op.create_index("ix_bodies_parent", "bodies", ["parent_id", "created_at"], unique=False)
    op.create_table(
        "commitments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawal_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint("amount > 0", name="ck_commitments_positive"),
        sa.CheckConstraint("cycle >= 0", name="ck_commitments_cycle"),
        sa.ForeignKeyConstraint(
            ["address"],
            ["members.address"],
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_commitments_member",
        "commitments",
        ["organization_id", "address"],
        unique=False,
        postgresql_where=sa.text("withdrawn_at IS NULL"),
    )
    op.create_table(
        "cycle_ledgers",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("total", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("allocated", sa.Numeric(), server_default="0", nullable=False),
        sa.CheckConstraint("allocated <= total", name="ck_cycle_ledgers_allocated_le_total"),
        sa.CheckConstraint("allocated >= 0", name="ck_cycle_ledgers_allocated"),
        sa.CheckConstraint("total >= 0", name="ck_cycle_ledgers_total"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("organization_id", "cycle"),
    )
    op.create_table(
        "budgets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("cell_id", sa.UUID(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_budgets_positive"),
        sa.ForeignKeyConstraint(
            ["cell_id"],
            ["bodies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_budgets_cell", "budgets", ["cell_id", "cycle"], unique=False)
    op.create_table(
        "memberships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("body_id", sa.UUID(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined_proposal_id", sa.Uuid(), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_proposal_id", sa.Uuid(), nullable=True),
        sa.Column("left_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("role IN ('STAKEHOLDER', 'CORE_TEAM', 'CONTRIBUTOR')", name="ck_memberships_role"),
        sa.ForeignKeyConstraint(
            ["address"],
            ["members.address"],
        ),
        sa.ForeignKeyConstraint(
            ["body_id"],
            ["bodies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_memberships_address", "memberships", ["address", "joined_at"], unique=False)
    op.create_index(
        "ix_memberships_current_page",
        "memberships",
        ["body_id", "seq"],
        unique=False,
        postgresql_where=sa.text("left_at IS NULL"),
    )
    op.create_index(
        "uq_memberships_current",
        "memberships",
        ["body_id", "address"],
        unique=True,
        postgresql_where=sa.text("left_at IS NULL"),
    )
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("membership_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("cycles", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    # The core team limit lives in the database: every insert or update of a membership moves the
    # body's counter, and the CHECK on `bodies.core_team_count` refuses a 10th. The counter row is
    # locked by the first writer, so two concurrent additions are serialised and the second fails.
    op.execute(
        """
        CREATE FUNCTION memberships_count_core_team() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            was_core boolean := TG_OP <> 'INSERT' AND OLD.role = 'CORE_TEAM' AND OLD.left_at IS NULL;
            is_core boolean := TG_OP <> 'DELETE' AND NEW.role = 'CORE_TEAM' AND NEW.left_at IS NULL;
        BEGIN
            IF was_core AND (NOT is_core OR OLD.body_id <> NEW.body_id) THEN
                UPDATE bodies SET core_team_count = core_team_count - 1 WHERE id = OLD.body_id;
            END IF;
            IF is_core AND (NOT was_core OR OLD.body_id <> NEW.body_id) THEN
                UPDATE bodies SET core_team_count = core_team_count + 1 WHERE id = NEW.body_id;
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER memberships_core_team_count
            AFTER INSERT OR UPDATE OR DELETE ON memberships
            FOR EACH ROW EXECUTE FUNCTION memberships_count_core_team();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER memberships_core_team_count ON memberships")
    op.execute("DROP FUNCTION memberships_count_core_team()")
    op.drop_table("withdrawals")
    op.drop_index(
        "uq_memberships_current", table_name="memberships", postgresql_where=sa.text("left_at IS NULL")
    )
    op.drop_index(
        "ix_memberships_current_page", table_name="memberships", postgresql_where=sa.text("left_at IS NULL")
    )
    op.drop_index("ix_memberships_address", table_name="memberships")
    op.drop_table("memberships")
    op.drop_index("ix_budgets_cell", table_name="budgets")
    op.drop_table("budgets")
    op.drop_table("cycle_ledgers")
    op.drop_index(
        "ix_commitments_member", table_name="commitments", postgresql_where=sa.text("withdrawn_at IS NULL")
    )
    op.drop_table("commitments")
    op.drop_index("ix_bodies_parent", table_name="bodies")
    op.drop_index("ix_bodies_organization", table_name="bodies")
    op.drop_table("bodies")
    op.drop_index("ix_sign_in_nonces_expires", table_name="sign_in_nonces")
    op.drop_table("sign_in_nonces")
    op.drop_table("organizations")
    op.drop_table("members")
    op.drop_table("applied_proposals")
