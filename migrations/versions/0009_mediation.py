"""The mediation centre: its people, its cases with their parties (numbers sealed), mediators, sessions, links
and history.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

A case keeps every step as a column (the clocks read them) and every act in ``mediation_events``; nothing is
deleted. Identity and phone numbers are stored sealed, with a keyed digest to find them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "mediators",
        sa.Column("mediator_id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("case_types", sa.Text, nullable=False),
        sa.Column("stations", sa.Text, nullable=False),
        sa.Column("username", sa.String(64), unique=True),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "mediation_cases",
        sa.Column("case_id", sa.String(24), primary_key=True),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("source_ref", sa.String(64)),
        sa.Column("case_type", sa.String(16), nullable=False),
        sa.Column("station", sa.String(8), nullable=False),
        sa.Column("grid", sa.String(8)),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("household", sa.String(160), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("stage", sa.String(12), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("handover_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("triaged_at", sa.DateTime(timezone=True)),
        sa.Column("triaged_by", sa.String(64)),
        sa.Column("fits", sa.Boolean),
        sa.Column("triage", sa.Text, nullable=False),
        sa.Column("reclassified", sa.Boolean, nullable=False),
        sa.Column("handed_over_at", sa.DateTime(timezone=True)),
        sa.Column("contact_due", sa.DateTime(timezone=True)),
        sa.Column("contacted_at", sa.DateTime(timezone=True)),
        sa.Column("session_at", sa.DateTime(timezone=True)),
        sa.Column("remote", sa.Boolean, nullable=False),
        sa.Column("meeting_link", sa.String(300), nullable=False),
        sa.Column("identity", sa.String(10)),
        sa.Column("agreed_at", sa.DateTime(timezone=True)),
        sa.Column("agreement", sa.Text, nullable=False),
        sa.Column("signatures", sa.Text, nullable=False),
        sa.Column("fulfil_due", sa.DateTime(timezone=True)),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True)),
        sa.Column("fulfilled", sa.Boolean),
        sa.Column("visit_due", sa.DateTime(timezone=True)),
        sa.Column("visited_at", sa.DateTime(timezone=True)),
        sa.Column("satisfied", sa.Boolean),
        sa.Column("referred_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("application", sa.String(32)),
    )
    op.create_index("ix_mediation_cases_application", "mediation_cases", ["application"])
    op.create_index("ix_mediation_cases_household", "mediation_cases", ["household"])
    op.create_index("ix_mediation_cases_open", "mediation_cases", ["closed_at", "stage"])
    op.create_index("ix_mediation_cases_opened", "mediation_cases", ["opened_at"])
    op.create_table(
        "mediation_parties",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(24), nullable=False),
        sa.Column("side", sa.String(12), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("id_sealed", sa.Text, nullable=False),
        sa.Column("id_digest", sa.String(32), nullable=False),
        sa.Column("phone_sealed", sa.Text, nullable=False),
        sa.Column("phone_digest", sa.String(32), nullable=False),
        sa.Column("contacted_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_mediation_parties_case", "mediation_parties", ["case_id"])
    op.create_index("ix_mediation_parties_phone", "mediation_parties", ["phone_digest"])
    op.create_table(
        "mediation_assignments",
        sa.Column("case_id", sa.String(24), primary_key=True),
        sa.Column("mediator_id", sa.String(16), primary_key=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(64), nullable=False),
        sa.Column("matched", sa.Boolean, nullable=False),
    )
    op.create_index("ix_mediation_assignments_mediator", "mediation_assignments", ["mediator_id"])
    op.create_table(
        "mediation_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(24), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("remote", sa.Boolean, nullable=False),
        sa.Column("claims", sa.Text, nullable=False),
        sa.Column("dispute", sa.Text, nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("consensus", sa.Text, nullable=False),
        sa.Column("agreed", sa.Boolean, nullable=False),
    )
    op.create_index("ix_mediation_sessions_case", "mediation_sessions", ["case_id", "id"])
    op.create_table(
        "mediation_links",
        sa.Column("case_id", sa.String(24), primary_key=True),
        sa.Column("kind", sa.String(12), primary_key=True),
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("later", sa.Boolean, nullable=False),
    )
    op.create_index("ix_mediation_links_ref", "mediation_links", ["kind", "ref"])
    op.create_table(
        "mediation_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_mediation_events_case", "mediation_events", ["case_id", "id"])


def downgrade() -> None:
    op.drop_table("mediation_events")
    op.drop_table("mediation_links")
    op.drop_table("mediation_sessions")
    op.drop_table("mediation_assignments")
    op.drop_table("mediation_parties")
    op.drop_table("mediation_cases")
    op.drop_table("mediators")
