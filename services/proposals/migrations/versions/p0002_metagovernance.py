"""metagovernance: module history, experiments, appeals, feedback windows, polls, milestones

Revision ID: p0002
Revises: p0001
Create Date: 2026-11-21 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "p0002"
down_revision: str | None = "p0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY_LIST = sa.text("'[]'::jsonb")
_EMPTY_OBJECT = sa.text("'{}'::jsonb")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, default: sa.TextClause) -> sa.Column:
    return sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default=default)


def upgrade() -> None:
    op.add_column("policies", _json("layers", _EMPTY_LIST))
    op.add_column("policies", _json("variants", _EMPTY_OBJECT))
    op.add_column("policies", _json("latest", _EMPTY_OBJECT))

    op.add_column("module_versions", sa.Column("cause", sa.Text(), nullable=False, server_default="PROPOSAL"))
    op.add_column("module_versions", sa.Column("experiment_id", sa.Uuid(), nullable=True))
    op.add_column("module_versions", _json("changes", _EMPTY_OBJECT))
    # the founding versions (no proposal) were made with the organisation
    op.execute("UPDATE module_versions SET cause = 'FOUNDED' WHERE proposal_id IS NULL")

    op.add_column("proposals", _ts("voting_starts_at", nullable=True))
    op.add_column("proposals", _ts("voters_taken_at", nullable=True))
    op.add_column("proposals", sa.Column("appeal_of", sa.Uuid(), nullable=True))
    op.add_column("proposals", sa.Column("appealed_by", sa.Uuid(), nullable=True))
    op.add_column("proposals", sa.Column("experiment_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE proposals SET voting_starts_at = created_at, voters_taken_at = created_at")
    op.create_index("ix_proposals_experiment", "proposals", ["experiment_id"], unique=False)
    op.create_index("ux_proposals_appeal_of", "proposals", ["appeal_of"], unique=True)

    op.create_table(
        "experiments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("organization_slug", sa.Text(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("hypothesis", sa.Text(), nullable=False),
        _json("success_measures", _EMPTY_LIST),
        _json("body_ids", _EMPTY_LIST),
        _json("overrides", _EMPTY_OBJECT),
        sa.Column("status", sa.Text(), nullable=False),
        _ts("started_at"),
        _ts("ends_at", nullable=True),
        sa.Column("cycles", sa.Integer(), nullable=True),
        _json("renewals", _EMPTY_LIST),
        _ts("ended_at", nullable=True),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("baseline", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("retrospective", sa.Text(), nullable=True),
        sa.Column("retrospective_by", sa.Text(), nullable=True),
        _ts("retrospective_at", nullable=True),
        sa.CheckConstraint("status IN ('RUNNING','ENDED','ADOPTED')", name="ck_experiments_status"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_experiments_org_started",
        "experiments",
        ["organization_id", sa.text("started_at DESC")],
        unique=False,
    )

    op.create_table(
        "proposal_feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("commission_id", sa.Uuid(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _ts("given_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_proposal_feedback_proposal", "proposal_feedback", ["proposal_id", "given_at"], unique=False
    )

    op.create_table(
        "polls",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("organization_slug", sa.Text(), nullable=False),
        sa.Column("body_id", sa.Uuid(), nullable=True),
        sa.Column("proposal_id", sa.Uuid(), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        _json("options", _EMPTY_LIST),
        sa.Column("multiple", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        _ts("created_at"),
        _ts("closes_at"),
        _ts("closed_at", nullable=True),
        _json("counts", _EMPTY_LIST),
        sa.Column("voter_count", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_polls_org_created",
        "polls",
        ["organization_id", sa.text("created_at DESC"), sa.text("id DESC")],
        unique=False,
    )
    op.create_index("ix_polls_proposal", "polls", ["proposal_id"], unique=False)
    op.create_table(
        "poll_answers",
        sa.Column("poll_id", sa.Uuid(), nullable=False),
        sa.Column("voter", sa.Text(), nullable=False),
        _json("choices", _EMPTY_LIST),
        _ts("answered_at"),
        sa.PrimaryKeyConstraint("poll_id", "voter"),
    )

    op.create_table(
        "milestones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("organization_slug", sa.Text(), nullable=False),
        sa.Column("phase", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _json("depends_on", _EMPTY_LIST),
        _json("module_keys", _EMPTY_LIST),
        _json("proposal_ids", _EMPTY_LIST),
        sa.Column("created_by", sa.Text(), nullable=False),
        _ts("created_at"),
        _ts("completed_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_milestones_org", "milestones", ["organization_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_milestones_org", table_name="milestones")
    op.drop_table("milestones")
    op.drop_table("poll_answers")
    op.drop_index("ix_polls_proposal", table_name="polls")
    op.drop_index("ix_polls_org_created", table_name="polls")
    op.drop_table("polls")
    op.drop_index("ix_proposal_feedback_proposal", table_name="proposal_feedback")
    op.drop_table("proposal_feedback")
    op.drop_index("ix_experiments_org_started", table_name="experiments")
    op.drop_table("experiments")
    op.drop_index("ux_proposals_appeal_of", table_name="proposals")
    op.drop_index("ix_proposals_experiment", table_name="proposals")
    for column in ("experiment_id", "appealed_by", "appeal_of", "voters_taken_at", "voting_starts_at"):
        op.drop_column("proposals", column)
    for column in ("changes", "experiment_id", "cause"):
        op.drop_column("module_versions", column)
    for column in ("latest", "variants", "layers"):
        op.drop_column("policies", column)
