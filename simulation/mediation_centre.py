"""A simulated mediation centre, so `make run` shows disputes moving through the whole lifecycle.

It plays every part through the same :class:`~mediation.service.MediationService` the pages use:
the duty officer taking dispute leads (a household calling again, bride-price and wage disputes) and some
dispute incidents to the triage form, members of the public applying online, the desk triaging those, and the
mediators contacting both parties, holding sessions, recording agreements, fulfilment and return visits. Each
case's delays are drawn from its own id (a restart carries on where it was): most steps are on time, some are
late (they join the supervision list), a few disputes do not fit, fail to agree, go unfulfilled (a judicial
referral) or leave a party dissatisfied (the one second mediation).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

import numpy as np
from sqlalchemy import Engine, and_, select

import clock
from mediation.cases import TYPE_OF_CATEGORY, TYPE_OF_RULE, CaseType, Stage
from mediation.identity import clean, id_check_character, valid_phone
from mediation.service import Application, MediationRefused, MediationService, Party, Scope, Triage
from store.db import as_utc, incidents, leads, mediation_links

log = logging.getLogger(__name__)

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国玉梅志红福春生"


def fraction(case_id: str, what: str) -> float:
    """A number in [0, 1) drawn from a case's id and a step's name: the same after a restart."""
    digest = hashlib.sha256(f"{case_id}:{what}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class MediationCentre:
    service: MediationService
    engine: Engine
    seed: int = 23
    duty: str = "sim-duty"
    desk: str = "sim-desk"
    mediator: str = "sim-mediator"
    PACE_S: ClassVar[tuple[float, float]] = (600.0, 1800.0)  # world seconds between passes
    LEAD_RULES: ClassVar[tuple[str, ...]] = tuple(TYPE_OF_RULE)
    INCIDENT_SHARE: ClassVar[float] = 0.08  # of dispute incidents, those the duty officer sends to triage
    ONLINE_PER_DAY: ClassVar[float] = 1.5
    rng: np.random.Generator = field(init=False)
    last_pass: datetime | None = None

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def run(self, stop: threading.Event) -> None:
        while not clock.wait(stop, float(self.rng.uniform(*self.PACE_S))):
            try:
                self.work()
            except Exception:  # the simulation carries on; the product's own refusals are logged, not fatal
                log.exception("simulated mediation centre failed")

    def work(self) -> dict[str, int]:
        """One pass: new cases in, then every open case whose next step is due moves on."""
        now = clock.now()
        since = self.last_pass or now - timedelta(hours=1)
        self.last_pass = now
        opened = self.take_leads(now) + self.take_incidents(now) + self.applications(since, now)
        moved = sum(self.advance(case, now) for case in self.service.listed(Scope(), limit=1000))
        return {"opened": opened, "moved": moved}

    # -- intake ---------------------------------------------------------------------------------------

    def take_leads(self, now: datetime) -> int:
        """The day's dispute leads not yet taken (a lead committed after the pass that its time falls in is
        taken by the next one)."""
        with self.engine.connect() as conn:
            taken = select(mediation_links.c.ref).where(mediation_links.c.kind == "lead")
            rows = conn.execute(select(leads.c.lead_id, leads.c.rule).where(and_(
                leads.c.created_at > now - timedelta(days=1), leads.c.rule.in_(self.LEAD_RULES),
                leads.c.state != "handled", leads.c.lead_id.not_in(taken))).order_by(leads.c.created_at)).all()
        for lead_id, rule in rows:
            self._open("lead", lead_id, TYPE_OF_RULE[rule].value)
        return len(rows)

    def take_incidents(self, now: datetime) -> int:
        """A share of the last two hours' dispute calls not yet taken (chosen by their ids: the same each pass)."""
        with self.engine.connect() as conn:
            taken = select(mediation_links.c.ref).where(mediation_links.c.kind == "incident")
            rows = conn.execute(select(incidents.c.event_id, incidents.c.category).where(and_(
                incidents.c.reported_at > now - timedelta(hours=2), incidents.c.history.is_(False),
                incidents.c.category.in_(sorted(TYPE_OF_CATEGORY)), incidents.c.event_id.not_in(taken)))).all()
        chosen = [(event_id, category) for event_id, category in rows
                  if fraction(event_id, "mediate") < self.INCIDENT_SHARE]
        for event_id, category in chosen:
            self._open("incident", event_id, TYPE_OF_CATEGORY[category].value)
        return len(chosen)

    def _open(self, source: str, ref: str, case_type: str) -> None:
        """The duty officer's triage: most disputes fit; one in ten does not (unwilling, or more than a dispute)."""
        fits = fraction(ref, "fits") >= 0.1
        unlawful = not fits and fraction(ref, "why") < 0.3  # else a party refuses
        triage = Triage(case_type, lawful=not unlawful, willing=fits or unlawful,
                        note="" if fits else ("有伤情，涉嫌违法" if unlawful else "一方拒绝调解"))
        opener = self.service.open_from_lead if source == "lead" else self.service.open_from_incident
        # The applicant is the caller, by the number they called from (the form is prefilled with it).
        caller = clean((self.service.origin(source, ref) or {}).get("caller") or "")
        applicant = self.person("applicant", ref)
        if valid_phone(caller):
            applicant = replace(applicant, phone=caller)
        try:
            opener(ref, triage, [applicant], self.duty)
        except MediationRefused as exc:
            log.info("simulated triage of %s refused: %s", ref, exc)

    def applications(self, since: datetime, now: datetime) -> int:
        count = int(self.rng.poisson(self.ONLINE_PER_DAY * (now - since).total_seconds() / 86400))
        types = [CaseType.DEBT, CaseType.NEIGHBOUR, CaseType.MARRIAGE, CaseType.PROPERTY, CaseType.WAGE,
                 CaseType.CONSUMER]
        for n in range(count):
            key = f"{now.isoformat()}:{n}"
            compound = str(self.rng.choice(["康乐", "富康", "民福", "北城"]))
            building, unit, floor, room = (int(self.rng.integers(1, n)) for n in (20, 6, 7, 4))
            address = f"朔城区{compound}小区{building}号楼{unit}单元{floor}0{room}室"
            try:
                self.service.apply_online(Application(
                    self.person("applicant", key, with_id=True), self.person("respondent", key),
                    types[int(self.rng.integers(len(types)))].value, address,
                    "对方拖欠款项多次催要未果，希望通过调解解决。", remote=bool(self.rng.random() < 0.4)))
            except MediationRefused as exc:
                log.info("simulated application refused: %s", exc)
        return count

    # -- the lifecycle --------------------------------------------------------------------------------

    def advance(self, case: dict[str, Any], now: datetime) -> int:
        """Take a case's next step if its time has come; 1 if it moved."""
        case_id, stage = case["case_id"], Stage(case["stage"])
        rnd = case["round"]
        try:
            if stage is Stage.TRIAGE and case["triaged_at"] is None:
                if now >= as_utc(case["opened_at"]) + timedelta(minutes=10 + 70 * fraction(case_id, "triage")):
                    station = case["station"] or f"PS-{1 + int(12 * fraction(case_id, 'station')):02d}"
                    self.service.triage(case_id, Triage(case["case_type"], True, fraction(case_id, "fits") >= 0.08,
                                                        station=station), self.desk)
                    return 1
            elif stage is Stage.ASSIGNED:
                # Most within the day; about one in eight later (the contact clock's 24 h).
                after = timedelta(hours=2 + 30 * fraction(case_id, f"contact{rnd}") ** 2)
                if now >= as_utc(case["handed_over_at"]) + after:
                    self._contact(case, now)
                    return 1
            elif stage is Stage.SCHEDULED:
                if now >= as_utc(case["session_at"]) + timedelta(hours=2 * fraction(case_id, f"held{rnd}")):
                    self._session(case, now)
                    return 1
            elif stage is Stage.FULFILLING:
                due = as_utc(case["fulfil_due"])
                if now >= due - timedelta(days=2 * fraction(case_id, f"fulfil{rnd}")):
                    kept = fraction(case_id, f"kept{rnd}") >= 0.08
                    self.service.record_fulfilment(case_id, self.mediator, kept,
                                                   "双方确认履行" if kept else "对方未按期履行")
                    return 1
            elif stage is Stage.VISITING:
                when = as_utc(case["fulfil_due"]) + timedelta(days=0.3 + 3.3 * fraction(case_id, f"visit{rnd}"))
                if now >= when:
                    satisfied = fraction(case_id, f"satisfied{rnd}") >= 0.07
                    self.service.record_visit(case_id, self.mediator, satisfied,
                                              "满意" if satisfied else "对履行情况不满意，申请再次调解")
                    return 1
        except MediationRefused as exc:  # someone at the desk took the step first
            log.info("simulated step on %s refused: %s", case_id, exc)
        return 0

    def _contact(self, case: dict[str, Any], now: datetime) -> None:
        case_id = case["case_id"]
        if "respondent" not in {p["side"] for p in self.service.parties(case_id)}:
            self.service.add_party(case_id, self.person("respondent", case_id), self.mediator)
        session_day = clock.local(now).date() + timedelta(days=1 + int(2 * fraction(case_id, "day")))
        session_at = clock.at(session_day, 9 + int(8 * fraction(case_id, "hour")))
        remote = bool(case["remote"]) or fraction(case_id, "remote") < 0.2
        link = f"https://meeting.example.cn/r/{case_id.lower()}" if remote else ""
        self.service.contact(case_id, self.mediator, session_at, remote, link, "video" if remote else "in_person",
                             "已电话联系双方，送达调解通知书")

    def _session(self, case: dict[str, Any], now: datetime) -> None:
        case_id, rnd = case["case_id"], case["round"]
        agreed = fraction(case_id, f"agreed{rnd}") >= 0.1
        names = {p["side"]: p["name"] for p in self.service.parties(case_id)}
        due = now + timedelta(days=3 + 4 * fraction(case_id, f"due{rnd}"))
        self.service.record_session(
            case_id, self.mediator, "申请人陈述诉求及理由", "争议焦点为款项金额与支付期限",
            "调解员提出分期履行方案", "双方同意方案" if agreed else "双方未能达成一致", agreed,
            "被申请人于约定期限前一次性支付争议款项，双方不再因此事发生纠纷。" if agreed else "",
            min(due, now + timedelta(days=7)) if agreed else None, names if agreed else None)

    def person(self, side: str, key: str, with_id: bool = False) -> Party:
        """A party with a plausible name, phone number and (for an online applicant) identity number."""
        digits = int.from_bytes(hashlib.sha256(f"{side}:{key}".encode()).digest()[:8], "big")
        name = SURNAMES[digits % len(SURNAMES)] + GIVEN[(digits >> 8) % len(GIVEN)] + GIVEN[
            (digits >> 16) % len(GIVEN)]
        phone = f"1{3 + (digits >> 24) % 7}{(digits >> 28) % 10**9:09d}"
        id_number = ""
        if with_id:
            born = datetime(1960, 1, 1) + timedelta(days=(digits >> 40) % 16000)
            first17 = f"140602{born:%Y%m%d}{(digits >> 20) % 1000:03d}"
            id_number = first17 + id_check_character(first17)
        return Party(side, name, id_number, phone)

