"""``GerritEventSource``: ``gerrit stream-events`` read into the trigger queue.

Started by the scheduler (``GerritConnection.event_source(hooks)``) while it
holds the connection's event-source lock; one thread reads one long-lived
``gerrit stream-events`` over SSH.  Each line is parsed
(``lockgate.drivers.gerrit.events``), waits until ``event_delay`` seconds
after it arrived (Zuul's delay, so Gerrit's replicas have the change), and
is handed to ``hooks.sink``; the sink returns once the event is on the
ZooKeeper queue, and only then is the next line read.

Nothing is lost on a disconnect.  The newest event time seen is saved with
``hooks.state_set`` (at most once a second, and when the stream ends).  On
every (re)connect after the first — and on a start that finds saved state,
e.g. a peer scheduler taking over — and whenever Gerrit says
``dropped-output``, the source asks ``changes_updated_since(last_seen -
catchup_margin)`` and synthesizes what it missed (new patchsets, votes,
merges, abandonments; ``events.catch_up_events``) with the dedup keys the
streamed events would have had, so the queue keeps one of each.  The
stream is reconnected with back-off (``reconnect_delay`` doubling up to
``max_reconnect_delay``); a host key mismatch is one of the failures
logged and retried this way.

A malformed line, an event of a project no tenant has, a catch-up query that
fails (retried after ``catchup_retry``), a sink that raises (the missed
event is caught up later): each is logged saying what was wrong, and the
stream goes on.  ``stop()`` closes the channel, so it returns promptly; it
is safe twice.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from lockgate.drivers.base import ChangeQueryError, EventSourceHooks
from lockgate.drivers.gerrit.events import (
    DROPPED_OUTPUT,
    EventParseError,
    catch_up_events,
    decode_line,
    events_from_payload,
)
from lockgate.drivers.gerrit.ssh import GerritSSHError, HostKeyMismatch, SSHStream
from lockgate.model.events import TriggerEvent

if TYPE_CHECKING:
    from lockgate.drivers.gerrit.connection import GerritConnection

log = logging.getLogger("lockgate.drivers.gerrit.stream")

STATE_KEY = "stream-events"
STATE_VERSION = 1
COMMAND = "gerrit stream-events"


class GerritEventSource:
    def __init__(
        self,
        connection: GerritConnection,
        hooks: EventSourceHooks,
        *,
        reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 60.0,
        catchup_margin: float = 60.0,
        catchup_retry: float = 10.0,
        poll: float = 0.5,
    ) -> None:
        self.connection = connection
        self.hooks = hooks
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.catchup_margin = catchup_margin
        self.catchup_retry = catchup_retry
        self.poll = poll
        self._ssh = connection.new_ssh()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stream: SSHStream | None = None
        self._last_seen: float | None = None
        self._saved: float | None = None
        self._saved_at = 0.0
        self._catchup_since: float | None = None
        self._catchup_not_before = 0.0
        self._projects: set[str] = set()
        self._projects_at = -1e9
        # Counters for observers and tests.
        self.connects = 0
        self.delivered = 0
        self.catchups = 0
        self.malformed = 0
        self.skipped = 0
        # The last catch-up: (seconds, changes found, events queued).
        self.last_catchup: tuple[float, int, int] | None = None
        self.connected = threading.Event()

    @property
    def name(self) -> str:
        return self.connection.name

    @property
    def last_seen(self) -> float | None:
        return self._last_seen

    # --- thread control -------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        saved = self._load_state()
        if saved is not None:
            self._last_seen = self._saved = saved
            self._catchup_since = saved - self.catchup_margin
        self._thread = threading.Thread(
            target=self._run, name=f"gerrit-stream-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        self._ssh.close()

    def refresh(self) -> None:
        """The served projects changed (a reconfiguration): ask again at the next event
        (otherwise the list is asked for at most every 5 seconds)."""
        self._projects_at = -1e9

    # --- the loop -------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.reconnect_delay
        while not self._stopping.is_set():
            try:
                stream = self._ssh.open_stream(COMMAND)
            except HostKeyMismatch as e:
                log.error("Gerrit %s: %s; retrying in %.3gs", self.name, e, delay)
            except GerritSSHError as e:
                log.warning("Gerrit %s: stream-events: %s; retrying in %.3gs", self.name, e, delay)
            except Exception:  # noqa: BLE001 - the stream must outlive any one failure
                log.exception("Gerrit %s: cannot open stream-events", self.name)
            else:
                if self._consume(stream):
                    delay = self.reconnect_delay
                if self._stopping.is_set():
                    break
                status = stream.exit_status()
                log.warning(
                    "Gerrit %s: stream-events ended%s; reconnecting in %.3gs",
                    self.name,
                    f" (exit status {status}: {stream.error()})" if status else "",
                    delay,
                )
            self._stopping.wait(delay)
            delay = min(delay * 2, self.max_reconnect_delay)

    def _consume(self, stream: SSHStream) -> bool:
        """Read ``stream`` until it ends; True if it was up (said anything, or
        stayed open a poll interval), False if it ended at once (a server
        refusing the command: back off, and catch up only once really up)."""
        up = False
        with self._lock:
            if self._stopping.is_set():
                stream.close()
                return up
            self._stream = stream
        self.connects += 1
        if self._last_seen is None:
            # Nothing seen yet: a later disconnect catches up from here.
            self._last_seen = time.time()
        elif self.connects > 1:
            self._due(self._last_seen)
        self.connected.set()
        log.info("Gerrit %s: stream-events connected (%s)", self.name, self._ssh.where)
        try:
            for line in stream.lines(self.poll):
                up = True
                if self._stopping.is_set():
                    return up
                if line is not None:
                    self._line(line)
                self._maybe_catch_up()
                self._maybe_save()
        except Exception:  # noqa: BLE001 - reconnect and catch up rather than die
            log.exception("Gerrit %s: stream-events reader failed", self.name)
        finally:
            self.connected.clear()
            with self._lock:
                self._stream = None
            stream.close()
            self._save(force=True)
        return up

    def _line(self, line: bytes) -> None:
        received = time.time()
        try:
            data = decode_line(line)
            if data["type"] == DROPPED_OUTPUT:
                log.warning("Gerrit %s: the server dropped events; catching up", self.name)
                self._due(self._last_seen if self._last_seen is not None else received)
                self._catchup_not_before = 0.0
                self._maybe_catch_up()
                return
            events = events_from_payload(self.name, data, received=received)
        except EventParseError as e:
            self.malformed += 1
            log.warning("Gerrit %s: skipping a stream line: %s", self.name, e)
            return
        for event in events:
            self._deliver(event, received)

    # --- delivery -------------------------------------------------------------------

    def _served(self, project: str) -> bool:
        now = time.monotonic()
        if now - self._projects_at > 5.0:
            try:
                self._projects = set(self.hooks.projects())
                self._projects_at = now
            except Exception:  # noqa: BLE001 - the scheduler's callback; keep the last answer
                log.exception("Gerrit %s: cannot list projects", self.name)
        return project in self._projects

    def _deliver(self, event: TriggerEvent, received: float | None) -> None:
        if not self._served(event.project):
            self.skipped += 1
            log.debug(
                "[e: %s] Gerrit %s: %s of project %s, which no tenant has; skipped",
                event.event_id,
                self.name,
                event.type,
                event.project,
            )
            self._advance(event.timestamp)
            return
        if received is not None and self.connection.config.event_delay > 0:
            wait = received + self.connection.config.event_delay - time.time()
            if wait > 0 and self._stopping.wait(wait):
                return  # stopping: not delivered, and last_seen not moved past it
        try:
            self.hooks.sink(event)
        except Exception:  # noqa: BLE001 - ZooKeeper away: catch this event up later
            log.exception(
                "[e: %s] Gerrit %s: could not queue %s; it will be caught up",
                event.event_id,
                self.name,
                event.type,
            )
            self._due(self._last_seen if self._last_seen is not None else event.timestamp)
            self._catchup_not_before = time.monotonic() + self.catchup_retry
            return
        self.delivered += 1
        log.info(
            "[e: %s] Gerrit %s: %s %s%s",
            event.event_id,
            self.name,
            event.type,
            event.project,
            f" {event.change_number},{event.patchset}" if event.change_number else "",
        )
        self._advance(event.timestamp)

    def _advance(self, when: float) -> None:
        if self._last_seen is None or when > self._last_seen:
            self._last_seen = when

    # --- catching up ----------------------------------------------------------------

    def _due(self, last_seen: float) -> None:
        since = last_seen - self.catchup_margin
        if self._catchup_since is None or since < self._catchup_since:
            self._catchup_since = since

    def _maybe_catch_up(self) -> None:
        since = self._catchup_since
        if since is None or time.monotonic() < self._catchup_not_before:
            return
        started = time.monotonic()
        try:
            changes = self.connection.query().catch_up(since)
        except ChangeQueryError as e:
            log.warning(
                "Gerrit %s: catch-up query failed (%s); retrying in %.3gs",
                self.name,
                e,
                self.catchup_retry,
            )
            self._catchup_not_before = time.monotonic() + self.catchup_retry
            return
        if self._catchup_since == since:
            self._catchup_since = None
        events: list[TriggerEvent] = []
        for change, messages in changes:
            events.extend(catch_up_events(self.name, change, since, messages))
        events.sort(key=lambda e: e.timestamp)
        delivered = self.delivered
        for event in events:
            if self._stopping.is_set():
                return
            self._deliver(event, None)
        self.catchups += 1
        self.last_catchup = (time.monotonic() - started, len(changes), self.delivered - delivered)
        log.info(
            "Gerrit %s: caught up since %s: %d changes, %d events offered, %d queued in %.2fs",
            self.name,
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(since)),
            len(changes),
            len(events),
            self.delivered - delivered,
            time.monotonic() - started,
        )

    # --- state ----------------------------------------------------------------------

    def _load_state(self) -> float | None:
        try:
            state = self.hooks.state_get(STATE_KEY)
        except Exception:  # noqa: BLE001 - start anyway; the stream still works
            log.exception("Gerrit %s: cannot read the saved stream state", self.name)
            return None
        if not state or state.get("version") != STATE_VERSION:
            return None
        last = state.get("last_seen")
        return float(last) if isinstance(last, (int, float)) else None

    def _maybe_save(self) -> None:
        if time.monotonic() - self._saved_at >= 1.0:
            self._save()

    def _save(self, force: bool = False) -> None:
        if self._last_seen is None or self._last_seen == self._saved:
            return
        if not force and time.monotonic() - self._saved_at < 1.0:
            return
        state: dict[str, Any] = {"version": STATE_VERSION, "last_seen": self._last_seen}
        try:
            self.hooks.state_set(STATE_KEY, state)
        except Exception:  # noqa: BLE001 - saved again next second
            log.exception("Gerrit %s: cannot save the stream state", self.name)
            return
        self._saved = self._last_seen
        self._saved_at = time.monotonic()
