"""The Monday summaries made, and rectification notices with their progress reports.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

A summary is made once per week (its Monday is the key). A notice is closed by the station's closing report;
nothing is deleted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "summaries",
        sa.Column("key", sa.String(10), primary_key=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("below", sa.Text, nullable=False),
        sa.Column("district", sa.Text, nullable=False),
    )
    op.create_table(
        "notices",
        sa.Column("notice_id", sa.String(24), primary_key=True),
        sa.Column("station", sa.String(8), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("standard", sa.Text, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("measures", sa.Text, nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("closed_by", sa.String(64)),
    )
    op.create_index("ix_notices_open", "notices", ["closed_at", "deadline"])
    op.create_index("ix_notices_issued", "notices", ["issued_at"])
    op.create_table(
        "notice_progress",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notice_id", sa.String(24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("closes", sa.Boolean, nullable=False),
    )
    op.create_index("ix_notice_progress_notice", "notice_progress", ["notice_id", "id"])


def downgrade() -> None:
    op.drop_table("notice_progress")
    op.drop_table("notices")
    op.drop_table("summaries")
