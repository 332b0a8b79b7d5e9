"""Redis Streams: the ingest contract, consumers, live push, simulator. No Dash here."""
