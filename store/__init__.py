"""The relational system of record (SQLite by default, PostgreSQL by DATABASE_URL)."""
