"""Alembic's environment: runs the revisions on the connection store.migrate hands over.

store.migrate.upgrade() opens the connection, takes the migration lock and the
transaction, and passes the connection in ``config.attributes["connection"]``;
the revisions then run inside that one transaction (alembic sees it as external
and neither begins nor commits), so a failed upgrade leaves the schema as it was.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

connection = context.config.attributes.get("connection")
if context.is_offline_mode() or not isinstance(connection, Connection):
    raise RuntimeError("migrations run through store.migrate (python -m store.migrate), which hands over a connection")

context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
