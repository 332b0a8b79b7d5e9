"""Simulated chiefs working the supervision lists, so `make run` shows the whole loop.

Every few minutes (at the clock's pace):

- a station chief answers the escalation of their station that has waited longest, once it has waited at least
  :attr:`Chiefs.READ_AFTER` (a chief is not at the list all day): a short account of why the item was late and
  what changed, through the same :class:`supervision.service.SupervisionService` the list uses;
- the district chief issues a rectification notice to each station the week's Monday summary found below target
  (five days to rectify);
- a station chief reports on an open notice: progress first, then the closing report, most in time, some late.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

import numpy as np

import clock
from store.db import as_utc
from supervision.notices import NoticeRefused, NoticeService
from supervision.service import SupervisionRefused, SupervisionService
from supervision.weekly import SummaryService, reason_text

log = logging.getLogger(__name__)


@dataclass
class Chiefs:
    supervision: SupervisionService
    notices: NoticeService | None = None
    summaries: SummaryService | None = None
    seed: int = 23
    PACE_S: ClassVar[tuple[float, float]] = (120.0, 600.0)  # world seconds between acts
    READ_AFTER: ClassVar[timedelta] = timedelta(minutes=20)
    NOTICE_DAYS: ClassVar[float] = 5.0
    CLOSES_LATE: ClassVar[float] = 0.2  # the share of notices closed after their deadline
    RESPONSES: ClassVar[tuple[str, ...]] = (
        "已约谈值班民警，超时原因为警力同时处置多起警情，已调整夜班警力部署",
        "已督促责任民警到场并反馈结果，纳入本月考核",
        "网格员当日已补办，超时系通知未及时查看，已要求开启消息提醒",
        "线索已落实核查，因当事人外出延误，后续限时办结",
        "已召开所务会通报，明确专人跟踪，次日复查",
    )
    PROGRESS: ClassVar[tuple[str, ...]] = ("已召开所务会部署整改，明确责任人", "已建立台账，逐条复核中")
    CLOSING: ClassVar[tuple[str, ...]] = ("整改措施已全部落实，相关指标已恢复", "已完成整改并建立长效机制")
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def run(self, stop: threading.Event) -> None:
        while not clock.wait(stop, float(self.rng.uniform(*self.PACE_S))):
            try:
                self.answer_next()
                self.issue_from_summary()
                self.report_on_a_notice()
            except Exception:  # the simulation carries on; the product's own refusals are logged, not fatal
                log.exception("simulated chiefs failed")

    def answer_next(self) -> dict[str, Any] | None:
        """The station chief of the oldest escalation waiting long enough answers it; the answered escalation."""
        waited = clock.now() - self.READ_AFTER
        waiting = [e for e in self.supervision.listed(limit=100) if as_utc(e["raised_at"]) <= waited]
        if not waiting:
            return None
        oldest = min(waiting, key=lambda e: as_utc(e["raised_at"]))
        try:
            return self.supervision.respond(oldest["escalation_id"], f"sim-chief-{oldest['station'] or 'district'}",
                                            str(self.rng.choice(self.RESPONSES)))
        except SupervisionRefused:  # someone answered it first
            return None

    def issue_from_summary(self) -> list[dict[str, Any]]:
        """A notice to each station the latest Monday summary found below target, once."""
        if self.notices is None or self.summaries is None or (latest := self.summaries.latest()) is None:
            return []
        source = f"summary:{latest['key']}"
        done = {n["station"] for n in self.notices.listed(station="") + self.notices.listed(closed=True)
                if n["source"] == source}
        issued = []
        for below in latest["below"]:
            if below["station"] in done:
                continue
            standard = "；".join(reason_text(reason, self.notices.language) for reason in below["reasons"])
            issued.append(self.notices.issue(below["station"], "", standard, "对照通报逐项整改，按期报告整改情况",
                                             clock.now() + timedelta(days=self.NOTICE_DAYS), "sim-chief-district",
                                             source))
        return issued

    def report_on_a_notice(self) -> dict[str, Any] | None:
        """The open notice due soonest: its first progress report, or (near or past its deadline) its closing."""
        if self.notices is None:
            return None
        now = clock.now()
        for notice in self.notices.listed(limit=50):
            reports = self.notices.progress_of(notice["notice_id"])
            left = as_utc(notice["deadline"]) - now
            closing = bool(reports) and ((left < timedelta(days=1) and self.rng.random() >= self.CLOSES_LATE)
                                         or left < -timedelta(days=1))
            if reports and not closing:
                continue
            note = str(self.rng.choice(self.CLOSING if closing else self.PROGRESS))
            try:
                return self.notices.report(notice["notice_id"], f"sim-chief-{notice['station']}", note, closes=closing)
            except NoticeRefused:
                return None
        return None
