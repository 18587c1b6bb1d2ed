"""proposals tables

Revision ID: p0001
Revises:
Create Date: 2026-11-20 23:17:53.505358
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "p0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bodies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("is_top_level", sa.Boolean(), nullable=False),
        sa.Column("cell_state_status", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bodies_organization", "bodies", ["organization_id"], unique=False)
    op.create_table(
        "fund_allocations",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("allocated", sa.Numeric(precision=38, scale=18), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "cycle"),
    )
    op.create_table(
        "fund_commitments",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=38, scale=18), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "cycle", "address"),
    )
    op.create_table(
        "members",
        sa.Column("body_id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("weight", sa.Numeric(precision=38, scale=18), server_default="0", nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("body_id", "address"),
    )
    op.create_index(
        "ix_members_organization_address", "members", ["organization_id", "address"], unique=False
    )
    op.create_table(
        "module_versions",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("module", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "key", "version"),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("stakeholder_group_id", sa.Uuid(), nullable=False),
        sa.Column("top_level_cell_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cycle_anchor_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cycle_anchor_index", sa.Integer(), nullable=False),
        sa.Column("cycle_length_seconds", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("projection_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("projection_version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_organizations_slug"), "organizations", ["slug"], unique=False)
    op.create_table(
        "policies",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("settings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("overrides", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("modules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id"),
    )
    op.create_table(
        "proposal_counts",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("body_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "body_id", "kind", "status"),
    )
    op.create_table(
        "proposal_voters",
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("weight", sa.Numeric(precision=38, scale=18), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("proposal_id", "address"),
    )
    op.create_table(
        "proposals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("organization_slug", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("body_id", sa.Uuid(), nullable=False),
        sa.Column("deciding_body_id", sa.Uuid(), nullable=False),
        sa.Column("reviewing_body_id", sa.Uuid(), nullable=True),
        sa.Column("proposer", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voting_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voting_closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("review_id", sa.Uuid(), nullable=True),
        sa.Column("review_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enact_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enactment_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("cancelled_by", sa.Text(), nullable=True),
        sa.Column("module_key", sa.Text(), nullable=False),
        sa.Column("module_version", sa.Integer(), nullable=False),
        sa.Column("module", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("actions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("history", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("for_weight", sa.Numeric(precision=38, scale=18), server_default="0", nullable=False),
        sa.Column("against_weight", sa.Numeric(precision=38, scale=18), server_default="0", nullable=False),
        sa.Column("abstain_weight", sa.Numeric(precision=38, scale=18), server_default="0", nullable=False),
        sa.Column("eligible_weight", sa.Numeric(precision=38, scale=18), server_default="0", nullable=False),
        sa.Column("voter_count", sa.Integer(), nullable=False),
        sa.Column("vote_count", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('VOTING','DEFEATED','EXPIRED','IN_REVIEW','BLOCKED',"
            "'QUEUED','ENACTED','FAILED','CANCELLED')",
            name="ck_proposals_status",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_proposals_body_created",
        "proposals",
        ["body_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_proposals_org_created",
        "proposals",
        ["organization_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_proposals_org_kind_created",
        "proposals",
        ["organization_id", "kind", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_proposals_org_status_created",
        "proposals",
        ["organization_id", "status", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_table(
        "votes",
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("voter", sa.Text(), nullable=False),
        sa.Column("choice", sa.Text(), nullable=False),
        sa.Column("weight", sa.Numeric(precision=38, scale=18), server_default="0", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("proposal_id", "voter"),
    )
    op.create_index(
        "ix_votes_proposal_cast",
        "votes",
        ["proposal_id", sa.literal_column("cast_at DESC"), sa.literal_column("voter DESC")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_votes_proposal_cast", table_name="votes")
    op.drop_table("votes")
    op.drop_index("ix_proposals_org_status_created", table_name="proposals")
    op.drop_index("ix_proposals_org_kind_created", table_name="proposals")
    op.drop_index("ix_proposals_org_created", table_name="proposals")
    op.drop_index("ix_proposals_body_created", table_name="proposals")
    op.drop_table("proposals")
    op.drop_table("proposal_voters")
    op.drop_table("proposal_counts")
    op.drop_table("policies")
    op.drop_index(op.f("ix_organizations_slug"), table_name="organizations")
    op.drop_table("organizations")
    op.drop_table("module_versions")
    op.drop_index("ix_members_organization_address", table_name="members")
    op.drop_table("members")
    op.drop_table("fund_commitments")
    op.drop_table("fund_allocations")
    op.drop_index("ix_bodies_organization", table_name="bodies")
    op.drop_table("bodies")
