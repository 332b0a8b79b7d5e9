"""A simulated return-visit clerk working through the desk's list, so `make run` shows visits being made.

The clerk takes the open visit due soonest, calls, and records what the person said through the same
:class:`revisits.service.RevisitService` the desk uses: most are satisfied, some do not answer (called
again a couple of hours later, three times at most), a few are not satisfied or find the problem still
there, which reopens the matter as a lead to its station. A call every one to four minutes at the
clock's pace: a month's sample is worked through in a few days, and the late ones show.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import numpy as np

import clock
from revisits.results import REOPENS, VisitResult
from revisits.service import RevisitRefused, RevisitService

log = logging.getLogger(__name__)


@dataclass
class RevisitClerk:
    revisits: RevisitService
    seed: int = 17
    name: str = "sim-clerk"
    RESULTS: ClassVar[tuple[VisitResult, ...]] = (VisitResult.SATISFIED, VisitResult.UNREACHABLE,
                                                  VisitResult.NOT_SATISFIED, VisitResult.PERSISTS)
    SHARES: ClassVar[tuple[float, ...]] = (0.74, 0.14, 0.06, 0.06)
    PACE_S: ClassVar[tuple[float, float]] = (60.0, 240.0)  # world seconds between calls
    RETRY: ClassVar[timedelta] = timedelta(hours=2)  # before calling someone who did not answer again
    NOTES: ClassVar[dict[VisitResult, tuple[str, ...]]] = {
        VisitResult.SATISFIED: ("群众表示满意", "问题已解决，感谢民警", "已恢复正常"),
        VisitResult.UNREACHABLE: ("无人接听", "电话关机"),
        VisitResult.NOT_SATISFIED: ("认为处理不及时", "对处理结果不认可，要求再次处理"),
        VisitResult.PERSISTS: ("问题再次出现", "夜间仍有噪音", "纠纷未彻底解决"),
    }
    rng: np.random.Generator = field(init=False)
    retry_at: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def run(self, stop: threading.Event) -> None:
        while not clock.wait(stop, float(self.rng.uniform(*self.PACE_S))):
            try:
                self.call_next()
            except Exception:  # the simulation carries on; the product's own refusals are logged, not fatal
                log.exception("simulated return-visit call failed")

    def call_next(self) -> dict[str, Any] | None:
        """One call: the open visit due soonest that is not waiting for a retry; the visit after it."""
        now = clock.now()
        visit = next((v for v in self.revisits.visits(limit=100) if self.retry_at.get(v["visit_id"], now) <= now),
                     None)
        if visit is None:
            return None
        result = self.RESULTS[int(self.rng.choice(len(self.RESULTS), p=self.SHARES))]
        note = str(self.rng.choice(self.NOTES[result]))
        try:
            row = self.revisits.record(visit["visit_id"], self.name, result.value, note)
        except RevisitRefused:  # someone at the desk recorded it first
            return None
        if row["visited_at"] is None:
            self.retry_at[visit["visit_id"]] = now + self.RETRY
        else:
            self.retry_at.pop(visit["visit_id"], None)
        if result in REOPENS:
            log.info("return visit %s: %s, reopened as %s", visit["visit_id"], result.value, row["reopened_lead"])
        return row
