"""kit tables: outbox, event sequences, inbox, parked messages, durable deadlines

Revision ID: kit0001
Revises:
Create Date: 2026-11-20
"""

from alembic import op

revision = "kit0001"
down_revision = None
branch_labels = None
depends_on = None


_STATEMENTS = [
    """
    CREATE TABLE kit_outbox (
    position      BIGSERIAL PRIMARY KEY,
    id            UUID NOT NULL UNIQUE,
    subject       TEXT NOT NULL,
    aggregate     TEXT NOT NULL,
    aggregate_id  TEXT NOT NULL,
    sequence      BIGINT NOT NULL,
    envelope      JSONB NOT NULL,
    headers       JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at  TIMESTAMPTZ,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    UNIQUE (aggregate, aggregate_id, sequence)
    )
    """,
    """
    CREATE INDEX kit_outbox_unpublished ON kit_outbox (position) WHERE published_at IS NULL
    """,
    """
    CREATE TABLE kit_event_sequences (
    aggregate     TEXT NOT NULL,
    aggregate_id  TEXT NOT NULL,
    last_sequence BIGINT NOT NULL,
    PRIMARY KEY (aggregate, aggregate_id)
    )
    """,
    """
    CREATE TABLE kit_inbox (
    consumer      TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    subject       TEXT NOT NULL,
    processed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
    )
    """,
    """
    CREATE TABLE kit_parked (
    id            BIGSERIAL PRIMARY KEY,
    consumer      TEXT NOT NULL,
    event_id      TEXT,
    subject       TEXT NOT NULL,
    payload       TEXT NOT NULL,
    error         TEXT NOT NULL,
    deliveries    INTEGER NOT NULL,
    parked_at     TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE kit_deadlines (
    key           TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    due_at        TIMESTAMPTZ NOT NULL,
    payload       JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    fired_at      TIMESTAMPTZ,
    cancelled_at  TIMESTAMPTZ,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT
    )
    """,
    """
    CREATE INDEX kit_deadlines_due ON kit_deadlines (due_at)
    WHERE fired_at IS NULL AND cancelled_at IS NULL
    """,
]


def upgrade() -> None:
    # asyncpg runs one statement per execute
    for statement in _STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE kit_deadlines, kit_parked, kit_inbox, kit_event_sequences, kit_outbox")
