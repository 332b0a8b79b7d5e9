"""Incidents: history flag and status index; leads: facts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

``incidents.history`` marks backfilled history (kept for the baselines, never on
the officers' board); its server default makes every existing incident a live
one. ``ix_incidents_status`` serves the board's "every incident still open".
``leads.facts`` holds what a lead's summary says as JSON, so any page renders it
in its own language; older leads have none.

SQLite adds a column and creates or drops an index in place, and (3.35+) drops an
unindexed column in place, so no batch mode is needed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("history", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.add_column("leads", sa.Column("facts", sa.Text()))


def downgrade() -> None:
    op.drop_column("leads", "facts")
    op.drop_index("ix_incidents_status", table_name="incidents")
    op.drop_column("incidents", "history")
