"""Tables and engine of the system of record.

Everything that must be kept for months (incidents, sensor alerts; later
instructions, leads and audit) is committed here. Redis carries events and hot
state only. SQLAlchemy Core keeps one code path for SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    false,
)
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

metadata = MetaData()

incidents = Table(
    "incidents",
    metadata,
    Column("event_id", String(64), primary_key=True),  # the producer's id: a repeat is ignored
    Column("stream_id", String(32), nullable=False),  # the {cc}:in:incidents entry it came from
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    Column("lon", Float, nullable=False),  # WGS-84
    Column("lat", Float, nullable=False),
    Column("grid", String(8), nullable=False),
    Column("category", String(24), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("address", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("caller", String(32)),
    Column("source", String(8), nullable=False),
    Column("status", String(16), nullable=False, default="new"),
    # Backfilled history: kept for the baselines, never on the officers' board.
    Column("history", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_incidents_reported_at", "reported_at"),
    Index("ix_incidents_status", "status"),  # the board: every incident still open, whatever its age
    Index("ix_incidents_grid_reported", "grid", "reported_at"),
    Index("ix_incidents_caller_reported", "caller", "reported_at"),  # repeat-call warnings
    Index("ix_incidents_ingested_at", "ingested_at"),  # data timeliness: what was kept when, each source's newest
)

sensor_events = Table(
    "sensor_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("stream_id", String(32), nullable=False),
    Column("device_id", String(32), nullable=False),
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),  # alert / reading / fault (heartbeats stay in Redis)
    Column("scenario", String(32)),
    Column("value", Float),
    Column("floor", Integer),
    Column("grid", String(8)),
    Column("screened", String(16)),  # a reading: why the alert it came as was not raised (geo.scenarios.Screened)
    Column("snapshot", String(64)),  # a camera alert's picture: its content hash in the media store
    Column("snapshot_refused", String(24)),  # why the picture it came with was refused (sensors/snapshots.py)
    Index("ix_sensor_events_device_observed", "device_id", "observed_at"),
    Index("ix_sensor_events_snapshot", "snapshot"),  # who may see a picture: the alerts that carried it
    Index("ix_sensor_events_ingested_at", "ingested_at"),  # data timeliness: the readings kept in a period
    Index("ix_sensor_events_kind_observed", "kind", "observed_at"),  # device health: the last day's faults
)

# The device registry (geo/devices.py): what each sensing device is and where. Seeded from data/devices.json on a
# first start, then kept by imports (python -m geo.devices import FILE.csv, upsert by id; docs/devices.md).
devices = Table(
    "devices",
    metadata,
    Column("device_id", String(32), primary_key=True),
    Column("type", String(24), nullable=False),  # camera / behaviour / smoke / throwing_camera / door
    Column("lon", Float, nullable=False),  # WGS-84
    Column("lat", Float, nullable=False),
    Column("grid", String(8), nullable=False),
    Column("site_kind", String(24)),
    Column("compound", String(32)),
    Column("building", Integer),
    Column("floor", Integer),
    Column("entrance", Integer),
    Column("heartbeat_s", Integer, nullable=False),
    Column("threshold", Float),
    Column("updated_at", DateTime(timezone=True), nullable=False),  # when it was last imported
    Index("ix_devices_grid", "grid"),
    Index("ix_devices_updated_at", "updated_at"),  # every process's check for an import to reload after
)

# People's positions ({cc}:in:positions): community officers' terminals, grid workers' phones. Their time in their
# community is judged from these (positions/presence.py). The key is (person, time): a repeated fix adds nothing,
# and it is the index a person's fixes over a period are read by.
positions = Table(
    "positions",
    metadata,
    Column("person_id", String(32), primary_key=True),  # a roster id (geo/roster.py)
    Column("observed_at", DateTime(timezone=True), primary_key=True),
    Column("lon", Float, nullable=False),  # WGS-84
    Column("lat", Float, nullable=False),
    # Within the person's grids or the margin around them, judged on arrival against the grids and margin then in
    # force: a redrawn grid or a changed margin never rewrites a month already worked.
    Column("inside", Boolean, nullable=False),
    Column("accuracy", Float),  # metres, as the device reported it
    Column("source", String(8), nullable=False),  # terminal / phone
)


# The duty officer's verdict on a sensor alert: one per alert (the primary key is the lock).
alert_verifications = Table(
    "alert_verifications",
    metadata,
    Column("event_id", String(64), primary_key=True),  # the alert in sensor_events
    Column("verdict", String(16), nullable=False),  # dispatched / to_grid_worker / false_alarm
    Column("verified_at", DateTime(timezone=True), nullable=False),
    Column("verified_by", String(64), nullable=False),
    Column("seconds_to_verify", Float, nullable=False),  # from the alert reaching the screen
    Column("reason", Text, nullable=False, default=""),
    Column("incident_id", String(64)),  # the incident a confirmed alert became
)

# Every message sent to a person outside the centre (grid workers, property managers).
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("recipient_role", String(24), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("grid", String(8), nullable=False),
    Column("ref", String(64), nullable=False),  # the alert or incident it is about
    Column("text", Text, nullable=False),
    Index("ix_notifications_ref", "ref"),
)


# What the hall passes to a grid's worker (gridwork/tasks.py): one task per cause (kind, ref).
grid_tasks = Table(
    "grid_tasks",
    metadata,
    Column("task_id", String(24), primary_key=True),
    Column("kind", String(10), nullable=False),  # alert / lead / hazard
    Column("ref", String(64), nullable=False),  # the alert's event_id, the lead's id, ...
    Column("grid", String(8), nullable=False),
    Column("station", String(32), nullable=False),  # the grid's station when the task was made
    Column("worker", String(64), nullable=False),  # the grid's worker when the task was made
    Column("zone", String(10), nullable=False),
    Column("lon", Float),  # the site, for the navigation link and the "on scene" check
    Column("lat", Float),
    Column("summary", Text, nullable=False),
    Column("state", String(12), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("on_scene_due", DateTime(timezone=True)),  # none for kinds without an on-scene clock
    Column("result_due", DateTime(timezone=True)),  # alerts: set on arrival (photo + note within the hour)
    Column("accepted_at", DateTime(timezone=True)),
    Column("on_scene_at", DateTime(timezone=True)),
    Column("on_scene_distance_m", Float),  # from the phone's position to the site
    Column("reported_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),  # ended without a result: handed back, or called off
    Column("outcome", String(20)),
    Column("note", Text, nullable=False, default=""),
    Column("photos", Text, nullable=False, default=""),  # the photos' hashes, comma-separated
    Column("volunteer", String(64)),  # the volunteer it was handed to, if any (the grid worker stays answerable)
    UniqueConstraint("kind", "ref", name="uq_grid_tasks_cause"),
    Index("ix_grid_tasks_state", "state"),
    Index("ix_grid_tasks_grid", "grid", "created_at"),
)

# Append-only: who did what to which grid task, when.
grid_task_events = Table(
    "grid_task_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(24), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_grid_task_events_task", "task_id", "at"),
)

# Grid workers' photos (the pictures are in the media store by hash): who sent which, when, to which task.
grid_task_photos = Table(
    "grid_task_photos",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(24), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    Column("bytes", Integer, nullable=False),  # of the kept picture
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("source_format", String(8), nullable=False),  # as sent: JPEG / PNG / WEBP
    Column("location_removed", Boolean, nullable=False),  # it carried a GPS position, not kept
    UniqueConstraint("task_id", "sha256", name="uq_grid_task_photos"),
    Index("ix_grid_task_photos_sha", "sha256"),
)

# Return visits (revisits/): each month's draw with the seed that reproduces it, the visits to make (a matter at
# most once, drawn or chosen by hand) and every call attempt. A visit that finds the problem persisting reopens
# the matter as a lead (``reopened_lead``).
revisit_samples = Table(
    "revisit_samples",
    metadata,
    Column("sample_id", String(24), primary_key=True),
    Column("period_start", DateTime(timezone=True), nullable=False),  # the closed matters of [start, end)
    Column("period_end", DateTime(timezone=True), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("fraction", Float, nullable=False),
    Column("population", Integer, nullable=False),
    Column("drawn", Integer, nullable=False),
    Column("strata", Text, nullable=False),  # JSON: "station/kind" -> [population, drawn]
    Column("drawn_at", DateTime(timezone=True), nullable=False),
    Column("drawn_by", String(64), nullable=False),
)

revisits = Table(
    "revisits",
    metadata,
    Column("visit_id", String(24), primary_key=True),
    Column("matter_kind", String(10), nullable=False),  # incident / lead / task
    Column("matter_id", String(64), nullable=False),
    Column("sample_id", String(24)),  # none: added by hand
    Column("reason", String(16), nullable=False),  # sample / complaint / chief
    Column("station", String(8), nullable=False),
    Column("grid", String(8), nullable=False),
    Column("summary", Text, nullable=False),  # what the matter was, as it closed
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Column("matter_outcome", String(20)),
    Column("contact_name", String(64), nullable=False),
    Column("contact_phone", String(32)),  # shown in full only to the visit desk (auth.roles: CALL_REVISITS)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("result", String(16)),  # satisfied / not_satisfied / persists / unreachable; none while open
    Column("note", Text, nullable=False),
    Column("visited_at", DateTime(timezone=True)),  # when the visit ended
    Column("visited_by", String(64)),
    Column("reopened_lead", String(24)),
    UniqueConstraint("matter_kind", "matter_id", name="uq_revisits_matter"),
    Index("ix_revisits_open_due", "visited_at", "due_at"),
    Index("ix_revisits_sample", "sample_id"),
)

revisit_attempts = Table(
    "revisit_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("visit_id", String(24), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", String(64), nullable=False),
    Column("result", String(16), nullable=False),
    Column("note", Text, nullable=False),
    Column("channel", String(12), nullable=False),  # desk / call_centre ({cc}:in:revisits)
    Column("event_id", String(64), unique=True),  # the call centre's entry: a repeat is ignored
    Index("ix_revisit_attempts_visit", "visit_id", "id"),
)

# Supervision (supervision/): an item late enough goes on its station chief's list, later on the district's; one
# escalation per item and level, closed only with a response. ``cleared_at``: when the item stopped being late.
escalations = Table(
    "escalations",
    metadata,
    Column("escalation_id", String(24), primary_key=True),
    Column("item_kind", String(12), nullable=False),  # instruction / alert / lead / grid_task / revisit
    Column("item_id", String(64), nullable=False),
    Column("level", String(10), nullable=False),  # station / district
    Column("station", String(8), nullable=False),
    Column("grid", String(8)),
    Column("facts", Text, nullable=False),  # JSON: what the item is (unit, step, scenario, ...), rendered per language
    Column("due_at", DateTime(timezone=True), nullable=False),  # the deadline the item missed
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("cleared_at", DateTime(timezone=True)),
    Column("response", Text),
    Column("responded_by", String(64)),
    Column("responded_at", DateTime(timezone=True)),
    UniqueConstraint("item_kind", "item_id", "level", name="uq_escalations_item_level"),
    Index("ix_escalations_open", "responded_at", "station"),
    Index("ix_escalations_raised", "raised_at"),
)

# The Monday summaries made (supervision/weekly.py): one per week, with the stations below target and why.
summaries = Table(
    "summaries",
    metadata,
    Column("key", String(10), primary_key=True),  # the Monday it is filed on
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("period_end", DateTime(timezone=True), nullable=False),
    Column("made_at", DateTime(timezone=True), nullable=False),
    Column("below", Text, nullable=False),  # JSON: [{station, reasons: [...]}]
    Column("district", Text, nullable=False),  # JSON: the district's disposal and calls
)

# The evaluation index's readings of a month that has ended (evaluation/service.py): one row per subject (a
# community officer, a grid worker, a station), kept once so a past month's scores stay what they were.
evaluation_scores = Table(
    "evaluation_scores",
    metadata,
    Column("period_key", String(16), primary_key=True),  # "month:2026-11"
    Column("subject_id", String(16), primary_key=True),
    Column("kind", String(24), nullable=False),
    Column("station", String(8), nullable=False),
    Column("score", Float),  # the overall score when kept (None: nothing to judge)
    Column("readings", Text, nullable=False),  # JSON: measure -> [value, numerator, denominator]
    Column("index_digest", String(16), nullable=False),  # the index the score was made with
    Column("kept_at", DateTime(timezone=True), nullable=False),
    Index("ix_evaluation_scores_station", "period_key", "station"),
)

# Reports delivered on schedule (reports/schedule.py): when each was due and made, its key figures then, its PDF.
report_deliveries = Table(
    "report_deliveries",
    metadata,
    Column("kind", String(8), primary_key=True),  # daily / weekly / monthly
    Column("key", String(10), primary_key=True),  # the date (daily, weekly) or month it is filed under
    Column("scheduled_at", DateTime(timezone=True), nullable=False),
    Column("due_by", DateTime(timezone=True), nullable=False),
    Column("made_at", DateTime(timezone=True), nullable=False),
    Column("figures", Text, nullable=False),  # JSON: the district's key figures as delivered
    Column("pdf", LargeBinary),  # the document as delivered (none: Chromium was not installed)
    Index("ix_report_deliveries_made_at", "made_at"),
)

# The core task list's manual duties ticked done (duties/service.py): once per duty, person and round.
duty_ticks = Table(
    "duty_ticks",
    metadata,
    Column("duty_id", String(40), primary_key=True),  # data/duties.json's id
    Column("person_id", String(64), primary_key=True),  # a roster id (GW-SC-001), a username or a mediator's id
    Column("period_key", String(10), primary_key=True),  # the round: its due date, ISO week (2026-W50) or month
    Column("ticked_by", String(64), nullable=False),
    Column("ticked_at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=False),
    Index("ix_duty_ticks_period", "period_key"),
)

# Rectification notices (supervision/notices.py): a chief's notice to a station (or a unit of it) for a missed
# standard, with measures and a deadline of at most seven days; the station's progress reports, the last closing it.
notices = Table(
    "notices",
    metadata,
    Column("notice_id", String(24), primary_key=True),
    Column("station", String(8), nullable=False),
    Column("unit", String(64), nullable=False),  # a team, post or person of the station; empty: the station
    Column("standard", Text, nullable=False),  # the standard missed, with its figure
    Column("source", String(64), nullable=False),  # summary:<monday> / indicator / other
    Column("measures", Text, nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("closed_by", String(64)),
    Index("ix_notices_open", "closed_at", "deadline"),
    Index("ix_notices_issued", "issued_at"),
)

notice_progress = Table(
    "notice_progress",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notice_id", String(24), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("closes", Boolean, nullable=False),  # the report that the rectification is done
    Index("ix_notice_progress_notice", "notice_id", "id"),
)

# The mediation centre (mediation/): its people, and each dispute from triage to a fulfilled agreement and the
# return visit after it. Identity and phone numbers are sealed (mediation/vault.py), found again by keyed digest.
mediators = Table(
    "mediators",
    metadata,
    Column("mediator_id", String(16), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("kind", String(20), nullable=False),  # lawyer / peoples_mediator / worthy / wedding_custom / ...
    Column("case_types", Text, nullable=False),  # comma-separated case types they take; empty: any
    Column("stations", Text, nullable=False),  # comma-separated stations they serve; empty: the whole district
    Column("username", String(64), unique=True),  # their account (role mediator), if they sign in
    Column("active", Boolean, nullable=False),
)

mediation_cases = Table(
    "mediation_cases",
    metadata,
    Column("case_id", String(24), primary_key=True),
    Column("source", String(10), nullable=False),  # dispatch / lead / online / manual
    Column("source_ref", String(64)),  # the incident, lead or application it opened from
    Column("case_type", String(16), nullable=False),
    Column("station", String(8), nullable=False),
    Column("grid", String(8)),
    Column("address", Text, nullable=False),
    Column("household", String(160), nullable=False),  # geo.address.household_key of the address
    Column("summary", Text, nullable=False),
    Column("stage", String(12), nullable=False),  # mediation.cases.Stage
    Column("outcome", String(16)),  # mediation.cases.Outcome, once closed
    Column("round", Integer, nullable=False),  # 1, or 2 for the one second mediation
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("handover_due", DateTime(timezone=True), nullable=False),  # triaged and with mediators within 1 h
    Column("triaged_at", DateTime(timezone=True)),
    Column("triaged_by", String(64)),
    Column("fits", Boolean),
    Column("triage", Text, nullable=False),  # JSON: the form's answers and the reasons
    Column("reclassified", Boolean, nullable=False),  # the centre changed the triage's type (triage accuracy)
    Column("handed_over_at", DateTime(timezone=True)),
    Column("contact_due", DateTime(timezone=True)),  # both parties within 24 h of the hand-over
    Column("contacted_at", DateTime(timezone=True)),
    Column("session_at", DateTime(timezone=True)),  # the session's scheduled time
    Column("remote", Boolean, nullable=False),
    Column("meeting_link", String(300), nullable=False),
    Column("identity", String(10)),  # how the parties' identities were verified: in_person / video
    Column("agreed_at", DateTime(timezone=True)),
    Column("agreement", Text, nullable=False),
    Column("signatures", Text, nullable=False),  # JSON: the parties' typed signatures [{side, name, at}]
    Column("fulfil_due", DateTime(timezone=True)),  # the agreement's deadline (at most 7 days)
    Column("fulfilled_at", DateTime(timezone=True)),  # when fulfilment (or its failure) was recorded
    Column("fulfilled", Boolean),
    Column("visit_due", DateTime(timezone=True)),  # 3 days after the fulfilment deadline
    Column("visited_at", DateTime(timezone=True)),
    Column("satisfied", Boolean),
    Column("referred_at", DateTime(timezone=True)),  # judicial confirmation requested (not fulfilled)
    Column("closed_at", DateTime(timezone=True)),
    Column("application", String(32)),  # an online application's duplicate key (a keyed digest)
    Index("ix_mediation_cases_open", "closed_at", "stage"),
    Index("ix_mediation_cases_household", "household"),
    Index("ix_mediation_cases_opened", "opened_at"),
    Index("ix_mediation_cases_application", "application"),
)

mediation_parties = Table(
    "mediation_parties",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(24), nullable=False),
    Column("side", String(12), nullable=False),  # applicant / respondent
    Column("name", String(64), nullable=False),
    Column("id_sealed", Text, nullable=False),
    Column("id_digest", String(32), nullable=False),
    Column("phone_sealed", Text, nullable=False),
    Column("phone_digest", String(32), nullable=False),
    Column("contacted_at", DateTime(timezone=True)),
    Index("ix_mediation_parties_case", "case_id"),
    Index("ix_mediation_parties_phone", "phone_digest"),
)

mediation_assignments = Table(
    "mediation_assignments",
    metadata,
    Column("case_id", String(24), primary_key=True),
    Column("mediator_id", String(16), primary_key=True),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("assigned_by", String(64), nullable=False),
    Column("matched", Boolean, nullable=False),  # chosen by the matching (false: by hand)
    Index("ix_mediation_assignments_mediator", "mediator_id"),
)

# Each session's four steps as recorded (hear the claims, sort out the dispute, propose a plan, reach consensus).
mediation_sessions = Table(
    "mediation_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(24), nullable=False),
    Column("round", Integer, nullable=False),
    Column("held_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Column("remote", Boolean, nullable=False),
    Column("claims", Text, nullable=False),
    Column("dispute", Text, nullable=False),
    Column("plan", Text, nullable=False),
    Column("consensus", Text, nullable=False),
    Column("agreed", Boolean, nullable=False),
    Index("ix_mediation_sessions_case", "case_id", "id"),
)

# What a case is linked to (the incidents and leads behind it, a household's later calls, merged applications).
mediation_links = Table(
    "mediation_links",
    metadata,
    Column("case_id", String(24), primary_key=True),
    Column("kind", String(12), primary_key=True),  # incident / lead / application
    Column("ref", String(64), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("later", Boolean, nullable=False),  # came after the case opened (a household calling again)
    Index("ix_mediation_links_ref", "kind", "ref"),
)

# Append-only: the case's readable history.
mediation_events = Table(
    "mediation_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(24), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(20), nullable=False),
    Column("detail", Text, nullable=False),  # JSON: what the history line says, rendered per language
    Index("ix_mediation_events_case", "case_id", "id"),
)

# Early-warning leads: one per warning (the dedupe key makes a run idempotent).
leads = Table(
    "leads",
    metadata,
    Column("lead_id", String(24), primary_key=True),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("rule", String(32), nullable=False),
    Column("grid", String(8), nullable=False),
    Column("station", String(8), nullable=False),
    Column("level", String(8), nullable=False),  # high / medium
    Column("target", String(16), nullable=False),  # station / grid_worker
    Column("recipient", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),  # pushed / acknowledged / handled
    Column("summary", Text, nullable=False),  # as written in the installation's language ({cc}:out:leads)
    Column("suggestion", Text, nullable=False),
    Column("facts", Text),  # JSON: what the summary says, so any page renders it in its own language
    Column("evidence", Text, nullable=False),  # JSON list of event ids
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("handled_at", DateTime(timezone=True)),
    Column("handled_by", String(64)),
    Column("result", Text),
    Column("useful", Boolean),  # the handler's judgement: feeds the rule's precision
    Index("ix_leads_state_deadline", "state", "deadline"),
    Index("ix_leads_created", "created_at"),
)

risk_runs = Table(
    "risk_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # daily / on_demand / startup
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("incidents", Integer, nullable=False),
    Column("warnings", Integer, nullable=False),
    Column("leads_created", Integer, nullable=False),
    Column("by", String(64), nullable=False),
)


instructions = Table(
    "instructions",
    metadata,
    Column("instruction_id", String(24), primary_key=True),
    # A double click or a retried request carries the same key: never two instructions.
    Column("idempotency_key", String(100), nullable=False, unique=True),
    Column("incident_id", String(64), nullable=False),
    Column("unit_id", String(32), nullable=False),
    Column("state", String(20), nullable=False),
    Column("outcome", String(20)),
    Column("text", Text, nullable=False),
    Column("officer", String(64), nullable=False),
    Column("zone", String(10), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("arrival_due", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True)),
    Column("en_route_at", DateTime(timezone=True)),
    Column("on_scene_at", DateTime(timezone=True)),
    Column("result_at", DateTime(timezone=True)),
    Column("result_due", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_instructions_incident", "incident_id"),
    Index("ix_instructions_state", "state"),
)

# Append-only: who did what to which instruction, when.
instruction_events = Table(
    "instruction_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instruction_id", String(24), nullable=False),
    Column("incident_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(24), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_instruction_events_incident", "incident_id", "at"),
)

# A unit is held by at most one open instruction: the primary key is the lock.
unit_reservations = Table(
    "unit_reservations",
    metadata,
    Column("unit_id", String(32), primary_key=True),
    Column("instruction_id", String(24), nullable=False),
    Column("reserved_at", DateTime(timezone=True), nullable=False),
)

# Transactional outbox: written with the change it announces, relayed to Redis after commit.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stream", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Index("ix_outbox_unsent", "sent_at", "id"),
)


# -- people and the audit log -------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(64), nullable=False, default=""),
    Column("role", String(24), nullable=False),
    Column("station", String(8)),  # a station officer's station code
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
)

# The grids a grid worker works (their tasks and their phone page's live events are these grids').
user_grids = Table(
    "user_grids",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("grid", String(8), primary_key=True),
    Index("ix_user_grids_grid", "grid"),
)

# Big screens sign in with a revocable token; only its SHA-256 is kept.
kiosk_tokens = Table(
    "kiosk_tokens",
    metadata,
    Column("token_id", String(16), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(64), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

GENESIS = "0" * 64

# Append-only and hash-chained (store/audit.py); audit_head holds the chain's end.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(24), nullable=False),
    Column("action", String(48), nullable=False),
    Column("target", String(120), nullable=False),
    Column("outcome", String(12), nullable=False),
    Column("detail", Text, nullable=False),
    Column("ip", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_actor", "actor", "seq"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# The DDL comes from the migrations (migrations/versions), not from this metadata: they also add
# what a Table cannot say (audit_log's append-only triggers, audit_head's genesis row). This metadata is
# what the application reads and writes; tests/test_migrations.py checks the two agree.


def as_utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands times back naive; every stored time is UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def database_url(configured: str, var_dir: Path) -> str:
    """The configured URL, or a SQLite file under ``var_dir``."""
    if configured:
        return configured
    var_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{var_dir / 'pingan.sqlite3'}"


def make_engine(url: str, *, migrate: bool = True) -> Engine:
    """Create the engine and bring the schema to the newest revision (a no-op when it is there already).

    ``migrate=False`` leaves the database as it is (the migration command and its tests).
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if migrate:
        # Imported here: the tables alone need no Alembic, and store.migrate may import this module.
        from store.migrate import upgrade

        upgrade(engine)
    return engine


def _sqlite_pragmas(connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers (page snapshots) run while the consumer writes.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
