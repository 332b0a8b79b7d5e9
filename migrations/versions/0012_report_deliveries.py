"""Reports delivered on schedule: when each was due and made, its key figures then, and its PDF.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

The daily (17:00), weekly (Fridays) and monthly (before the 5th) reports are made by one process at their
time, and after downtime on start (reports/schedule.py); each delivery is kept once under its kind and key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "report_deliveries",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("key", sa.String(10), primary_key=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("figures", sa.Text, nullable=False),
        sa.Column("pdf", sa.LargeBinary),
    )
    op.create_index("ix_report_deliveries_made_at", "report_deliveries", ["made_at"])


def downgrade() -> None:
    op.drop_index("ix_report_deliveries_made_at", table_name="report_deliveries")
    op.drop_table("report_deliveries")
