"""The evaluation index's kept months: each subject's readings of a month that has ended.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

Scores per community officer, grid worker and station (evaluation/service.py) are computed from the record; a
month that has ended is kept once, so its scores stay what the month's report gave.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "evaluation_scores",
        sa.Column("period_key", sa.String(16), primary_key=True),
        sa.Column("subject_id", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("station", sa.String(8), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("readings", sa.Text, nullable=False),
        sa.Column("index_digest", sa.String(16), nullable=False),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_evaluation_scores_station", "evaluation_scores", ["period_key", "station"])


def downgrade() -> None:
    op.drop_index("ix_evaluation_scores_station", table_name="evaluation_scores")
    op.drop_table("evaluation_scores")
