"""Schema migrations (migrations/, store/migrate.py) on real SQLite and, with TEST_DATABASE_URL, real PostgreSQL.

The revisions are the source of the DDL and ``store.db.metadata`` is what the
application reads and writes: a fresh database brought to head must be exactly
that metadata, and a database of the release before migrations (8719f34, made
by ``create_all``, no ``alembic_version``) must reach the same schema with its
rows intact.
"""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event, insert, inspect, select, text, update

import clock
from settings import PROJECT_ROOT
from store import audit
from store.db import audit_head, audit_log, incidents, leads, make_engine, metadata
from store.migrate import BASELINE, config, current_revision, head, upgrade

PREVIOUS_RELEASE = "8719f34"  # the last release whose schema came from create_all

T0 = clock.now().replace(microsecond=0)  # what the old rows say they were written at


@pytest.fixture
def bare(empty_database: str) -> Iterator[Engine]:
    """An engine on an empty database that nothing has migrated yet."""
    eng = make_engine(empty_database, migrate=False)
    yield eng
    eng.dispose()


# -- helpers -------------------------------------------------------------------

def differences(engine: Engine, target: sa.MetaData = metadata) -> list[Any]:
    """What autogenerate would change to make the database match ``target`` (types and defaults included)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, target))


def migrate_to(engine: Engine, revision: str, *, down: bool = False) -> None:
    """Run the revisions up (or down) to ``revision`` directly, without store.migrate's detection."""
    with engine.begin() as conn:
        (command.downgrade if down else command.upgrade)(config(conn), revision)


def previous_release_module() -> types.ModuleType:
    """store/db.py as it was in the release before migrations, loaded from git history."""
    shown = subprocess.run(["git", "show", f"{PREVIOUS_RELEASE}:store/db.py"], cwd=PROJECT_ROOT,
                           capture_output=True, text=True, check=False)
    if shown.returncode != 0:
        pytest.skip(f"release {PREVIOUS_RELEASE} is not in this clone's history: {shown.stderr.strip()}")
    module = types.ModuleType(f"store_db_{PREVIOUS_RELEASE}")
    exec(compile(shown.stdout, f"{PREVIOUS_RELEASE}:store/db.py", "exec"), module.__dict__)
    return module


def build_previous_release(engine: Engine, how: str) -> None:
    """A database as the release before migrations left it: its tables, triggers and genesis row, no version."""
    if how == "create_all":
        with engine.begin() as conn:
            previous_release_module().metadata.create_all(conn)  # its DDL listeners add triggers and genesis
    else:
        migrate_to(engine, BASELINE)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
    assert current_revision(engine) is None


def guards(conn: Connection) -> set[Any]:
    """The append-only triggers (and PostgreSQL's trigger function) as the database reports them."""
    if conn.dialect.name == "sqlite":
        return set(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all())
    triggers = conn.execute(text("SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"))
    functions = conn.execute(text("SELECT proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                                  "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"))
    return set(triggers.all()) | set(functions.all())


def assert_audit_guarded(engine: Engine) -> None:
    """A record appends onto the chain's end in audit_head; audit_log then refuses UPDATE and DELETE."""
    log = audit.AuditLog(engine)
    log.append("tester", "audit.check")  # a row-level trigger fires only on rows that exist
    for statement in (update(audit_log).values(actor="someone else"), sa.delete(audit_log)):
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
            conn.execute(statement)
    assert log.verify().intact


def assert_genesis(engine: Engine) -> None:
    with engine.connect() as conn:
        assert tuple(conn.execute(select(audit_head)).one()) == (1, 0, "0" * 64)


def project_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


# Written the old release's way: explicit columns, nothing of today's (history, facts).
_old_incidents = sa.table(
    "incidents", *(sa.column(name) for name in (
        "event_id", "stream_id", "lon", "lat", "grid", "category", "priority", "address", "description", "caller",
        "source", "status")),
    sa.column("reported_at", sa.DateTime(timezone=True)), sa.column("ingested_at", sa.DateTime(timezone=True)))
_old_leads = sa.table(
    "leads", *(sa.column(name) for name in (
        "lead_id", "dedupe_key", "rule", "grid", "station", "level", "target", "recipient", "state", "summary",
        "suggestion", "evidence")),
    sa.column("created_at", sa.DateTime(timezone=True)), sa.column("deadline", sa.DateTime(timezone=True)))


def insert_old_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(_old_incidents).values(
            event_id="INC-1", stream_id="1-0", reported_at=T0, ingested_at=T0, lon=112.43, lat=39.33, grid="G07",
            category="theft", priority=2, address="1 Kaifa Road", description="bicycle taken", caller="13800000000",
            source="110", status="closed"))
        conn.execute(insert(_old_leads).values(
            lead_id="L-1", dedupe_key=f"repeat:G07:{T0.date().isoformat()}", rule="repeat", grid="G07", station="PS-03",
            level="high", target="station", recipient="PS-03", created_at=T0, deadline=T0 + timedelta(hours=4),
            state="pushed", summary="3 thefts in G07", suggestion="patrol", evidence='["INC-1"]'))
        audit.append(conn, "admin", "user.login", role="admin", at=T0)


# -- tests ---------------------------------------------------------------------

def test_mig001_fresh_database_is_the_metadata(bare: Engine) -> None:
    upgrade(bare)
    assert current_revision(bare) == head()
    assert differences(bare) == []
    assert_genesis(bare)
    assert_audit_guarded(bare)


def test_mig002_revision_0001_is_the_release_before_migrations(bare: Engine) -> None:
    """0001 builds what create_all built at 8719f34: tables, triggers, genesis row."""
    previous = previous_release_module()
    migrate_to(bare, BASELINE)
    assert differences(bare, previous.metadata) == []
    with bare.connect() as conn:
        by_revision = (guards(conn), conn.execute(select(audit_head)).all())
    assert by_revision[0], "0001 made no append-only guard"

    migrate_to(bare, "base", down=True)
    assert project_tables(bare) == set()
    with bare.begin() as conn:
        assert guards(conn) == set()
        conn.execute(text("DROP TABLE alembic_version"))
        previous.metadata.create_all(conn)
        by_create_all = (guards(conn), conn.execute(select(audit_head)).all())
    assert by_revision == by_create_all


@pytest.mark.parametrize("how", ["revision_0001", "create_all"])
def test_mig003_previous_release_is_stamped_and_upgraded(bare: Engine, how: str) -> None:
    build_previous_release(bare, how)
    insert_old_rows(bare)

    upgrade(bare)

    assert current_revision(bare) == head()
    assert differences(bare) == []
    with bare.connect() as conn:
        assert conn.execute(select(incidents.c.event_id, incidents.c.status, incidents.c.history)).all() == [
            ("INC-1", "closed", False)]
        assert conn.execute(select(leads.c.lead_id, leads.c.summary, leads.c.facts)).all() == [
            ("L-1", "3 thefts in G07", None)]
    check = audit.AuditLog(bare).verify()
    assert (check.records, check.intact) == (1, True)
    assert_audit_guarded(bare)  # the old chain goes on

    # A second start: nothing written, nothing locked.
    statements: list[str] = []
    event.listen(bare, "before_cursor_execute", lambda *args: statements.append(args[2]))
    upgrade(bare)
    writes = [s for s in statements if not s.lstrip().upper().startswith(("SELECT", "PRAGMA", "WITH"))]
    assert statements and writes == []
    assert current_revision(bare) == head()


def test_mig004_every_revision_downgrades_and_upgrades_again(bare: Engine) -> None:
    upgrade(bare)
    script = ScriptDirectory.from_config(config())
    for revision in script.walk_revisions():  # newest first
        migrate_to(bare, revision.down_revision or "base", down=True)
        assert current_revision(bare) == revision.down_revision
    assert project_tables(bare) == set()
    with bare.connect() as conn:
        assert guards(conn) == set()  # PostgreSQL's trigger function went with 0001 too

    upgrade(bare)
    assert current_revision(bare) == head()
    assert differences(bare) == []
    assert_genesis(bare)
    assert_audit_guarded(bare)


def test_mig005_a_database_older_than_the_previous_release_is_refused(bare: Engine) -> None:
    """Only some of 0001's tables and no version: stamping would hide the missing ones, so upgrade stops."""
    build_previous_release(bare, "revision_0001")
    with bare.begin() as conn:
        conn.execute(text("DROP TABLE leads"))
    with pytest.raises(RuntimeError, match="missing: leads"):
        upgrade(bare)
    assert current_revision(bare) is None
    assert "alembic_version" not in inspect(bare).get_table_names()  # not stamped either


@pytest.mark.slow  # starts processes
def test_mig006_processes_starting_at_once_migrate_once(empty_database: str) -> None:
    """Several processes find an empty database at once; the lock makes one migrate and the others find it done."""
    children = [subprocess.Popen([sys.executable, "-c", _START, empty_database], cwd=PROJECT_ROOT, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(4)]
    try:
        for child in children:  # each has imported everything: what is left is the start itself
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
        for child in children:  # the go, as close together as the pipes allow
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        outcomes = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            child.kill()  # a no-op for those that ended
            child.wait()
    assert [child.returncode for child in children] == [0] * len(children), outcomes

    engine = make_engine(empty_database, migrate=False)
    try:
        assert current_revision(engine) == head()
        assert differences(engine) == []
        with engine.connect() as conn:
            assert conn.execute(select(sa.func.count()).select_from(audit_head)).scalar() == 1
    finally:
        engine.dispose()


# A process of the product starting: make_engine migrates.
_START = """
import sys
from store.db import make_engine
import store.migrate
print("ready", flush=True)
sys.stdin.readline()
make_engine(sys.argv[1]).dispose()
"""
