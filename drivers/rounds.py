"""``RoundLoop``: the background thread of an event source that works in rounds.

The git poller (``drivers/git/event_source.py``) and the timer
(``drivers/timer/event_source.py``) both watch the outside world the same
way: on a daemon thread, do one round (poll every project's refs, fire every
due tick), sleep until the next one is due or someone wakes the thread, and
again until stopped.  They subclass this and supply the round (``_round``)
and the sleep (``_sleep``); the scheduler calls ``start``/``stop`` through
the ``EventSource`` protocol.

A round that raises is logged and the loop goes on: an event source must
outlive any one bad round (a server down, a callback failing).  ``rounds``
counts completed rounds, and ``wait_rounds`` waits for one, for callers that
need a barrier (tests, observers) rather than a sleep.
"""

from __future__ import annotations

import logging
import threading


class RoundLoop:
    """Runs ``_round`` on a daemon thread until ``stop``; ``wake`` starts the next round now."""

    def __init__(self, thread_name: str, log: logging.Logger, failure: str) -> None:
        """``failure``: what the log says when a round raises (with the traceback)."""
        self._thread_name = thread_name
        self._log = log
        self._failure = failure
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._round_done = threading.Condition()
        self.rounds = 0  # completed rounds, for observers and tests

    # Supplied by the event source.

    def _round(self) -> object:
        """One round of work (its result is ignored)."""
        raise NotImplementedError

    def _sleep(self, wake: threading.Event) -> None:
        """Block until the next round is due, or ``wake`` is set."""
        raise NotImplementedError

    # Thread control.

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping = True
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def wake(self) -> None:
        """Start the next round at once instead of when it is due."""
        self._wake.set()

    def wait_rounds(self, count: int, timeout: float) -> bool:
        """Block until ``count`` rounds have completed in total (for callers that need a barrier)."""
        with self._round_done:
            return self._round_done.wait_for(lambda: self.rounds >= count, timeout)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                self._round()
            except Exception:  # noqa: BLE001 - the event source must outlive any one bad round
                self._log.exception(self._failure)
            with self._round_done:
                self.rounds += 1
                self._round_done.notify_all()
            if self._stopping:
                break
            self._sleep(self._wake)
