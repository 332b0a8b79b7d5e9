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
INBOUND = (INCIDENTS, SENSORS, UNITS)

DEAD = "cc:dead"  # bad entries with the original fields and a reason
LIVE = "cc:live"  # processed events, in order: what screens are pushed

CONSUMER_GROUP = "cc-core"

UNIT_STATE = "cc:state:units"  # hash unit_id -> latest position JSON
DEVICE_SEEN = "cc:state:device-seen"  # hash device_id -> last heartbeat (epoch s)
PUBLISHED = "cc:published"  # sorted set event_id -> publish time: exactly-once publishing
COUNTERS = "cc:counters"  # hash: events_in, dead_letters, ...
