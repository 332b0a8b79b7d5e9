"""People's positions: community officers' terminals and grid workers' phones, for their time in their community.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

Each fix is kept once under its person and time (a repeat adds nothing), with whether it fell within the
person's grids and margin when it arrived (cc:in:positions, positions/presence.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "positions",
        sa.Column("person_id", sa.String(32), primary_key=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("inside", sa.Boolean, nullable=False),
        sa.Column("accuracy", sa.Float),
        sa.Column("source", sa.String(8), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("positions")
