"""Every Redis key the product uses, under one prefix (``cc:``), defined once.

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
INBOUND = (INCIDENTS, SENSORS, UNITS, FEEDBACK)

# Outbound streams (what other systems read).
OUT_INSTRUCTIONS = "cc:out:instructions"  # the field units' inbox
OUT_HOTLINE = "cc:out:hotline12345"  # incidents diverted to the 12345 city hotline
OUT_LEADS = "cc:out:leads"  # early-warning leads for stations' and grid workers' apps
OUT_NOTIFY = "cc:out:notify"  # messages to grid workers and property managers (the SMS gateway reads it)
OUTBOX_SENT = "cc:outbox:sent:"  # + outbox id: relayed already (idempotent relay)

DEAD = "cc:dead"  # bad entries with the original fields and a reason
LIVE = "cc:live"  # processed events, in order: what screens are pushed

CONSUMER_GROUP = "cc-core"

UNIT_STATE = "cc:state:units"  # hash unit_id -> latest position JSON
DEVICE_SEEN = "cc:state:device-seen"  # hash device_id -> last heartbeat (epoch s)
DEVICE_HEALTH = "cc:state:device-health"  # hash device_id -> "offline" / "faulty" (absent: online)
HEALTH_LEASE = "cc:lease:device-health"  # one process at a time announces health changes
RISK_GRADES = "cc:state:risk-grades"  # hash window -> JSON {grid: grade} of the latest run
RISK_DETAIL = "cc:state:risk-detail:"  # + window: hash grid -> JSON {grade, score, expected, ratio, factors}
RISK_LEASE = "cc:lease:risk-daily"  # one process runs the daily risk run
INDICATORS = "cc:state:indicators"  # JSON: today's indicators as last published
INDICATORS_LEASE = "cc:lease:indicators"  # one process at a time recomputes and publishes them
PUBLISHED = "cc:published"  # sorted set event_id -> publish time: exactly-once publishing
COUNTERS = "cc:counters"  # hash: events_in, dead_letters, ...
