"""Return visits: the monthly samples (with the seed that reproduces each draw), the visits to make, and
every call attempt.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

A matter (an incident, a lead, a grid task) is visited at most once (``uq_revisits_matter``), whether a
draw or a person chose it; a visit that finds the problem persisting reopens it as a new lead linked
to the visit (``reopened_lead``). Nothing is deleted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "revisit_samples",
        sa.Column("sample_id", sa.String(24), primary_key=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("fraction", sa.Float, nullable=False),
        sa.Column("population", sa.Integer, nullable=False),
        sa.Column("drawn", sa.Integer, nullable=False),
        sa.Column("strata", sa.Text, nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drawn_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "revisits",
        sa.Column("visit_id", sa.String(24), primary_key=True),
        sa.Column("matter_kind", sa.String(10), nullable=False),
        sa.Column("matter_id", sa.String(64), nullable=False),
        sa.Column("sample_id", sa.String(24)),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("station", sa.String(8), nullable=False),
        sa.Column("grid", sa.String(8), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("matter_outcome", sa.String(20)),
        sa.Column("contact_name", sa.String(64), nullable=False),
        sa.Column("contact_phone", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("result", sa.String(16)),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True)),
        sa.Column("visited_by", sa.String(64)),
        sa.Column("reopened_lead", sa.String(24)),
        sa.UniqueConstraint("matter_kind", "matter_id", name="uq_revisits_matter"),
    )
    op.create_index("ix_revisits_open_due", "revisits", ["visited_at", "due_at"])
    op.create_index("ix_revisits_sample", "revisits", ["sample_id"])
    op.create_table(
        "revisit_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("visit_id", sa.String(24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("event_id", sa.String(64), unique=True),
    )
    op.create_index("ix_revisit_attempts_visit", "revisit_attempts", ["visit_id", "id"])


def downgrade() -> None:
    op.drop_table("revisit_attempts")
    op.drop_table("revisits")
    op.drop_table("revisit_samples")
