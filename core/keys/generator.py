"""Making missing project keys ahead of need, off everybody's path.

The scheduler runs one ``KeyGenerator`` and tells it, after each tenant
load, which projects the tenant has (``want``).  The generator's thread
finds those without keys (one pipelined ZooKeeper round trip) and makes
them one at a time through ``KeyStore.ensure`` -- under each project's lock,
so a process that needs one of them meanwhile (an executor, the web) makes
or waits for that key only, and nobody makes the same keys twice.

Nothing waits for the generator: a tenant of fifty new projects loads and
runs its jobs at once while the keys are made behind it (Zuul makes them all
before it loads the tenant).  The thread runs at a lower CPU priority
(Linux lets a thread have its own nice value), so an RSA 4096 key, which can
take a second of CPU, does not slow the scheduler's passes on a busy machine.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable

from lockgate.keys.keystore import KeyStore, KeystoreError
from lockgate.zk.errors import ZKError

log = logging.getLogger("lockgate.keys.generator")

NICENESS = 10


class KeyGenerator:
    def __init__(self, keystore: KeyStore, *, name: str = "key-generator") -> None:
        self.keystore = keystore
        self.name = name
        self._wanted: dict[tuple[str, str], None] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        #: Projects whose keys could not be made, with why (the last attempt).
        self.failures: dict[tuple[str, str], str] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the key being made (if any); the rest are made by the
        next generator, or on demand."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def want(self, projects: Iterable[tuple[str, str]]) -> None:
        """Make keys for those of ``projects`` (``(connection, project)``) that
        have none.  Returns at once."""
        with self._cond:
            for project in projects:
                self._wanted[project] = None
            self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return not self._wanted and not self._busy

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until everything wanted so far is done (tests, benchmarks)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._wanted and not self._busy, timeout)

    # -- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
        except (OSError, AttributeError):  # not Linux, or not allowed: run as is
            pass
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._wanted or self._stopping)
                if self._stopping:
                    return
                batch = list(self._wanted)
                self._wanted.clear()
                self._busy = True
            try:
                self._make(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _make(self, batch: list[tuple[str, str]]) -> None:
        try:
            missing = self.keystore.missing(batch)
        except ZKError as e:
            log.warning("cannot tell which projects need keys (%s); will try again later", e)
            self._retry_later(batch)
            return
        if missing:
            log.info("making keys for %d projects in the background", len(missing))
        for connection, project in missing:
            with self._cond:
                if self._stopping:
                    return
            try:
                self.keystore.ensure(connection, project)
                self.failures.pop((connection, project), None)
            except (KeystoreError, ZKError) as e:
                self.failures[(connection, project)] = str(e)
                log.warning("could not make keys for %s on %s: %s", project, connection, e)

    def _retry_later(self, batch: list[tuple[str, str]]) -> None:
        timer = threading.Timer(5.0, self.want, args=(batch,))
        timer.daemon = True
        timer.start()
