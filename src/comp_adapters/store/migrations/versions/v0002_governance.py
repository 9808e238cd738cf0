"""Governance: framework versions (drafts and releases) and the hash-chained audit log.

Revision ID: v0002_governance
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0002_governance"
down_revision = "0001"
branch_labels = None
depends_on = None

KEY = 255
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "framework_versions",
        sa.Column("framework_key", sa.String(KEY), nullable=False),
        sa.Column("version", sa.String(KEY), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("effective_from", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("released_at", sa.BigInteger()),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("framework_key", "version", name="pk_framework_versions"),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", BIG_ID, primary_key=True, autoincrement=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(KEY), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("prev_hash", name="uq_audit_log_prev_hash"),
    )


def downgrade() -> None:
    raise NotImplementedError("the store migrates forward only")
