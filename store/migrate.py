"""Schema migrations: bring the system of record to the newest revision (migrations/).

    python -m store.migrate                     # upgrade the database of the settings; prints before -> after
    python -m store.migrate --new "add things"  # write migrations/versions/000N_add_things.py to fill in

:func:`upgrade` runs whenever an engine is made (``store.db.make_engine``), so
``make run`` upgrades an existing database. Three cases:

* a fresh database gets every revision;
* a database of the release before migrations (made by ``create_all``: the
  tables of revision 0001, no ``alembic_version``) is stamped 0001, then upgraded;
* an up-to-date database is left alone: no write, no database lock.

Two processes starting at once (the app and a worker, two gunicorn workers) must
not both migrate: PostgreSQL takes an advisory lock, SQLite a ``flock`` on a file
next to the database, and the loser then finds the work done. On SQLite the
migration also runs inside ``BEGIN IMMEDIATE``, so a failure leaves the schema
as it was (PostgreSQL's DDL is transactional anyway).
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

# Alembic announces each of its plugins at INFO on every start: the revisions it runs are what matter.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
BASELINE = "0001"  # the schema of the release before migrations
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock key: any fixed bigint, the same in every process of the project ("pingan:m").
POSTGRES_LOCK_KEY = 0x70696E67616E3A6D
# Alembic's ``context`` and ``op`` are process-wide proxies: two threads running revisions at once (even on
# different databases) would run each other's operations.
_ALEMBIC = threading.Lock()


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, made in code (no alembic.ini); env.py runs on ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")  # 0003_add_things.py: readable, ordered
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision in migrations/versions."""
    current = ScriptDirectory.from_config(config()).get_current_head()
    assert current is not None, f"no revisions under {MIGRATIONS}"
    return current


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None for an empty database and for one of the release before migrations."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the database to :func:`head` (see the module docstring for the cases)."""
    # On SQLite the file lock also covers the first connection: its switch to WAL (store.db) fails at once with
    # "database is locked" when another process's first connection is switching at the same moment.
    with _file_lock(engine):
        if current_revision(engine) == head():
            return  # every start after the first: no database lock, no write
        with _ALEMBIC, engine.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                # Held until this transaction ends, so it cannot outlive a failed migration.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK_KEY})
            elif conn.dialect.name == "sqlite":
                # pysqlite starts no transaction before DDL by itself; this one makes the upgrade all-or-nothing.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            _upgrade_locked(conn)


def _upgrade_locked(conn: Connection) -> None:
    # Looked at only under the lock: another process may have just done the work.
    cfg = config(conn)
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE not in tables:
        baseline = set(ScriptDirectory.from_config(cfg).get_revision(BASELINE).module.TABLES)
        present = baseline & tables
        if present == baseline:
            command.stamp(cfg, BASELINE)
        elif present:
            # Older than the release before migrations: stamping would hide the missing tables.
            raise RuntimeError(
                f"the database has only some tables of revision {BASELINE} and no {VERSION_TABLE} "
                f"(missing: {', '.join(sorted(baseline - present))}); run the release before migrations on it "
                "once, or start from an empty database")
    command.upgrade(cfg, "head")


@contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """On a SQLite file, an exclusive flock on ``<database>.migrate-lock``; elsewhere nothing."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    path = Path(database).resolve()
    with open(path.with_name(path.name + ".migrate-lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits for the other process; released when the file closes
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_revision(message: str) -> Path:
    """Write the next numbered revision file (0003, 0004, ...) from script.py.mako; returns its path."""
    script = command.revision(config(), message=message, rev_id=f"{int(head()) + 1:04d}")
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def main(argv: list[str] | None = None) -> int:
    from settings import Settings
    from store.db import database_url, make_engine

    parser = argparse.ArgumentParser(prog="python -m store.migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--new", metavar="MESSAGE", help="write the next revision file instead of upgrading")
    args = parser.parse_args(argv)
    if args.new:
        new_revision(args.new)  # Alembic prints the file's path
        return 0
    settings = Settings.from_env()
    engine = make_engine(database_url(settings.database_url, settings.var_dir), migrate=False)
    try:
        before = _state(engine)
        upgrade(engine)
        after = _state(engine)
    finally:
        engine.dispose()
    print(f"{engine.url.render_as_string(hide_password=True)}: {before} -> {after}")
    return 0


def _state(engine: Engine) -> str:
    revision = current_revision(engine)
    if revision:
        return revision
    with engine.connect() as conn:
        return "release before migrations" if inspect(conn).get_table_names() else "empty"


if __name__ == "__main__":
    sys.exit(main())
