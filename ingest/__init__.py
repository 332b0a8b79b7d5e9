"""Ingest: the contract producers write to and the consumer that validates, keeps and publishes. No Dash."""
