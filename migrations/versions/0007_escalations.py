"""Supervision: escalations of late items to their station chief and to the district.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

One row per item and level (``uq_escalations_item_level``): a scan that runs twice, or in two processes,
escalates an item once. A row is closed only by a response; nothing is deleted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("escalation_id", sa.String(24), primary_key=True),
        sa.Column("item_kind", sa.String(12), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("station", sa.String(8), nullable=False),
        sa.Column("grid", sa.String(8)),
        sa.Column("facts", sa.Text, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True)),
        sa.Column("response", sa.Text),
        sa.Column("responded_by", sa.String(64)),
        sa.Column("responded_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("item_kind", "item_id", "level", name="uq_escalations_item_level"),
    )
    op.create_index("ix_escalations_open", "escalations", ["responded_at", "station"])
    op.create_index("ix_escalations_raised", "escalations", ["raised_at"])


def downgrade() -> None:
    op.drop_table("escalations")
