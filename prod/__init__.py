"""The production topology on one machine: HAProxy, three app processes, a Redis Cluster, PostgreSQL.

``python -m prod up|down|status`` (``make prod-up``, ``make prod-down``, ``make prod-status``); tests and
benchmarks drive :class:`prod.topology.Topology` directly. See docs/production.md.
"""
