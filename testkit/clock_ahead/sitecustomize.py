"""Loaded only by ``make test-ahead`` (it puts this folder on PYTHONPATH), in every Python process it starts.

That run moves the calendar with Debian's libfaketime 0.9.10 and, for Python, leaves the monotonic clock
alone: faked, it would hang every timed ``threading`` wait (Python 3.11 waits by ``sem_clockwait``, which
libfaketime does not intercept, until a monotonic deadline a year ahead). Left alone, libfaketime fumbles
the absolute monotonic ``clock_nanosleep`` behind ``time.sleep``, which fails with EINVAL
(wolfcw/libfaketime#426). A timed wait on an event sleeps as long by another system call.
"""

import threading
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    threading.Event().wait(seconds)


time.sleep = _sleep
