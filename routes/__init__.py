"""Plain Flask routes served beside Dash (geometry files; later acks, health, metrics)."""
