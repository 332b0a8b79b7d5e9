"""The mediation centre's work on a case, from opening to the return visit (see :mod:`mediation.cases`).

Every act is one transaction: the case's columns (which the clocks and figures read), a line of its history
(``mediation_events``), the audit record and, where someone outside must learn of it, an outbox message (the
mediator's notification on ``{cc}:out:notify``, the court liaison's referral on ``{cc}:out:judicial``). A refused
act raises :class:`MediationRefused` with the reason in the service's language and changes nothing.

Parties' identity and phone numbers are sealed by the :class:`~mediation.vault.Vault`; pages get them masked
(:meth:`MediationService.parties`), and only :meth:`MediationService.parties_in_full` opens them, audited.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping

import clock
from bus import keys
from bus.outbox import queue
from geo.address import household_key, names_one_household
from geo.index import GridIndex
from i18n import text
from mediation import people
from mediation.cases import (
    CONTACT,
    HANDOVER,
    MAX_FULFIL_DAYS,
    OPEN_STAGES,
    ROUNDS,
    TYPE_OF_CATEGORY,
    TYPE_OF_RULE,
    VISIT_AFTER,
    CaseType,
    Outcome,
    Source,
    Stage,
)
from mediation.figures import period_figures
from mediation.identity import clean, mask_id, mask_phone, valid_id_number, valid_phone
from mediation.vault import Vault
from sensors.notify import Notification, OutboxNotifier
from store import audit
from store.db import (
    as_utc,
    incidents,
    leads,
    mediation_assignments,
    mediation_cases,
    mediation_events,
    mediation_links,
    mediation_parties,
    mediation_sessions,
    mediators,
)

MAX_TEXT = 2000
MAX_NAME = 64
MAX_LINK = 300
LIST_LIMIT = 300
SIDES = ("applicant", "respondent")


class MediationRefused(ValueError):
    """What cannot be done with a case; the message says why (in the service's language)."""


@dataclass(frozen=True)
class Party:
    """A party as typed on a form: numbers as typed (checked and cleaned by :meth:`MediationService._party_rows`)."""

    side: str
    name: str
    id_number: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Triage:
    """The triage form (分流评估): the dispute's type, and the two questions that decide whether mediation fits."""

    case_type: str
    lawful: bool  # nothing unlawful or criminal in it (otherwise the normal process)
    willing: bool  # both sides willing to be mediated
    note: str = ""
    station: str = ""  # the station, for a case that came without a place (an online application)

    @property
    def reasons(self) -> list[str]:
        """Why it does not fit, as catalogue keys ("" when it fits)."""
        return [key for key, ok in (("unlawful", self.lawful), ("unwilling", self.willing)) if not ok]


@dataclass(frozen=True)
class Scope:
    """Whose cases a viewer sees: a mediator their own, a station's people their station's, others all."""

    station: str | None = None
    mediator: str | None = None  # a signed-in mediator's username

    @property
    def everything(self) -> bool:
        return self.station is None and self.mediator is None


@dataclass(frozen=True)
class Application:
    """An online application (the public form), before any check."""

    applicant: Party
    respondent: Party
    case_type: str
    address: str
    description: str
    remote: bool


@dataclass
class MediationService:
    engine: Engine
    grids: GridIndex
    vault: Vault
    relay: Callable[[], int] | None = None
    language: str = "zh-CN"
    clock: Callable[[], datetime] = field(default=clock.now)
    notifier: OutboxNotifier = field(default_factory=OutboxNotifier)
    # A lead taken to mediation is handled by it, in the triage's transaction (risk.leads.LeadService.handled_in).
    lead_handled: Callable[[Connection, str, str, str, bool, datetime], None] | None = None

    # -- opening ------------------------------------------------------------------------------------------

    def open_from_incident(self, incident_id: str, triage: Triage, parties: Sequence[Party], actor: str,
                           mediator_ids: Sequence[str] = ()) -> dict[str, Any]:
        """The triage form on an incident (from the dispatch panel): a case, triaged at once."""
        with self.engine.connect() as conn:
            row = conn.execute(select(incidents).where(incidents.c.event_id == incident_id)).mappings().first()
        if row is None:
            raise MediationRefused(text("mediation.refused.unknown_incident", self.language))
        return self._open(Source.DISPATCH, incident_id, triage.case_type, row["grid"], row["address"],
                          row["description"], parties, actor, [("incident", incident_id)], triage, mediator_ids)

    def open_from_lead(self, lead_id: str, triage: Triage, parties: Sequence[Party], actor: str,
                       mediator_ids: Sequence[str] = ()) -> dict[str, Any]:
        """A lead (a household calling again, a dispute cluster) taken to mediation, with its incidents."""
        with self.engine.connect() as conn:
            lead = conn.execute(select(leads).where(leads.c.lead_id == lead_id)).mappings().first()
            evidence = json.loads(lead["evidence"]) if lead else []
            latest = conn.execute(select(incidents).where(incidents.c.event_id.in_(evidence))
                                  .order_by(incidents.c.reported_at.desc()).limit(1)).mappings().first()
        if lead is None:
            raise MediationRefused(text("mediation.refused.unknown_lead", self.language))
        links = [("lead", lead_id), *(("incident", str(e)) for e in evidence)]
        address = latest["address"] if latest else ""
        summary = lead["summary"] + (f"\n{latest['description']}" if latest else "")
        return self._open(Source.LEAD, lead_id, triage.case_type, lead["grid"], address, summary, parties, actor,
                          links, triage, mediator_ids)

    def open_by_hand(self, case_type: str, station: str, address: str, summary: str, parties: Sequence[Party],
                     actor: str, triage: Triage | None = None, mediator_ids: Sequence[str] = ()) -> dict[str, Any]:
        """A walk-in, a referral from public-opinion monitoring: opened at the centre, triaged now or later."""
        if station and station not in dict(self.grids.stations(self.language)):
            raise MediationRefused(text("mediation.refused.station", self.language))
        return self._open(Source.MANUAL, None, case_type, None, address, summary, parties, actor, [], triage,
                          mediator_ids, station=station)

    def apply_online(self, application: Application) -> tuple[dict[str, Any], bool]:
        """An application from the public form: a new case awaiting triage, or, when the same applicant already
        has an open application against the same respondent, merged into it. Returns (case, merged)."""
        case_type = self._case_type(application.case_type)
        applicant = self._party_rows([application.applicant], require_id=True)[0]
        respondent = self._party_rows([application.respondent])[0]
        description = application.description.strip()[:MAX_TEXT]
        if not description or not application.address.strip():
            raise MediationRefused(text("mediation.refused.text", self.language))
        key = self.vault.digest(f"{applicant['id_digest']}|{respondent['name']}|{case_type}")
        now = self.clock()
        with self.engine.begin() as conn:
            existing = conn.execute(select(mediation_cases).where(and_(
                mediation_cases.c.application == key, mediation_cases.c.closed_at.is_(None)))).mappings().first()
            if existing is not None:
                ref = f"APP-{secrets.token_hex(4)}"
                conn.execute(insert(mediation_links).values(case_id=existing["case_id"], kind="application", ref=ref,
                                                            at=now, later=True))
                self._event(conn, existing["case_id"], "anonymous", "merged", now, ref=ref,
                            description=description[:500])
                audit.append(conn, "anonymous", "mediation.apply", target=existing["case_id"], detail="merged",
                             at=now)
                return dict(existing), True
        station, grid = self._place_of(application.address)
        case = self._open(Source.ONLINE, None, case_type, grid, application.address, description,
                          [application.applicant, application.respondent], "anonymous", [], None, (),
                          station=station, application=key, remote=application.remote)
        return case, False

    def _open(self, source: Source, source_ref: str | None, case_type: str, grid: str | None, address: str,
              summary: str, parties: Sequence[Party], actor: str, links: Iterable[tuple[str, str]],
              triage: Triage | None, mediator_ids: Sequence[str], *, station: str = "",
              application: str | None = None, remote: bool = False) -> dict[str, Any]:
        kind = self._case_type(case_type)
        rows = self._party_rows(parties)
        found = self.grids.get(grid) if grid else None
        now = self.clock()
        case: dict[str, Any] = {
            "case_id": f"MD-{secrets.token_hex(5)}", "source": source.value, "source_ref": source_ref,
            "case_type": kind, "station": found.station if found else station, "grid": grid,
            "address": address.strip()[:500], "household": _household(address),
            "summary": summary.strip()[:MAX_TEXT], "stage": Stage.TRIAGE.value, "outcome": None, "round": 1,
            "opened_at": now, "opened_by": actor, "handover_due": now + HANDOVER, "triaged_at": None,
            "triaged_by": None, "fits": None, "triage": "{}", "reclassified": False, "handed_over_at": None,
            "contact_due": None, "contacted_at": None, "session_at": None, "remote": remote, "meeting_link": "",
            "identity": None, "agreed_at": None, "agreement": "", "signatures": "[]", "fulfil_due": None,
            "fulfilled_at": None, "fulfilled": None, "visit_due": None, "visited_at": None, "satisfied": None,
            "referred_at": None, "closed_at": None, "application": application}
        with self.engine.begin() as conn:
            conn.execute(insert(mediation_cases).values(**case))
            for row in rows:
                conn.execute(insert(mediation_parties).values(case_id=case["case_id"], **row))
            for link_kind, ref in dict.fromkeys(links):
                conn.execute(insert(mediation_links).values(case_id=case["case_id"], kind=link_kind, ref=ref,
                                                            at=now, later=False))
            self._event(conn, case["case_id"], actor, "opened", now, source=source.value, ref=source_ref or "")
            audit.append(conn, actor, "mediation.open", target=case["case_id"],
                         detail=f"source={source.value} ref={source_ref or ''}", at=now)
            if triage is not None:
                case = self._triage(conn, case, triage, actor, mediator_ids, now)
        self._relay()
        return case

    # -- triage and the people ----------------------------------------------------------------------------

    def triage(self, case_id: str, triage: Triage, actor: str, mediator_ids: Sequence[str] = ()) -> dict[str, Any]:
        """Triage a case that came without it (online, by hand)."""
        with self.engine.begin() as conn:
            case = self._locked(conn, case_id, Stage.TRIAGE)
            if case["triaged_at"] is not None:
                raise MediationRefused(text("mediation.refused.stage", self.language))
            case = self._triage(conn, case, triage, actor, mediator_ids, self.clock())
        self._relay()
        return case

    def _triage(self, conn: Connection, case: dict[str, Any], triage: Triage, actor: str,
                mediator_ids: Sequence[str], now: datetime) -> dict[str, Any]:
        kind = self._case_type(triage.case_type)
        station = case["station"] or triage.station
        if not station or station not in dict(self.grids.stations(self.language)):
            raise MediationRefused(text("mediation.refused.station", self.language))
        fits = not triage.reasons
        answers = {"case_type": kind, "lawful": triage.lawful, "willing": triage.willing,
                   "reasons": triage.reasons, "note": triage.note.strip()[:500]}
        changes: dict[str, Any] = {"case_type": kind, "station": station, "triaged_at": now, "triaged_by": actor,
                                   "fits": fits, "triage": json.dumps(answers, ensure_ascii=False)}
        if not fits:
            changes |= {"stage": Stage.CLOSED.value, "outcome": Outcome.RETURNED.value, "closed_at": now}
        self._update(conn, case["case_id"], changes)
        case = {**case, **changes}
        self._event(conn, case["case_id"], actor, "triaged", now, fits=fits, case_type=kind,
                    reasons=triage.reasons, note=answers["note"])
        audit.append(conn, actor, "mediation.triage", target=case["case_id"], detail=f"fits={fits} type={kind}",
                     at=now)
        if fits:
            if case["source"] == Source.LEAD and self.lead_handled is not None:
                self.lead_handled(conn, case["source_ref"], actor,
                                  text("mediation.lead_result", self.language, case_id=case["case_id"]), True, now)
            case = self._hand_over(conn, case, mediator_ids, actor, now)
        return case

    def proposed(self, case_type: str, station: str) -> list[people.Mediator]:
        """The team the matching proposes for a case of ``case_type`` in ``station``."""
        with self.engine.connect() as conn:
            return people.match(people.everyone(conn), people.loads(conn), case_type, station)

    def mediators(self) -> list[tuple[people.Mediator, int]]:
        """Everyone in the registry with their open cases."""
        with self.engine.connect() as conn:
            load = people.loads(conn)
            return [(m, load.get(m.mediator_id, 0)) for m in people.everyone(conn)]

    def assign(self, case_id: str, mediator_ids: Sequence[str], actor: str) -> dict[str, Any]:
        """The desk's choice of mediators (over the matching's); on a fitting case not yet handed over, this is
        the hand-over."""
        if not mediator_ids:
            raise MediationRefused(text("mediation.refused.mediators", self.language))
        now = self.clock()
        with self.engine.begin() as conn:
            case = self._locked(conn, case_id, *OPEN_STAGES)
            if not case["fits"]:
                raise MediationRefused(text("mediation.refused.stage", self.language))
            case = self._hand_over(conn, case, mediator_ids, actor, now)
        self._relay()
        return case

    def _hand_over(self, conn: Connection, case: dict[str, Any], mediator_ids: Sequence[str], actor: str,
                   now: datetime) -> dict[str, Any]:
        everyone = {m.mediator_id: m for m in people.everyone(conn)}
        if mediator_ids:
            chosen = [everyone[i] for i in dict.fromkeys(mediator_ids) if i in everyone and everyone[i].active]
            if len(chosen) != len(set(mediator_ids)):
                raise MediationRefused(text("mediation.refused.mediators", self.language))
            matched = False
        else:
            chosen = people.match(list(everyone.values()), people.loads(conn), case["case_type"], case["station"])
            matched = True
        if not chosen:
            # Nobody to hand it to: it waits in triage, its hand-over clock running, for the desk to choose.
            self._event(conn, case["case_id"], actor, "unmatched", now)
            return case
        conn.execute(delete(mediation_assignments).where(mediation_assignments.c.case_id == case["case_id"]))
        conn.execute(insert(mediation_assignments), [
            {"case_id": case["case_id"], "mediator_id": m.mediator_id, "assigned_at": now, "assigned_by": actor,
             "matched": matched} for m in chosen])
        changes: dict[str, Any] = {}
        if case["handed_over_at"] is None:
            changes = {"stage": Stage.ASSIGNED.value, "handed_over_at": now, "contact_due": now + CONTACT}
            self._update(conn, case["case_id"], changes)
        self._event(conn, case["case_id"], actor, "assigned", now, mediators=[m.name for m in chosen],
                    matched=matched)
        audit.append(conn, actor, "mediation.assign", target=case["case_id"],
                     detail=",".join(m.mediator_id for m in chosen), at=now)
        return {**case, **changes}

    def reclassify(self, case_id: str, case_type: str, actor: str, note: str) -> dict[str, Any]:
        """The centre corrects the triage's type (counted against triage accuracy)."""
        kind = self._case_type(case_type)
        now = self.clock()
        with self.engine.begin() as conn:
            case = self._locked(conn, case_id, *OPEN_STAGES)
            if case["triaged_at"] is None or kind == case["case_type"]:
                raise MediationRefused(text("mediation.refused.stage", self.language))
            self._update(conn, case_id, {"case_type": kind, "reclassified": True})
            self._event(conn, case_id, actor, "reclassified", now, before=case["case_type"], after=kind,
                        note=note.strip()[:500])
            audit.append(conn, actor, "mediation.reclassify", target=case_id, detail=f"{case['case_type']}->{kind}",
                         at=now)
        return {**case, "case_type": kind, "reclassified": True}

    def send_back(self, case_id: str, actor: str, note: str) -> dict[str, Any]:
        """The centre finds a handed-over case does not fit after all (a triage error): back to the normal
        process, with the reason."""
        note = note.strip()[:500]
        if not note:
            raise MediationRefused(text("mediation.refused.note", self.language))
        return self._close(case_id, actor, Outcome.RETURNED, "sent_back", note=note)

    def withdraw(self, case_id: str, actor: str, note: str) -> dict[str, Any]:
        return self._close(case_id, actor, Outcome.WITHDRAWN, "withdrawn", note=note.strip()[:500])

    def add_party(self, case_id: str, party: Party, actor: str) -> None:
        """A party the case did not have yet (the other side of a dispute called in by one)."""
        row = self._party_rows([party])[0]
        now = self.clock()
        with self.engine.begin() as conn:
            self._locked(conn, case_id, Stage.TRIAGE, Stage.ASSIGNED, Stage.SCHEDULED)
            conn.execute(insert(mediation_parties).values(case_id=case_id, **row))
            self._event(conn, case_id, actor, "party", now, side=party.side, name=row["name"])
            audit.append(conn, actor, "mediation.party", target=case_id, detail=f"side={party.side}", at=now)

    # -- the mediation itself -----------------------------------------------------------------------------

    def contact(self, case_id: str, actor: str, session_at: datetime, remote: bool, meeting_link: str,
                identity: str, note: str = "") -> dict[str, Any]:
        """Both parties reached: the session's time fixed and the mediation notice sent (a remote session with
        its meeting link; the parties' identities verified in person or by video)."""
        now = self.clock()
        session_at = session_at.astimezone(UTC)  # kept in UTC like every stored time (a form gives Beijing time)
        meeting_link = meeting_link.strip()
        if session_at <= now - timedelta(hours=1) or session_at > now + timedelta(days=30):
            raise MediationRefused(text("mediation.refused.session_at", self.language))
        if remote and not meeting_link.startswith(("https://", "http://")):
            raise MediationRefused(text("mediation.refused.link", self.language))
        if identity not in {"in_person", "video"}:
            raise MediationRefused(text("mediation.refused.identity", self.language))
        with self.engine.begin() as conn:
            case = self._locked(conn, case_id, Stage.ASSIGNED)
            sides = set(conn.execute(select(mediation_parties.c.side)
                                     .where(mediation_parties.c.case_id == case_id)).scalars())
            if not sides >= set(SIDES):
                raise MediationRefused(text("mediation.refused.both_parties", self.language))
            changes = {"stage": Stage.SCHEDULED.value, "contacted_at": now, "session_at": session_at,
                       "remote": remote, "meeting_link": meeting_link[:MAX_LINK] if remote else "",
                       "identity": identity}
            self._update(conn, case_id, changes)
            conn.execute(update(mediation_parties).where(mediation_parties.c.case_id == case_id)
                         .values(contacted_at=now))
            self._event(conn, case_id, actor, "contacted", now, session_at=session_at.isoformat(), remote=remote,
                        identity=identity, note=note.strip()[:500])
            audit.append(conn, actor, "mediation.contact", target=case_id, at=now)
        return {**case, **changes}

    def record_session(self, case_id: str, actor: str, claims: str, dispute: str, plan: str, consensus: str,
                       agreed: bool, agreement: str = "", fulfil_due: datetime | None = None,
                       signatures: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The session's four steps; with an agreement, its text, its fulfilment deadline (at most 7 days) and each
        party's typed signature (their name as recorded, typed by them, kept with the time)."""
        steps = [value.strip()[:MAX_TEXT] for value in (claims, dispute, plan, consensus)]
        if not all(steps):
            raise MediationRefused(text("mediation.refused.steps", self.language))
        now = self.clock()
        agreement = agreement.strip()[:MAX_TEXT]
        fulfil_due = fulfil_due.astimezone(UTC) if fulfil_due is not None else None  # stored in UTC
        if agreed and (not agreement or fulfil_due is None
                       or not now < fulfil_due <= now + timedelta(days=MAX_FULFIL_DAYS)):
            raise MediationRefused(text("mediation.refused.agreement", self.language, days=MAX_FULFIL_DAYS))
        with self.engine.begin() as conn:
            case = self._locked(conn, case_id, Stage.SCHEDULED)
            signed = self._signatures(conn, case_id, signatures or {}, now) if agreed else []
            conn.execute(insert(mediation_sessions).values(
                case_id=case_id, round=case["round"], held_at=now, recorded_by=actor, remote=case["remote"],
                claims=steps[0], dispute=steps[1], plan=steps[2], consensus=steps[3], agreed=agreed))
            if agreed:
                changes: dict[str, Any] = {"stage": Stage.FULFILLING.value, "agreed_at": now, "agreement": agreement,
                                           "fulfil_due": fulfil_due,
                                           "signatures": json.dumps(signed, ensure_ascii=False)}
            else:
                changes = {"stage": Stage.CLOSED.value, "outcome": Outcome.NO_AGREEMENT.value, "closed_at": now}
            self._update(conn, case_id, changes)
            self._event(conn, case_id, actor, "session", now, agreed=agreed,
                        fulfil_due=fulfil_due.isoformat() if agreed and fulfil_due else "")
            audit.append(conn, actor, "mediation.session", target=case_id, detail=f"agreed={agreed}", at=now)
        return {**case, **changes}

    def _signatures(self, conn: Connection, case_id: str, typed: Mapping[str, str],
                    now: datetime) -> list[dict[str, str]]:
        """Every party's typed signature, each the name the case records for them; refused otherwise."""
        signed = []
        for side, name in conn.execute(select(mediation_parties.c.side, mediation_parties.c.name)
                                       .where(mediation_parties.c.case_id == case_id).order_by(mediation_parties.c.id)):
            if typed.get(side, "").strip() != name:
                raise MediationRefused(text("mediation.refused.signature", self.language))
            signed.append({"side": side, "name": name, "at": now.isoformat()})
        if not signed:
            raise MediationRefused(text("mediation.refused.signature", self.language))
        return signed

    def record_fulfilment(self, case_id: str, actor: str, fulfilled: bool, note: str = "") -> dict[str, Any]:
        """Whether the agreement was fulfilled. Not fulfilled: a judicial-confirmation referral goes to the
        court liaison (``{cc}:out:judicial``), which makes the agreement enforceable, and the case closes."""
        now = self.clock()
        with self.engine.begin() as conn:
            case = self._locked(conn, case_id, Stage.FULFILLING)
            if fulfilled:
                changes: dict[str, Any] = {"stage": Stage.VISITING.value, "fulfilled_at": now, "fulfilled": True,
                                           "visit_due": as_utc(case["fulfil_due"]) + VISIT_AFTER}
            else:
                changes = {"fulfilled_at": now, "fulfilled": False, "referred_at": now, "stage": Stage.CLOSED.value,
                           "outcome": Outcome.REFERRED.value, "closed_at": now}
                queue(conn, keys.OUT_JUDICIAL, self._referral(conn, {**case, **changes}, note))
            self._update(conn, case_id, changes)
            self._event(conn, case_id, actor, "fulfilment", now, fulfilled=fulfilled, note=note.strip()[:500])
            audit.append(conn, actor, "mediation.fulfilment", target=case_id, detail=f"fulfilled={fulfilled}", at=now)
        self._relay()
        return {**case, **changes}

    def record_visit(self, case_id: str, actor: str, satisfied: bool, note: str = "") -> dict[str, Any]:
        """The return visit after fulfilment. Dissatisfied in the first round: the case closes and the one second
        mediation opens as a case of its own (the same parties and mediators, handed over at once); dissatisfied
        in the second: closed as dissatisfied."""
        now = self.clock()
        with self.engine.begin() as conn:
            case = self._locked(conn, case_id, Stage.VISITING)
            if satisfied:
                outcome = Outcome.SUCCESS
            else:
                outcome = Outcome.SECOND if case["round"] < ROUNDS else Outcome.DISSATISFIED
            changes: dict[str, Any] = {"visited_at": now, "satisfied": satisfied, "stage": Stage.CLOSED.value,
                                       "outcome": outcome.value, "closed_at": now}
            self._update(conn, case_id, changes)
            self._event(conn, case_id, actor, "visit", now, satisfied=satisfied, note=note.strip()[:500])
            audit.append(conn, actor, "mediation.visit", target=case_id, detail=f"satisfied={satisfied}", at=now)
            if outcome is Outcome.SECOND:
                second = self._second(conn, case, actor, now)
                changes["second_case"] = second["case_id"]
        self._relay()
        return {**case, **changes}

    def _second(self, conn: Connection, first: Mapping[str, Any], actor: str, now: datetime) -> dict[str, Any]:
        """The second mediation: a new case from the first, triaged and handed over as it is opened."""
        case = {**first, "case_id": f"MD-{secrets.token_hex(5)}", "source": Source.SECOND.value,
                "source_ref": first["case_id"], "stage": Stage.ASSIGNED.value, "outcome": None,
                "round": first["round"] + 1, "opened_at": now, "opened_by": actor, "handover_due": now + HANDOVER,
                "triaged_at": now, "triaged_by": actor, "reclassified": False, "handed_over_at": now,
                "contact_due": now + CONTACT, "contacted_at": None, "session_at": None, "identity": None,
                "agreed_at": None, "agreement": "", "signatures": "[]", "fulfil_due": None, "fulfilled_at": None,
                "fulfilled": None, "visit_due": None, "visited_at": None, "satisfied": None, "referred_at": None,
                "closed_at": None, "application": None}
        conn.execute(insert(mediation_cases).values(**case))
        for party in conn.execute(select(mediation_parties).where(mediation_parties.c.case_id == first["case_id"])
                                  .order_by(mediation_parties.c.id)).mappings().all():
            conn.execute(insert(mediation_parties).values(
                **{k: v for k, v in party.items() if k not in {"id", "case_id", "contacted_at"}},
                case_id=case["case_id"]))
        for assigned in conn.execute(select(mediation_assignments)
                                     .where(mediation_assignments.c.case_id == first["case_id"])).mappings().all():
            conn.execute(insert(mediation_assignments).values(
                {**assigned, "case_id": case["case_id"], "assigned_at": now, "assigned_by": actor}))
        conn.execute(insert(mediation_links).values(case_id=case["case_id"], kind="case", ref=first["case_id"],
                                                    at=now, later=False))
        self._event(conn, case["case_id"], actor, "opened", now, source=Source.SECOND.value, ref=first["case_id"])
        self._event(conn, first["case_id"], actor, "second", now, case=case["case_id"])
        audit.append(conn, actor, "mediation.second", target=case["case_id"], detail=f"first={first['case_id']}",
                     at=now)
        return case

    def _close(self, case_id: str, actor: str, outcome: Outcome, action: str, note: str) -> dict[str, Any]:
        now = self.clock()
        with self.engine.begin() as conn:
            case = self._locked(conn, case_id, *OPEN_STAGES)
            changes = {"stage": Stage.CLOSED.value, "outcome": outcome.value, "closed_at": now}
            self._update(conn, case_id, changes)
            self._event(conn, case_id, actor, action, now, note=note)
            audit.append(conn, actor, f"mediation.{action}", target=case_id, at=now)
        return {**case, **changes}

    def _referral(self, conn: Connection, case: Mapping[str, Any], note: str) -> dict[str, str]:
        """The court liaison's record: the case, its agreement and the parties' names (numbers stay here)."""
        names = [f"{p['side']}:{p['name']}" for p in conn.execute(
            select(mediation_parties.c.side, mediation_parties.c.name)
            .where(mediation_parties.c.case_id == case["case_id"]).order_by(mediation_parties.c.id)).mappings()]
        return {"kind": "judicial_confirmation", "case_id": case["case_id"], "case_type": case["case_type"],
                "station": case["station"], "agreement": case["agreement"],
                "fulfil_due": as_utc(case["fulfil_due"]).isoformat(),
                "agreed_at": as_utc(case["agreed_at"]).isoformat(), "parties": "；".join(names),
                "note": note.strip()[:500], "at": as_utc(case["referred_at"]).isoformat()}

    # -- a household calling again ------------------------------------------------------------------------

    def household_calls(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Newly kept incidents from a household with an open case (the same household by address in the case's
        grid, or a party's phone): linked to the case and its mediators told at once. Returns how many calls were
        linked."""
        by_household: dict[str, list[Mapping[str, Any]]] = {}
        for row in rows:
            if key := _household(str(row.get("address") or "")):
                by_household.setdefault(key, []).append(row)
        by_phone = {self.vault.digest(clean(str(r["caller"]))): r for r in rows if r.get("caller")}
        if not by_household and not by_phone:
            return 0
        now = self.clock()
        linked = 0
        with self.engine.begin() as conn:
            found: dict[tuple[str, str], Mapping[str, Any]] = {}
            open_cases = mediation_cases.c.closed_at.is_(None)
            if by_household:
                for case_id, household, grid in conn.execute(
                        select(mediation_cases.c.case_id, mediation_cases.c.household, mediation_cases.c.grid)
                        .where(and_(open_cases, mediation_cases.c.household.in_(sorted(by_household))))):
                    # An address is the household's within its grid only (as the warning rules read it).
                    for call in by_household[household]:
                        if grid is None or grid == call.get("grid"):
                            found[(case_id, call["event_id"])] = call
            if by_phone:
                for case_id, digest in conn.execute(
                        select(mediation_cases.c.case_id, mediation_parties.c.phone_digest)
                        .join(mediation_parties, mediation_parties.c.case_id == mediation_cases.c.case_id)
                        .where(and_(open_cases, mediation_parties.c.phone_digest.in_(sorted(by_phone))))):
                    found[(case_id, by_phone[digest]["event_id"])] = by_phone[digest]
            for (case_id, event_id), row in sorted(found.items()):
                if conn.execute(select(mediation_links.c.case_id).where(and_(
                        mediation_links.c.case_id == case_id, mediation_links.c.kind == "incident",
                        mediation_links.c.ref == event_id))).first() is not None:
                    continue
                conn.execute(insert(mediation_links).values(case_id=case_id, kind="incident", ref=event_id, at=now,
                                                            later=True))
                self._event(conn, case_id, "system", "called_again", now, incident=event_id,
                            category=str(row.get("category") or ""))
                for username in self._mediator_accounts(conn, case_id):
                    self.notifier.send(conn, Notification(
                        "mediator", username, str(row.get("grid") or ""), event_id,
                        text("mediation.notify.called_again", self.language, case_id=case_id,
                             at=clock.local(as_utc(row["reported_at"])).strftime("%m-%d %H:%M"))), now)
                linked += 1
        if linked:
            self._relay()
        return linked

    # -- reading ------------------------------------------------------------------------------------------

    def get(self, case_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(mediation_cases).where(mediation_cases.c.case_id == case_id)).mappings().first()
        return _aware(row) if row else None

    def visible(self, case: Mapping[str, Any], scope: Scope) -> bool:
        if scope.everything:
            return True
        if scope.mediator is not None:
            return scope.mediator in {m["username"] for m in self.team(case["case_id"])}
        return bool(case["station"] == scope.station)

    def listed(self, scope: Scope, *, closed: bool = False, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """Open cases, the most urgent first (by their running clock's deadline), or closed ones, newest first;
        each with its mediators' names and the household's calls since it opened."""
        query = select(mediation_cases).where(
            mediation_cases.c.closed_at.is_not(None) if closed else mediation_cases.c.closed_at.is_(None))
        if scope.station is not None:
            query = query.where(mediation_cases.c.station == scope.station)
        if scope.mediator is not None:
            query = query.where(mediation_cases.c.case_id.in_(
                select(mediation_assignments.c.case_id).join(
                    mediators, mediators.c.mediator_id == mediation_assignments.c.mediator_id)
                .where(mediators.c.username == scope.mediator)))
        order = mediation_cases.c.closed_at.desc() if closed else mediation_cases.c.opened_at
        with self.engine.connect() as conn:
            rows = [_aware(r) for r in conn.execute(query.order_by(order).limit(limit)).mappings()]
            ids = [r["case_id"] for r in rows]
            names: dict[str, list[str]] = {}
            for case_id, name in conn.execute(
                    select(mediation_assignments.c.case_id, mediators.c.name)
                    .join(mediators, mediators.c.mediator_id == mediation_assignments.c.mediator_id)
                    .where(mediation_assignments.c.case_id.in_(ids)).order_by(mediators.c.mediator_id)):
                names.setdefault(case_id, []).append(name)
            calls = {case_id: int(count) for case_id, count in conn.execute(
                select(mediation_links.c.case_id, func.count())
                .where(and_(mediation_links.c.case_id.in_(ids), mediation_links.c.later.is_(True),
                            mediation_links.c.kind == "incident"))
                .group_by(mediation_links.c.case_id))}
        for row in rows:
            row["mediators"] = names.get(row["case_id"], [])
            row["calls_since"] = calls.get(row["case_id"], 0)
        return rows

    def team(self, case_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(mediators, mediation_assignments.c.assigned_at, mediation_assignments.c.matched)
                .join(mediation_assignments, mediation_assignments.c.mediator_id == mediators.c.mediator_id)
                .where(mediation_assignments.c.case_id == case_id)
                .order_by(mediation_assignments.c.assigned_at, mediators.c.mediator_id)).mappings().all()
        # The lead mediator (a professional) first, then the supporters.
        return sorted((dict(r) for r in rows), key=lambda m: m["kind"] not in people.PROFESSIONALS)

    def parties(self, case_id: str) -> list[dict[str, Any]]:
        """The parties with their numbers masked (what every page shows)."""
        return [{**p, "id_number": mask_id(p["id_number"]), "phone": mask_phone(p["phone"])}
                for p in self._opened_parties(case_id)]

    def parties_in_full(self, case_id: str, actor: str, role: str = "", ip: str = "") -> list[dict[str, Any]]:
        """The parties with their numbers in full: only for those who must call them; each view audited."""
        shown = self._opened_parties(case_id)
        with self.engine.begin() as conn:
            audit.append(conn, actor, "mediation.parties.view", role=role, target=case_id, ip=ip,
                         detail=f"parties={len(shown)}", at=self.clock())
        return shown

    def _opened_parties(self, case_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(mediation_parties).where(mediation_parties.c.case_id == case_id)
                                .order_by(mediation_parties.c.id)).mappings().all()
        return [{"side": r["side"], "name": r["name"], "id_number": self.vault.open(r["id_sealed"]),
                 "phone": self.vault.open(r["phone_sealed"]), "contacted_at": r["contacted_at"]} for r in rows]

    def history(self, case_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(mediation_events).where(mediation_events.c.case_id == case_id)
                                .order_by(mediation_events.c.id)).mappings().all()
        return [{**r, "detail": json.loads(r["detail"])} for r in rows]

    def sessions(self, case_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(mediation_sessions).where(mediation_sessions.c.case_id == case_id)
                                .order_by(mediation_sessions.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def links(self, case_id: str) -> list[dict[str, Any]]:
        """What the case is linked to, with each incident's time, category and description."""
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(mediation_links).where(mediation_links.c.case_id == case_id)
                                                  .order_by(mediation_links.c.at, mediation_links.c.ref)).mappings()]
            ids = [r["ref"] for r in rows if r["kind"] == "incident"]
            found = {r["event_id"]: dict(r) for r in conn.execute(
                select(incidents.c.event_id, incidents.c.reported_at, incidents.c.category, incidents.c.description,
                       incidents.c.address).where(incidents.c.event_id.in_(ids))).mappings()}
        for row in rows:
            row["incident"] = found.get(row["ref"])
        return rows

    def origin(self, source: str, ref: str) -> dict[str, Any] | None:
        """What the triage form starts from: an incident's or a lead's place, station, text, caller and kind."""
        with self.engine.connect() as conn:
            if source == "incident":
                row = conn.execute(select(incidents).where(incidents.c.event_id == ref)).mappings().first()
                if row is None:
                    return None
                found = self.grids.get(row["grid"])
                return {"station": found.station if found else "", "grid": row["grid"], "address": row["address"],
                        "summary": row["description"], "caller": row["caller"] or "", "category": row["category"],
                        "rule": None}
            lead = conn.execute(select(leads).where(leads.c.lead_id == ref)).mappings().first()
            if lead is None:
                return None
            latest = conn.execute(select(incidents).where(incidents.c.event_id.in_(json.loads(lead["evidence"])))
                                  .order_by(incidents.c.reported_at.desc()).limit(1)).mappings().first()
        return {"station": lead["station"], "grid": lead["grid"], "address": latest["address"] if latest else "",
                "summary": lead["summary"], "caller": (latest["caller"] or "") if latest else "",
                "category": latest["category"] if latest else None, "rule": lead["rule"]}

    def figures(self, start: datetime, asof: datetime | None = None, months: float = 1.0) -> dict[str, Any]:
        """The centre's figures for ``[start, asof)`` (:mod:`mediation.figures`)."""
        with self.engine.connect() as conn:
            return period_figures(conn, start, asof or self.clock(), months)

    def open_for_household(self, address: str) -> list[dict[str, Any]]:
        """Open cases of the household at ``address`` (the triage form warns of one before a second is opened)."""
        key = _household(address)
        if not key:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(mediation_cases).where(and_(
                mediation_cases.c.household == key, mediation_cases.c.closed_at.is_(None)))).mappings().all()
        return [_aware(r) for r in rows]

    # -- helpers ------------------------------------------------------------------------------------------

    def _case_type(self, value: str) -> str:
        try:
            return CaseType(value).value
        except ValueError:
            raise MediationRefused(text("mediation.refused.type", self.language)) from None

    def _party_rows(self, parties: Sequence[Party], require_id: bool = False) -> list[dict[str, Any]]:
        rows = []
        for party in parties:
            name = party.name.strip()[:MAX_NAME]
            id_number, phone = clean(party.id_number), clean(party.phone)
            if party.side not in SIDES or not name:
                raise MediationRefused(text("mediation.refused.party", self.language))
            if (id_number or require_id) and not valid_id_number(id_number):
                raise MediationRefused(text("mediation.refused.id_number", self.language))
            if (phone or require_id) and not valid_phone(phone):
                raise MediationRefused(text("mediation.refused.phone", self.language))
            rows.append({"side": party.side, "name": name, "id_sealed": self.vault.seal(id_number),
                         "id_digest": self.vault.digest(id_number), "phone_sealed": self.vault.seal(phone),
                         "phone_digest": self.vault.digest(phone)})
        return rows

    def _place_of(self, address: str) -> tuple[str, str | None]:
        """An online application's station and grid: those of the household's latest call, if it ever called."""
        key = _household(address)
        if not key:
            return "", None
        with self.engine.connect() as conn:
            for grid, written in conn.execute(
                    select(incidents.c.grid, incidents.c.address)
                    .where(incidents.c.category.in_(sorted(TYPE_OF_CATEGORY)))
                    .order_by(incidents.c.reported_at.desc()).limit(5000)):
                if household_key(written) == key:
                    found = self.grids.get(grid)
                    return (found.station if found else ""), grid
        return "", None

    def _locked(self, conn: Connection, case_id: str, *stages: Stage) -> dict[str, Any]:
        """The case, refused unless it is in one of ``stages``."""
        row = conn.execute(select(mediation_cases).where(mediation_cases.c.case_id == case_id)).mappings().first()
        if row is None:
            raise MediationRefused(text("mediation.refused.unknown", self.language))
        if row["stage"] not in stages:
            raise MediationRefused(text("mediation.refused.stage", self.language))
        return _aware(row)

    def _update(self, conn: Connection, case_id: str, changes: Mapping[str, Any]) -> None:
        conn.execute(update(mediation_cases).where(mediation_cases.c.case_id == case_id).values(**changes))

    def _event(self, conn: Connection, case_id: str, actor: str, action: str, at: datetime, **detail: Any) -> None:
        conn.execute(insert(mediation_events).values(case_id=case_id, at=at, actor=actor, action=action,
                                                     detail=json.dumps(detail, ensure_ascii=False, default=str)))

    def _mediator_accounts(self, conn: Connection, case_id: str) -> list[str]:
        return [u for u in conn.execute(
            select(mediators.c.username).join(mediation_assignments,
                                              mediation_assignments.c.mediator_id == mediators.c.mediator_id)
            .where(and_(mediation_assignments.c.case_id == case_id, mediators.c.username.is_not(None)))
            .order_by(mediators.c.username)).scalars()]

    def _relay(self) -> None:
        if self.relay is not None:
            self.relay()


def case_type_of(category: str | None = None, rule: str | None = None) -> str:
    """The case type an incident's category or a lead's rule suggests (the triage form's first choice)."""
    if category and category in TYPE_OF_CATEGORY:
        return TYPE_OF_CATEGORY[category].value
    if rule and rule in TYPE_OF_RULE:
        return TYPE_OF_RULE[rule].value
    return CaseType.OTHER.value


def _aware(row: Mapping[str, Any] | RowMapping) -> dict[str, Any]:
    """A case row with its times as aware UTC datetimes, whatever the database hands back."""
    return {name: as_utc(value) if isinstance(value, datetime) else value for name, value in row.items()}


def _household(address: str) -> str:
    """The household an address names ("" for a street number, a building: no single household)."""
    key = household_key(address)
    return key[:160] if names_one_household(key) else ""
