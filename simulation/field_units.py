"""Simulated field units answering instructions like real ones (a producer of the ingest contract)."""

from __future__ import annotations

import heapq
import logging
import threading
import time
from datetime import datetime
from typing import cast

import numpy as np
import redis

import clock
from bus import keys
from bus.connection import OutFields, StreamsReply

log = logging.getLogger(__name__)


class FieldUnits:
    """Simulated field units answering instructions like real ones.

    They read their inbox ``{cc}:out:instructions`` (group ``field-sim``) and reply
    on ``{cc}:in:feedback``: most acknowledge within half a minute and arrive
    within their target, some arrive late, a few never answer at all.
    """

    GROUP = "field-sim"
    SILENT_SHARE = 0.05
    LATE_SHARE = 0.15
    OUTCOMES = ("dispersed", "mediated", "mediated", "rescued", "referred_12345", "detained", "false_alarm")

    def __init__(self, r: redis.Redis, seed: int = 7, speed: float | None = None) -> None:
        self.r = r
        # Answers come at the clock's pace; a test may hurry them (their stamps stay the clock's).
        self.speed = speed
        self.rng = np.random.default_rng(seed)
        self.due: list[tuple[float, int, dict[str, str]]] = []  # (real due time, seq, feedback fields)
        self.serial = 0

    def ensure_group(self) -> None:
        try:
            self.r.xgroup_create(keys.OUT_INSTRUCTIONS, self.GROUP, id="$", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def plan(self, instruction: dict[str, str], now: float) -> None:
        """Schedule this unit's answers (machine seconds = world seconds / the clock's speed)."""
        if instruction.get("state") != "issued" or self.rng.random() < self.SILENT_SHARE:
            return
        target_s = (datetime.fromisoformat(instruction["arrival_due"]) - clock.now()).total_seconds()
        late = self.rng.random() < self.LATE_SHARE
        received = float(self.rng.uniform(5, 30))
        en_route = received + float(self.rng.uniform(5, 30))
        arrive = max(en_route + 10, target_s * (self.rng.uniform(1.1, 1.6) if late else self.rng.uniform(0.4, 0.9)))
        result = arrive + float(self.rng.uniform(4, 14)) * 60
        outcome = str(self.rng.choice(self.OUTCOMES))
        for step, at in (("received", received), ("en_route", en_route), ("on_scene", arrive), ("result", result)):
            fields = {"instruction_id": instruction["instruction_id"], "unit_id": instruction["unit_id"],
                      "step": step, "note": ""}
            if step == "result":
                fields["outcome"] = outcome
            self.serial += 1
            heapq.heappush(self.due, (now + at / (self.speed or clock.speed()), self.serial, fields))

    def step(self) -> int:
        """Read new instructions and send the answers that are due; returns answers sent."""
        now = time.monotonic()
        response = cast(StreamsReply, self.r.xreadgroup(self.GROUP, "sim", {keys.OUT_INSTRUCTIONS: ">"}, count=100))
        for _, entries in response or []:
            for entry_id, fields in entries:
                self.plan(fields, now)
                self.r.xack(keys.OUT_INSTRUCTIONS, self.GROUP, entry_id)
        sent = 0
        while self.due and self.due[0][0] <= now:
            _, serial, fields = heapq.heappop(self.due)
            fields = {**fields, "event_id": f"FB-{int(time.time())}-{serial}",
                      "at": clock.local().isoformat(timespec="seconds")}
            self.r.xadd(keys.FEEDBACK, cast(OutFields, fields))
            sent += 1
        return sent

    def run(self, stop: threading.Event, tick_s: float = 0.5) -> None:
        self.ensure_group()
        while not stop.wait(tick_s):
            try:
                self.step()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("field units: Redis unavailable (%s)", exc)
