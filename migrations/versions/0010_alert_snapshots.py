"""Sensor events: a camera alert's snapshot.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

An alert from a device with a camera may carry what the camera saw (docs/ingest.md): the picture is
kept in the media store by content hash, which ``snapshot`` holds; a picture that was refused (not an
image, too large, truncated) leaves its reason in ``snapshot_refused`` while the alert is kept. Older
rows have neither.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("sensor_events", sa.Column("snapshot", sa.String(64)))
    op.add_column("sensor_events", sa.Column("snapshot_refused", sa.String(24)))
    op.create_index("ix_sensor_events_snapshot", "sensor_events", ["snapshot"])


def downgrade() -> None:
    op.drop_index("ix_sensor_events_snapshot", table_name="sensor_events")
    op.drop_column("sensor_events", "snapshot_refused")
    op.drop_column("sensor_events", "snapshot")
