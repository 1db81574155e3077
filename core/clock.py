"""Clocks: the time source that anything scheduling by wall-clock time takes.

The timer driver (``lockgate.drivers.timer``) asks a ``Clock`` what time it
is and waits on it until its next fire time.  In production that is
``SystemClock``; tests and simulations pass a ``ManualClock`` and move time
forward with ``advance``/``set`` — no test ever sleeps for real to see a
cron tick, and a simulated scheduler can run a day of timers in a moment.

Waiting always takes a ``threading.Event``: whoever owns the waiting thread
sets it to wake the thread early (to stop, or because its schedule changed).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC), like ``time.time()``."""
        ...

    def wait_until(self, deadline: float, wake: threading.Event) -> None:
        """Block until ``now() >= deadline`` or ``wake`` is set, whichever is first.

        May return early (callers re-check the time); never returns late by
        more than the operating system's scheduling delay.
        """
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def wait_until(self, deadline: float, wake: threading.Event) -> None:
        remaining = deadline - time.time()
        if remaining > 0:
            wake.wait(remaining)


class ManualClock:
    """A clock that moves only when told to; waiters wake when it passes their deadline."""

    def __init__(self, start: float = 0.0):
        self._now = start
        self._lock = threading.Lock()
        self._waiters: dict[threading.Event, float] = {}

    def now(self) -> float:
        with self._lock:
            return self._now

    def set(self, when: float) -> None:
        with self._lock:
            self._now = when
            for wake, deadline in list(self._waiters.items()):
                if deadline <= when:
                    wake.set()

    def advance(self, seconds: float) -> None:
        self.set(self.now() + seconds)

    @property
    def waiting(self) -> int:
        """How many threads are blocked in ``wait_until`` (lets tests know a loop is idle)."""
        with self._lock:
            return len(self._waiters)

    def wait_until(self, deadline: float, wake: threading.Event) -> None:
        with self._lock:
            if self._now >= deadline:
                return
            self._waiters[wake] = deadline
        try:
            wake.wait()
        finally:
            with self._lock:
                self._waiters.pop(wake, None)
