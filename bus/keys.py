"""Every Redis key the product uses, under one prefix (``cc:``), and how long each stream keeps entries.

The consumer commits a batch in one MULTI over several of these keys, so they
must live on one Redis primary (a Cluster would need them under one hash tag).
"""

from __future__ import annotations

PREFIX = "cc:"

# Inbound streams (the ingest contract, written by producers).
INCIDENTS = "cc:in:incidents"
SENSORS = "cc:in:sensors"
UNITS = "cc:in:units"
FEEDBACK = "cc:in:feedback"  # field units' answers to instructions
REVISIT_CALLS = "cc:in:revisits"  # an outside call centre's return-visit calls
POSITIONS = "cc:in:positions"  # community officers' terminals and grid workers' phones: kept, for time in community
INBOUND = (INCIDENTS, SENSORS, UNITS, FEEDBACK, REVISIT_CALLS, POSITIONS)

# Outbound streams (what other systems read).
OUT_INSTRUCTIONS = "cc:out:instructions"  # the field units' inbox
OUT_HOTLINE = "cc:out:hotline12345"  # incidents diverted to the 12345 city hotline
OUT_LEADS = "cc:out:leads"  # early-warning leads for stations' and grid workers' apps
OUT_NOTIFY = "cc:out:notify"  # messages to grid workers and property managers (the SMS gateway reads it)
OUT_REVISITS = "cc:out:revisits"  # return visits to make, for an outside call centre
OUT_SUPERVISION = "cc:out:supervision"  # escalations of late items and their responses, for other systems
OUT_REPORTS = "cc:out:reports"  # reports delivered on schedule (kind, key, due, made, late, key figures)
OUT_JUDICIAL = "cc:out:judicial"  # unfulfilled mediation agreements: judicial-confirmation referrals (court liaison)
MEDIATION_APPLY_RATE = "cc:rate:mediation-apply:"  # + client address + hour: online applications accepted
OUTBOX_SENT = "cc:outbox:sent:"  # + outbox id: relayed already (idempotent relay)

DEAD = "cc:dead"  # bad entries with the original fields and a reason
LIVE = "cc:live"  # processed events, in order: what screens are pushed (bus/events.py publishes)

CONSUMER_GROUP = "cc-core"

UNIT_STATE = "cc:state:units"  # hash unit_id -> latest position JSON
DEVICE_SEEN = "cc:state:device-seen"  # hash device_id -> last heartbeat (epoch s)
DEVICE_HEALTH = "cc:state:device-health"  # hash device_id -> "awaiting" / "offline" / "faulty" (absent: online)
DEVICE_WATCH = "cc:state:device-watch"  # epoch s the health watch began: "awaiting first report" until then + window
HEALTH_LEASE = "cc:lease:device-health"  # one process at a time announces health changes
RISK_GRADES = "cc:state:risk-grades"  # hash window -> JSON {grid: grade} of the latest run
RISK_DETAIL = "cc:state:risk-detail:"  # + window: hash grid -> JSON {grade, score, expected, ratio, factors}
RISK_LEASE = "cc:lease:risk-daily"  # one process runs the daily risk run
REVISIT_LEASE = "cc:lease:revisit-draw"  # one process draws the month's return-visit sample
SUPERVISION_LEASE = "cc:lease:supervision"  # one process at a time looks for late items and escalates them
REPORTS_LEASE = "cc:lease:reports"  # one process makes the scheduled reports
SUMMARY_LEASE = "cc:lease:summary"  # one process makes the Monday summary
INDICATORS = "cc:state:indicators"  # JSON: today's indicators as last published
INDICATORS_LEASE = "cc:lease:indicators"  # one process at a time recomputes and publishes them
VIDEO_SESSION = "cc:video:session:"  # + gateway session id -> the username that opened it (expires unless polled)
VIDEO_VIEWS = "cc:video:views"  # hash "session/handle" -> JSON {username, device_id, started}: live views now
PUBLISHED = "cc:published"  # sorted set event_id -> publish time: exactly-once publishing
COUNTERS = "cc:counters"  # hash: events_in, dead_letters, ...
CLOCK = "cc:state:clock"  # hash: a time-lapse's anchor (anchor_real, anchor_world, speed), shared by processes

# -- retention ----------------------------------------------------------------------------------------
# cc:live: a page further behind than this gets a fresh snapshot instead of the events it missed.
# Kept by time, so the memory it takes levels off whatever the rate; MAXLEN caps a burst.
LIVE_KEEP_S = 15 * 60
LIVE_MAXLEN = 200_000
# Acknowledged inbound entries stay an hour for inspection, at most about this many per stream.
INBOUND_KEEP_S = 3600
INBOUND_KEEP_MAX = 100_000
# Outbound streams and dead letters: what their readers have not taken yet, up to this many.
STREAM_MAXLEN = 100_000


def maxlen(stream: str) -> int:
    """The approximate cap every writer of ``stream`` applies."""
    return LIVE_MAXLEN if stream == LIVE else STREAM_MAXLEN
