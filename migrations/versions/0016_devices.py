"""The device registry in the database, and the index the health monitor reads the day's faults by.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

City scale (250,000 devices): the registry was a JSON file (data/devices.json). It is now the ``devices`` table,
seeded from that file on a first start and kept by CSV imports (``python -m geo.devices import``, docs/devices.md).
The health monitor reads the faults of the last day at every check: ``ix_sensor_events_kind_observed`` keeps that
from scanning every sensor event ever kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(32), primary_key=True),
        sa.Column("type", sa.String(24), nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("grid", sa.String(8), nullable=False),
        sa.Column("site_kind", sa.String(24)),
        sa.Column("compound", sa.String(32)),
        sa.Column("building", sa.Integer),
        sa.Column("floor", sa.Integer),
        sa.Column("entrance", sa.Integer),
        sa.Column("heartbeat_s", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Float),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_devices_grid", "devices", ["grid"])
    op.create_index("ix_devices_updated_at", "devices", ["updated_at"])
    op.create_index("ix_sensor_events_kind_observed", "sensor_events", ["kind", "observed_at"])


def downgrade() -> None:
    op.drop_index("ix_sensor_events_kind_observed", table_name="sensor_events")
    op.drop_index("ix_devices_updated_at", table_name="devices")
    op.drop_index("ix_devices_grid", table_name="devices")
    op.drop_table("devices")
