"""The first store schema: runs, journal, ingests and cursors, evidence ledger, tombstones,
id mappings, proficiency history, leases.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

KEY = 255
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(KEY), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger()),
        sa.Column("summary", sa.Text()),
        sa.Column("error", sa.Text()),
    )
    op.create_index("ix_runs_started_at", "runs", ["started_at"])
    op.create_table(
        "journal",
        sa.Column("plan_fingerprint", sa.String(64), nullable=False),
        sa.Column("change_id", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer()),
        sa.PrimaryKeyConstraint("plan_fingerprint", "change_id", name="pk_journal"),
    )
    op.create_table(
        "ingests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(KEY), nullable=False),
        sa.Column("run_id", sa.Integer()),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("committed_at", sa.BigInteger()),
        sa.Column("cursor_before", sa.Text()),
        sa.Column("cursor_after", sa.Text()),
        sa.Column("counts", sa.Text()),
    )
    op.create_index("ix_ingests_source", "ingests", ["source", "id"])
    op.create_table(
        "source_cursors",
        sa.Column("source", sa.String(KEY), primary_key=True),
        sa.Column("query_fingerprint", sa.Text(), nullable=False),
        sa.Column("cursor", sa.Text()),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("ingest_id", sa.Integer(), nullable=False),
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("source", sa.String(KEY), nullable=False),
        sa.Column("source_id", sa.Text()),
        sa.Column("learner", sa.String(KEY), nullable=False),
        sa.Column("competency", sa.String(KEY), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("score", sa.Float()),
        sa.Column("level", sa.String(KEY)),
        sa.Column("success", sa.Boolean()),
        sa.Column("observed_at", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger()),
        sa.Column("expires_at", sa.BigInteger()),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("visibility", sa.String(32), nullable=False),
        sa.Column("source_system", sa.Text()),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("changed_in", sa.Integer(), nullable=False),
    )
    op.create_index("ix_evidence_pair", "evidence", ["learner", "competency"])
    op.create_index("ix_evidence_record", "evidence", ["source", "source_id"])
    op.create_index("ix_evidence_changed_in", "evidence", ["changed_in"])
    op.create_table(
        "pair_touches",
        sa.Column("ingest_id", sa.Integer(), nullable=False),
        sa.Column("learner", sa.String(KEY), nullable=False),
        sa.Column("competency", sa.String(KEY), nullable=False),
        sa.PrimaryKeyConstraint("ingest_id", "learner", "competency", name="pk_pair_touches"),
    )
    op.create_table(
        "tombstones",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(KEY), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("ingest_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "source", "ref", name="pk_tombstones"),
    )
    op.create_index("ix_tombstones_created_at", "tombstones", ["created_at"])
    op.create_table(
        "id_mappings",
        sa.Column("target", sa.String(KEY), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("remote_id", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer()),
        sa.PrimaryKeyConstraint("target", "key", name="pk_id_mappings"),
    )
    op.create_index("ix_id_mappings_remote", "id_mappings", ["target", "remote_id"])
    op.create_table(
        "proficiency_history",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("framework_key", sa.String(KEY), nullable=False),
        sa.Column("framework_version", sa.String(KEY)),
        sa.Column("learner", sa.String(KEY), nullable=False),
        sa.Column("competency", sa.String(KEY), nullable=False),
        sa.Column("level", sa.String(KEY)),
        sa.Column("score", sa.Float()),
        sa.Column("proficient", sa.Boolean(), nullable=False),
        sa.Column("as_of", sa.BigInteger(), nullable=False),
        sa.Column("evidence_ids", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer()),
    )
    op.create_index(
        "ix_proficiency_history_pair",
        "proficiency_history",
        ["framework_key", "learner", "competency", "as_of"],
    )
    op.create_table(
        "proficiency_current",
        sa.Column("framework_key", sa.String(KEY), nullable=False),
        sa.Column("learner", sa.String(KEY), nullable=False),
        sa.Column("competency", sa.String(KEY), nullable=False),
        sa.Column("history_id", BIG_ID, nullable=False),
        sa.Column("as_of", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint(
            "framework_key", "learner", "competency", name="pk_proficiency_current"
        ),
    )
    op.create_table(
        "leases",
        sa.Column("target", sa.String(KEY), primary_key=True),
        sa.Column("owner", sa.String(KEY), nullable=False),
        sa.Column("acquired_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the store migrates forward only")
