"""Every Redis key the product uses, under one prefix (``{cc}:``), and how long each stream keeps entries.

The braces make ``cc`` the keys' hash tag: in a Redis Cluster every key hashes to one slot (700), so the
consumer's commit script, the outbox relay's script and the multi-stream XREADGROUP, which touch several
keys at once, stay legal; on a single Redis the braces are just characters. The cluster then buys
failover, not write capacity (one primary ingests far more than a city's peak: see README, figures).

Until version 0.2.0 the keys were ``cc:...``; :mod:`bus.rename` moves an existing Redis to the new
names, and :data:`LEGACY_INBOUND` lists the old inbound names the consumer still reads on a single Redis
(producers switch within a release; docs/ingest.md, "Key names").
"""

from __future__ import annotations

PREFIX = "{cc}:"
LEGACY_PREFIX = "cc:"  # before version 0.2.0 (bus/rename.py)

# Inbound streams (the ingest contract, written by producers).
INCIDENTS = PREFIX + "in:incidents"
SENSORS = PREFIX + "in:sensors"
UNITS = PREFIX + "in:units"
FEEDBACK = PREFIX + "in:feedback"  # field units' answers to instructions
REVISIT_CALLS = PREFIX + "in:revisits"  # an outside call centre's return-visit calls
POSITIONS = PREFIX + "in:positions"  # officers' terminals, grid workers' phones: for time in community
# The sensor platform's heartbeats, a lane of their own (version 0.2.0 on): a city's devices send thousands a
# second, and an alert must never wait behind them (ingest/consumer.py, ``Lane``).
HEARTBEATS = PREFIX + "in:heartbeats"
EVENT_LANE = (INCIDENTS, SENSORS, UNITS, FEEDBACK, REVISIT_CALLS, POSITIONS)
HEARTBEAT_LANE = (HEARTBEATS,)
INBOUND = EVENT_LANE + HEARTBEAT_LANE
# The streams of before version 0.2.0 under their old names: still read on a single Redis (they hash to other
# slots, so not on a Cluster) until every producer writes the new names.
LEGACY_INBOUND = {LEGACY_PREFIX + stream.removeprefix(PREFIX): stream for stream in EVENT_LANE}

# Outbound streams (what other systems read).
OUT_INSTRUCTIONS = PREFIX + "out:instructions"  # the field units' inbox
OUT_HOTLINE = PREFIX + "out:hotline12345"  # incidents diverted to the 12345 city hotline
OUT_LEADS = PREFIX + "out:leads"  # early-warning leads for stations' and grid workers' apps
OUT_NOTIFY = PREFIX + "out:notify"  # messages to grid workers and property managers (the SMS gateway reads it)
OUT_REVISITS = PREFIX + "out:revisits"  # return visits to make, for an outside call centre
OUT_SUPERVISION = PREFIX + "out:supervision"  # escalations of late items and their responses, for other systems
OUT_REPORTS = PREFIX + "out:reports"  # reports delivered on schedule (kind, key, due, made, late, key figures)
OUT_JUDICIAL = PREFIX + "out:judicial"  # unfulfilled mediation agreements: judicial-confirmation referrals
MEDIATION_APPLY_RATE = PREFIX + "rate:mediation-apply:"  # + client address + hour: online applications accepted
BATCH_TOKEN = PREFIX + "batch:"  # + token: an atomic batch applied already, with its results (bus/atomic.py)
OUTBOX_SENT = PREFIX + "outbox:sent:"  # + outbox id: relayed already (idempotent relay)

DEAD = PREFIX + "dead"  # bad entries with the original fields and a reason
LIVE = PREFIX + "live"  # processed events, in order: what screens are pushed (bus/events.py publishes)

CONSUMER_GROUP = "cc-core"

AUTH = PREFIX + "auth:"  # sessions, kiosk tokens, sign-in rates (auth/sessions.py)

UNIT_STATE = PREFIX + "state:units"  # hash unit_id -> latest position JSON
DEVICE_SEEN = PREFIX + "state:device-seen"  # hash device_id -> last heartbeat (epoch s)
# The health monitor's work lists (sensors/health.py), so a check costs what changed, not the number of devices:
DEVICE_DEADLINES = PREFIX + "state:device-deadlines"  # zset device_id -> last heartbeat + offline window (consumer)
DEVICE_AWAITING = PREFIX + "state:device-awaiting"  # zset device_id -> watch start + window: never heard from yet
DEVICE_DOWN = PREFIX + "state:device-down"  # set: devices awaiting or offline (their next report is news)
DEVICE_HEALTH = PREFIX + "state:device-health"  # hash device_id -> "awaiting" / "offline" / "faulty" (absent: online)
DEVICE_WATCH = PREFIX + "state:device-watch"  # epoch s the health watch began ("awaiting first report" till + window)
HEALTH_LEASE = PREFIX + "lease:device-health"  # one process at a time announces health changes
RISK_GRADES = PREFIX + "state:risk-grades"  # hash window -> JSON {grid: grade} of the latest run
RISK_DETAIL = PREFIX + "state:risk-detail:"  # + window: hash grid -> JSON {grade, score, expected, ratio, factors}
RISK_LEASE = PREFIX + "lease:risk-daily"  # one process runs the daily risk run
REVISIT_LEASE = PREFIX + "lease:revisit-draw"  # one process draws the month's return-visit sample
SUPERVISION_LEASE = PREFIX + "lease:supervision"  # one process at a time looks for late items and escalates them
REPORTS_LEASE = PREFIX + "lease:reports"  # one process makes the scheduled reports
SUMMARY_LEASE = PREFIX + "lease:summary"  # one process makes the Monday summary
INDICATORS = PREFIX + "state:indicators"  # JSON: today's indicators as last published
INDICATORS_LEASE = PREFIX + "lease:indicators"  # one process at a time recomputes and publishes them
VIDEO_SESSION = PREFIX + "video:session:"  # + gateway session id -> the username that opened it (expires unless polled)
VIDEO_VIEWS = PREFIX + "video:views"  # hash "session/handle" -> JSON {username, device_id, started}: live views now
PUBLISHED = PREFIX + "published"  # sorted set event_id -> publish time: exactly-once publishing
COUNTERS = PREFIX + "counters"  # hash: events_in, dead_letters, ...
CLOCK = PREFIX + "state:clock"  # hash: a time-lapse's anchor (anchor_real, anchor_world, speed), shared by processes

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
