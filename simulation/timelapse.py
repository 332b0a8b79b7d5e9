"""The world clock of an installation that runs a time-lapse (``SIM_SPEED`` other than 1).

Every process of the installation must tell the same time, and the time must never run
backwards across restarts (events already stamped would lie in the future). So the time-lapse is
anchored in Redis (``{cc}:state:clock``): the first process writes the anchor, the others (and
later starts) read it. A different speed re-anchors at the current world time; speed 1 after a
time-lapse keeps the world where the time-lapse left it, running at the machine's pace. With
no anchor and speed 1 the world clock is the machine's.
"""

from __future__ import annotations

import time

import redis

from bus import keys
from clock import ScaledClock, Source, SystemClock


def world_clock(r: redis.Redis, speed: float) -> Source:
    """The installation's clock at ``speed`` world seconds per machine second."""
    if speed <= 0:
        raise ValueError(f"SIM_SPEED must be positive, got {speed}")
    with r.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(keys.CLOCK)  # type: ignore[no-untyped-call]  # redis-py leaves Pipeline.watch unannotated
                stored = pipe.hgetall(keys.CLOCK)
                real = time.time()
                if not stored:
                    if speed == 1:
                        return SystemClock()
                    anchor = ScaledClock(real, real, speed)
                else:
                    previous = ScaledClock(float(stored["anchor_real"]), float(stored["anchor_world"]),
                                           float(stored["speed"]))
                    if previous.speed == speed:
                        return previous
                    anchor = ScaledClock(real, max(previous.world_at(real), real), speed)
                pipe.multi()
                pipe.hset(keys.CLOCK, mapping={"anchor_real": repr(anchor.anchor_real),
                                               "anchor_world": repr(anchor.anchor_world), "speed": repr(speed)})
                pipe.execute()
                return anchor
            except redis.WatchError:
                continue  # another process anchored it meanwhile: read theirs
