"""The audit log: append-only, hash-chained, kept in the system of record.

Every record carries the SHA-256 of its own content and of the record before
it, so changing, removing or reordering any record breaks the chain from that
point on, and :func:`verify` names the first broken record. The database also
refuses ``UPDATE`` and ``DELETE`` on the table (a trigger on SQLite and
PostgreSQL); the chain is what still catches someone who drops the trigger.

Appends are serialised by the single-row ``audit_head`` table: the first thing
an append does is update that row, which takes SQLite's write lock or
PostgreSQL's row lock until the transaction ends, so two appends never link to
the same predecessor. An append made inside a caller's transaction (a dispatch)
commits or rolls back with it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from store.db import GENESIS, audit_head, audit_log

COLUMNS = ("seq", "at", "actor", "role", "action", "target", "outcome", "detail", "ip")


class Outcome:
    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True)
class ChainCheck:
    """What :func:`verify` found."""

    records: int
    first_broken: int | None  # seq of the first record whose content or link does not match

    @property
    def intact(self) -> bool:
        return self.first_broken is None


def record_hash(prev_hash: str, record: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the record's canonical JSON."""
    canonical = json.dumps({k: _plain(record[k]) for k in COLUMNS}, ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def append(conn: Connection, actor: str, action: str, *, role: str = "", target: str = "",
           outcome: str = Outcome.OK, detail: str = "", ip: str = "", at: datetime | None = None) -> int:
    """Append one record inside ``conn``'s transaction; returns its sequence number."""
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq + 1))
    seq, prev = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
    # Microseconds dropped: both databases give back exactly what was hashed.
    at = (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    record = {"seq": seq, "at": at, "actor": actor[:64], "role": role[:24], "action": action[:48],
              "target": target[:120], "outcome": outcome, "detail": detail[:2000], "ip": ip[:64]}
    digest = record_hash(prev, record)
    conn.execute(insert(audit_log).values(**record, prev_hash=prev, hash=digest))
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(hash=digest))
    return int(seq)


class AuditLog:
    """The audit log of one database: append in a transaction of its own, read, verify, export."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.clock = clock

    def append(self, actor: str, action: str, **fields: Any) -> int:
        with self.engine.begin() as conn:
            return append(conn, actor, action, at=self.clock(), **fields)

    def records(self, limit: int = 500, actor: str = "", action: str = "") -> list[dict[str, Any]]:
        """The newest ``limit`` records, newest first, optionally filtered."""
        query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        if actor:
            query = query.where(audit_log.c.actor == actor)
        if action:
            query = query.where(audit_log.c.action.startswith(action))
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def verify(self) -> ChainCheck:
        """Walk the chain from the start; report the first record that does not match."""
        return verify_rows(self._all_rows(), self._head())

    def export_csv(self) -> Iterator[str]:
        """The whole log as CSV, oldest first, with the hashes (so a copy can be verified)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([*COLUMNS, "prev_hash", "hash"])
        for row in self._all_rows():
            writer.writerow([_plain(row[c]) for c in (*COLUMNS, "prev_hash", "hash")])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    def _all_rows(self) -> Iterator[dict[str, Any]]:
        with self.engine.connect() as conn:
            for row in conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings():
                yield dict(row)

    def _head(self) -> tuple[int, str]:
        with self.engine.connect() as conn:
            seq, digest = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
        return int(seq), digest


def verify_rows(rows: Iterable[dict[str, Any]], head: tuple[int, str]) -> ChainCheck:
    prev, expected_seq, count = GENESIS, 1, 0
    for row in rows:
        count += 1
        if row["seq"] != expected_seq or row["prev_hash"] != prev or record_hash(prev, row) != row["hash"]:
            return ChainCheck(count, expected_seq)
        prev, expected_seq = row["hash"], expected_seq + 1
    head_seq, head_hash = head
    if head_seq != expected_seq - 1 or head_hash != prev:  # records cut off the end
        return ChainCheck(count, expected_seq)
    return ChainCheck(count, None)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    return value
