"""Grid workers' photos: each kept picture linked to its task, its uploader and its time; the volunteer a
task was handed to.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

The pictures themselves are in the media store by content hash (``media/store.py``); a task lists
its photos' hashes too (``grid_tasks.photos``), so every pushed task carries them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "grid_task_photos",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(24), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("source_format", sa.String(8), nullable=False),
        sa.Column("location_removed", sa.Boolean, nullable=False),
        sa.UniqueConstraint("task_id", "sha256", name="uq_grid_task_photos"),
    )
    op.create_index("ix_grid_task_photos_sha", "grid_task_photos", ["sha256"])
    with op.batch_alter_table("grid_tasks") as batch:  # the tasks made before: no photos
        batch.add_column(sa.Column("photos", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("volunteer", sa.String(64)))
    with op.batch_alter_table("grid_tasks") as batch:  # from now on the service says so (store/db.py)
        batch.alter_column("photos", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("grid_tasks") as batch:
        batch.drop_column("volunteer")
        batch.drop_column("photos")
    op.drop_table("grid_task_photos")
