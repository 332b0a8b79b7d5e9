"""The core task list's manual duties ticked done: once per duty, person and round.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

A manual duty of data/duties.json (the centre's 17:00 report, the weekly model tuning, a grid walked) is ticked
by its holder for its round (duties/service.py); a repeat keeps the first tick.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "duty_ticks",
        sa.Column("duty_id", sa.String(40), primary_key=True),
        sa.Column("person_id", sa.String(64), primary_key=True),
        sa.Column("period_key", sa.String(10), primary_key=True),
        sa.Column("ticked_by", sa.String(64), nullable=False),
        sa.Column("ticked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("ix_duty_ticks_period", "duty_ticks", ["period_key"])


def downgrade() -> None:
    op.drop_index("ix_duty_ticks_period", table_name="duty_ticks")
    op.drop_table("duty_ticks")
