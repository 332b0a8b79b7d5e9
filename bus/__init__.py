"""The Redis side: keys, connections, leases, the outbox relay and the live-event registry. No Dash."""
