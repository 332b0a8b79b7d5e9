"""Data timeliness: incidents and sensor events found by when they were kept.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

The timeliness figures read the entries kept in a period (an incident handed over days late counts on
the day it arrived) and each source's newest entry (a source gone quiet); both look rows up by
``ingested_at``.
"""

from __future__ import annotations

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_incidents_ingested_at", "incidents", ["ingested_at"])
    op.create_index("ix_sensor_events_ingested_at", "sensor_events", ["ingested_at"])


def downgrade() -> None:
    op.drop_index("ix_sensor_events_ingested_at", table_name="sensor_events")
    op.drop_index("ix_incidents_ingested_at", table_name="incidents")
