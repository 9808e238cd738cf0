"""API keys of ``comp-adapters serve``, hashed.

Revision ID: v0003_serve
Revises: v0002_governance
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0003_serve"
down_revision = "v0002_governance"
branch_labels = None
depends_on = None

KEY = 255


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(KEY), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("viewer", sa.String(KEY), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger()),
    )
    op.create_index("ix_api_keys_name", "api_keys", ["name"])


def downgrade() -> None:
    raise NotImplementedError("the store migrates forward only")
