"""Sensor events: why an alert was kept as a reading.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

An alert below its scenario's threshold (smoke under 0.1 mg/m³, a throw from under the 3rd
floor) or from a device that cannot report its scenario is kept with ``kind = 'reading'`` and
the reason in ``screened`` (``below_threshold``, ``below_floor``, ``wrong_device``); it never
reaches the duty officer's queue. Older rows have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("sensor_events", sa.Column("screened", sa.String(16)))


def downgrade() -> None:
    op.drop_column("sensor_events", "screened")
