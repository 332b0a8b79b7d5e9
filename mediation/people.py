"""The mediation centre's people and the matching of a case to them.

The registry lives in the database; ``data/mediators.json`` seeds it (people new to the file are added on
start, nobody is removed or overwritten: the centre may have changed them). A case gets one lead mediator, a
professional (lawyer or people's mediator) who takes its type and serves its station, the least loaded
first; the seeds' pairings add supporters by type (a marriage dispute: a women's federation cadre and a
community elder; a bride-price dispute: a wedding-custom association member; a neighbour or land dispute: a
village worthy). The matching is a proposal: the desk may choose others.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite

from mediation.cases import OPEN_STAGES, CaseType
from store.db import mediation_assignments, mediation_cases, mediators

SEED_FILE = "mediators.json"


class Kind(StrEnum):
    LAWYER = "lawyer"  # a resident lawyer
    PEOPLES_MEDIATOR = "peoples_mediator"
    WORTHY = "worthy"  # a village worthy (乡贤)
    WEDDING_CUSTOM = "wedding_custom"  # the wedding-custom association (红白理事会)
    WOMENS_FEDERATION = "womens_federation"
    ELDER = "elder"  # a community elder


PROFESSIONALS = (Kind.LAWYER, Kind.PEOPLES_MEDIATOR)
# Who joins the lead mediator, by case type: one of each kind listed, if anyone of that kind serves the station.
SUPPORT: dict[CaseType, tuple[Kind, ...]] = {
    CaseType.MARRIAGE: (Kind.WOMENS_FEDERATION, Kind.ELDER),
    CaseType.FAMILY: (Kind.ELDER,),
    CaseType.BRIDE_PRICE: (Kind.WEDDING_CUSTOM,),
    CaseType.NEIGHBOUR: (Kind.WORTHY,),
    CaseType.LAND: (Kind.WORTHY,),
}


@dataclass(frozen=True)
class Mediator:
    mediator_id: str
    name: str
    kind: Kind
    case_types: frozenset[str]  # empty: any
    stations: frozenset[str]  # empty: the whole district
    username: str | None
    active: bool

    def takes(self, case_type: str, station: str) -> bool:
        return self.active and (not self.case_types or case_type in self.case_types) and (
            not self.stations or not station or station in self.stations)


def _split(value: str) -> frozenset[str]:
    return frozenset(part for part in value.split(",") if part)


def _of(row: Mapping[str, Any]) -> Mediator:
    return Mediator(row["mediator_id"], row["name"], Kind(row["kind"]), _split(row["case_types"]),
                    _split(row["stations"]), row["username"], bool(row["active"]))


def seed(engine: Engine, data_dir: Path) -> int:
    """Add the seed file's people the registry does not have yet; returns how many."""
    path = data_dir / SEED_FILE
    if not path.exists():
        return 0
    people = json.loads(path.read_text(encoding="utf-8"))["mediators"]
    with engine.begin() as conn:
        known = set(conn.execute(select(mediators.c.mediator_id)).scalars())
        new = [{"mediator_id": p["id"], "name": p["name"], "kind": Kind(p["kind"]).value,
                "case_types": ",".join(CaseType(t).value for t in p["case_types"]),
                "stations": ",".join(p["stations"]), "username": p.get("username"), "active": True}
               for p in people if p["id"] not in known]
        if new:
            # Processes starting together on an empty database seed at once: the first one's rows stand.
            dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            conn.execute(dialect_insert(mediators).on_conflict_do_nothing(index_elements=["mediator_id"]), new)
    return len(new)


def everyone(conn: Connection) -> list[Mediator]:
    return [_of(dict(row)) for row in conn.execute(select(mediators).order_by(mediators.c.mediator_id)).mappings()]


def loads(conn: Connection) -> Counter[str]:
    """Open cases per mediator."""
    rows = conn.execute(select(mediation_assignments.c.mediator_id, func.count())
                        .join(mediation_cases, mediation_cases.c.case_id == mediation_assignments.c.case_id)
                        .where(mediation_cases.c.stage.in_([s.value for s in OPEN_STAGES]))
                        .group_by(mediation_assignments.c.mediator_id))
    return Counter({mediator_id: int(count) for mediator_id, count in rows})


def match(people: Sequence[Mediator], load: Mapping[str, int], case_type: str, station: str) -> list[Mediator]:
    """The proposed team: the least-loaded professional who takes the case, then its type's supporters."""
    def least_loaded(candidates: list[Mediator]) -> Mediator | None:
        return min(candidates, key=lambda m: (load.get(m.mediator_id, 0), m.mediator_id), default=None)

    able = [m for m in people if m.takes(case_type, station)]
    lead = least_loaded([m for m in able if m.kind in PROFESSIONALS])
    if lead is None:  # nobody specialised: any professional serving the station
        lead = least_loaded([m for m in people if m.kind in PROFESSIONALS and m.takes(CaseType.OTHER, station)
                             and not m.case_types])
    team = [lead] if lead else []
    for kind in SUPPORT.get(CaseType(case_type), ()):
        helper = least_loaded([m for m in able if m.kind is kind])
        if helper is not None:
            team.append(helper)
    return team


def mediator_of(conn: Connection, username: str) -> str | None:
    """The registry id of a signed-in mediator."""
    return conn.execute(select(mediators.c.mediator_id).where(and_(
        mediators.c.username == username, mediators.c.active.is_(True)))).scalar_one_or_none()
