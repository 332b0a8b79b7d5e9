"""Schema of the release before migrations.

Revision ID: 0001
Revises:
Create Date: 2026-12-04

Exactly what ``metadata.create_all`` made in that release (store/db.py at
8719f34), written out here because store/db.py keeps changing: a revision must
build the same schema forever. A database of that release has these tables and
no ``alembic_version``; store.migrate stamps it with this revision instead of
running it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Every table of that release: store.migrate recognises such a database by them.
TABLES = (
    "incidents", "sensor_events", "alert_verifications", "notifications", "leads", "risk_runs", "instructions",
    "instruction_events", "unit_reservations", "outbox", "users", "kiosk_tokens", "audit_log", "audit_head",
)

GENESIS = "0" * 64  # audit_head's first hash: the chain starts from it (store/audit.py)

# The database itself refuses changes to past audit records.
_SQLITE_GUARDS = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)
_POSTGRES_GUARDS = (
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
)


def _aware() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("stream_id", sa.String(32), nullable=False),
        sa.Column("reported_at", _aware(), nullable=False),
        sa.Column("ingested_at", _aware(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("grid", sa.String(8), nullable=False),
        sa.Column("category", sa.String(24), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("caller", sa.String(32)),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_incidents_reported_at", "incidents", ["reported_at"])
    op.create_index("ix_incidents_grid_reported", "incidents", ["grid", "reported_at"])
    op.create_index("ix_incidents_caller_reported", "incidents", ["caller", "reported_at"])

    op.create_table(
        "sensor_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("stream_id", sa.String(32), nullable=False),
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("observed_at", _aware(), nullable=False),
        sa.Column("ingested_at", _aware(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("scenario", sa.String(32)),
        sa.Column("value", sa.Float()),
        sa.Column("floor", sa.Integer()),
        sa.Column("grid", sa.String(8)),
    )
    op.create_index("ix_sensor_events_device_observed", "sensor_events", ["device_id", "observed_at"])

    op.create_table(
        "alert_verifications",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("verified_at", _aware(), nullable=False),
        sa.Column("verified_by", sa.String(64), nullable=False),
        sa.Column("seconds_to_verify", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("incident_id", sa.String(64)),
    )

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", _aware(), nullable=False),
        sa.Column("recipient_role", sa.String(24), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("grid", sa.String(8), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_index("ix_notifications_ref", "notifications", ["ref"])

    op.create_table(
        "leads",
        sa.Column("lead_id", sa.String(24), primary_key=True),
        sa.Column("dedupe_key", sa.String(200), nullable=False, unique=True),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("grid", sa.String(8), nullable=False),
        sa.Column("station", sa.String(8), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("created_at", _aware(), nullable=False),
        sa.Column("deadline", _aware(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("suggestion", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("acknowledged_at", _aware()),
        sa.Column("handled_at", _aware()),
        sa.Column("handled_by", sa.String(64)),
        sa.Column("result", sa.Text()),
        sa.Column("useful", sa.Boolean()),
    )
    op.create_index("ix_leads_state_deadline", "leads", ["state", "deadline"])
    op.create_index("ix_leads_created", "leads", ["created_at"])

    op.create_table(
        "risk_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("started_at", _aware(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("leads_created", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
    )

    op.create_table(
        "instructions",
        sa.Column("instruction_id", sa.String(24), primary_key=True),
        sa.Column("idempotency_key", sa.String(100), nullable=False, unique=True),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("unit_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20)),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("officer", sa.String(64), nullable=False),
        sa.Column("zone", sa.String(10), nullable=False),
        sa.Column("issued_at", _aware(), nullable=False),
        sa.Column("arrival_due", _aware(), nullable=False),
        sa.Column("received_at", _aware()),
        sa.Column("en_route_at", _aware()),
        sa.Column("on_scene_at", _aware()),
        sa.Column("result_at", _aware()),
        sa.Column("result_due", _aware()),
        sa.Column("finished_at", _aware()),
    )
    op.create_index("ix_instructions_incident", "instructions", ["incident_id"])
    op.create_index("ix_instructions_state", "instructions", ["state"])

    op.create_table(
        "instruction_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("instruction_id", sa.String(24), nullable=False),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("at", _aware(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_instruction_events_incident", "instruction_events", ["incident_id", "at"])

    op.create_table(
        "unit_reservations",
        sa.Column("unit_id", sa.String(32), primary_key=True),
        sa.Column("instruction_id", sa.String(24), nullable=False),
        sa.Column("reserved_at", _aware(), nullable=False),
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("stream", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", _aware(), nullable=False),
        sa.Column("sent_at", _aware()),
    )
    op.create_index("ix_outbox_unsent", "outbox", ["sent_at", "id"])

    op.create_table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("station", sa.String(8)),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", _aware()),
        sa.Column("created_at", _aware(), nullable=False),
        sa.Column("last_login_at", _aware()),
    )

    op.create_table(
        "kiosk_tokens",
        sa.Column("token_id", sa.String(16), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _aware(), nullable=False),
        sa.Column("revoked_at", _aware()),
    )

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", _aware(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("target", sa.String(120), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "seq"])
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE_GUARDS, "postgresql": _POSTGRES_GUARDS}.get(dialect, ()):
        op.execute(statement)

    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": GENESIS}])


def downgrade() -> None:
    op.drop_table("audit_head")
    # Dropping a table drops its triggers; PostgreSQL's trigger function stands alone.
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    # Indexes go with their tables.
    for table in reversed(TABLES[:-2]):
        op.drop_table(table)
