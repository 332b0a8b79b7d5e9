"""Grid tasks: what the hall passes to a grid's worker, with its clocks, and their append-only log;
grid workers' accounts bound to their grids.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

One task per cause (``kind``, ``ref``): an alert passed to the grid worker, a compound alert that
notifies at once, and later medium leads and hazards. ``gridwork/tasks.py`` describes the states
and the clocks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "grid_tasks",
        sa.Column("task_id", sa.String(24), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("grid", sa.String(8), nullable=False),
        sa.Column("station", sa.String(32), nullable=False),
        sa.Column("worker", sa.String(64), nullable=False),
        sa.Column("zone", sa.String(10), nullable=False),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("on_scene_due", sa.DateTime(timezone=True)),
        sa.Column("result_due", sa.DateTime(timezone=True)),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
        sa.Column("on_scene_at", sa.DateTime(timezone=True)),
        sa.Column("on_scene_distance_m", sa.Float),
        sa.Column("reported_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(20)),
        sa.Column("note", sa.Text, nullable=False),
        sa.UniqueConstraint("kind", "ref", name="uq_grid_tasks_cause"),
    )
    op.create_index("ix_grid_tasks_state", "grid_tasks", ["state"])
    op.create_index("ix_grid_tasks_grid", "grid_tasks", ["grid", "created_at"])
    op.create_table(
        "grid_task_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_grid_task_events_task", "grid_task_events", ["task_id", "at"])
    op.create_table(
        "user_grids",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("grid", sa.String(8), primary_key=True),
    )
    op.create_index("ix_user_grids_grid", "user_grids", ["grid"])


def downgrade() -> None:
    op.drop_table("user_grids")
    op.drop_table("grid_task_events")
    op.drop_table("grid_tasks")
