"""Simulated station chiefs answering their supervision list, so `make run` shows escalations being answered.

Every few minutes (at the clock's pace) one chief answers the escalation of their station that has waited
longest, once it has waited at least :attr:`StationChiefs.READ_AFTER` (a chief is not at the list all day):
a short account of why the item was late and what the station changed, through the same
:class:`supervision.service.SupervisionService` the list uses. Some escalations are left a while longer,
so the district's level fills too.
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
from supervision.service import SupervisionRefused, SupervisionService

log = logging.getLogger(__name__)


@dataclass
class StationChiefs:
    supervision: SupervisionService
    seed: int = 23
    PACE_S: ClassVar[tuple[float, float]] = (120.0, 600.0)  # world seconds between answers
    READ_AFTER: ClassVar[timedelta] = timedelta(minutes=20)
    RESPONSES: ClassVar[tuple[str, ...]] = (
        "已约谈值班民警，超时原因为警力同时处置多起警情，已调整夜班警力部署",
        "已督促责任民警到场并反馈结果，纳入本月考核",
        "网格员当日已补办，超时系通知未及时查看，已要求开启消息提醒",
        "线索已落实核查，因当事人外出延误，后续限时办结",
        "已召开所务会通报，明确专人跟踪，次日复查",
    )
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def run(self, stop: threading.Event) -> None:
        while not clock.wait(stop, float(self.rng.uniform(*self.PACE_S))):
            try:
                self.answer_next()
            except Exception:  # the simulation carries on; the product's own refusals are logged, not fatal
                log.exception("simulated supervision answer failed")

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
