"""``GithubEventSource``: stored webhook deliveries -> the trigger queues.

The web stores every accepted delivery on the connection's event queue in
ZooKeeper (``lockgate.web.webhooks``; ``paths.connection_event_queue``)
before it answers GitHub.  This source, run by the scheduler that holds the
connection's event-source lock (``GithubConnection.event_source(hooks)``),
reads that queue in order on one thread: each delivery is mapped
(``lockgate.drivers.github.events``, asking GitHub what the payload lacks),
every event of a project some tenant has is handed to ``hooks.sink`` (which
returns once it is on the tenants' trigger queues), and only then is the
delivery acked.  A scheduler that dies in between leaves the delivery for
the next holder, whose events carry the same dedup keys: processed once.

Why here and not in the web: the web knows neither the tenants' projects
nor how to reach GitHub with the right installation, and a delivery whose
pull request GitHub cannot describe right now (API down, rate limited)
waits on the queue, retried with back-off (``retry_delay`` doubling up to
``max_retry_delay``), instead of being lost or holding up an HTTP answer.
A payload that cannot be mapped (``EventParseError``) is logged and acked:
no retry can help it.  Deliveries of projects no tenant has, and events
Lockgate does not use, are acked after one debug line.

Bad input from GitHub's side, and what happens:

- GitHub failing or out of reach (``GithubQueryError``, not permanent): the
  delivery waits at the head of the queue, retried with back-off, so the
  order of events holds and nothing is lost — however long it takes;
- the App's own key refused (``connection_wide``): the same, logged as an
  error that says to replace ``app_key`` (every repository of the
  connection is concerned; other connections have their own sources);
- a repository GitHub will not answer about (``permanent``: the App not
  installed on it — uninstalled —, the repository gone, access refused):
  logged as an error naming the repository, the delivery and what to do,
  and acked, so the deliveries behind it, of other repositories, go on;
- ``installation`` deleted or suspended: the App's tokens and
  installations of those repositories are forgotten at once, and the
  tenants' projects it served are named in an error;
- ``repository`` renamed or transferred: an error naming the old and new
  names when the old one is a tenant's project (its events now carry the
  new name, which no tenant has, until the configuration is changed: such
  deliveries are skipped with a warning that says so, not a debug line).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lockgate.drivers.base import ChangeQueryError, EventSourceHooks
from lockgate.drivers.github.events import (
    EventParseError,
    InstallationRemoved,
    RepositoryRenamed,
    app_notice,
    events_from_delivery,
    ignored,
)
from lockgate.drivers.github.webhook import Delivery
from lockgate.zk import paths
from lockgate.zk.queues import EventQueue

if TYPE_CHECKING:
    from lockgate.drivers.github.connection import GithubConnection
    from lockgate.drivers.github.source import GithubSource
    from lockgate.zk.client import ZKClient

log = logging.getLogger("lockgate.drivers.github.events")


def delivery_queue(client: ZKClient, connection: str) -> EventQueue:
    """The connection's queue of stored deliveries (the web puts, this reads)."""
    return EventQueue(client, paths.connection_event_queue(connection))


class SourceLookup:
    """``PullLookup`` over the connection's source (GitHub's API)."""

    def __init__(self, source: GithubSource) -> None:
        self.source = source

    def pull_request(self, project: str, number: int) -> Mapping[str, Any] | None:
        return self.source.pull_json(project, number)

    def pulls_for_sha(self, project: str, sha: str) -> list[Mapping[str, Any]]:
        return self.source.pulls_for_sha(project, sha)

    def patchset_number(self, project: str, sha: str) -> int:
        return self.source.head_number(project, sha)


class GithubEventSource:
    def __init__(
        self,
        connection: GithubConnection,
        hooks: EventSourceHooks,
        zk: ZKClient,
        *,
        retry_delay: float = 1.0,
        max_retry_delay: float = 60.0,
    ) -> None:
        self.connection = connection
        self.hooks = hooks
        self.queue = delivery_queue(zk, connection.name)
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unwatch: Any = None
        self._projects: set[str] = set()
        self._projects_at = -1e9
        # Counters for observers and tests.
        self.processed = 0
        self.delivered = 0
        self.skipped = 0
        self.malformed = 0
        self.retries = 0
        self.failed = 0  # deliveries GitHub would not let us map (permanent errors)
        # New names of renamed tenant projects -> their old names.
        self.renamed: dict[str, str] = {}

    @property
    def name(self) -> str:
        return self.connection.name

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._unwatch = self.queue.watch(self._wake.set)
        self._thread = threading.Thread(
            target=self._run, name=f"github-events-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def refresh(self) -> None:
        """The tenants changed: read the projects again, look at the queue."""
        self._projects_at = -1e9
        self._wake.set()

    # --- the loop -------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.retry_delay
        while not self._stopping.is_set():
            self._wake.wait(5.0)
            self._wake.clear()
            try:
                done = self.drain()
            except Exception:  # noqa: BLE001 - ZooKeeper away or a bug: retry later
                log.exception("GitHub %s: reading the delivery queue failed", self.name)
                done = False
            if done:
                delay = self.retry_delay
                continue
            self.retries += 1
            self._stopping.wait(delay)
            delay = min(delay * 2, self.max_retry_delay)
            self._wake.set()

    def drain(self) -> bool:
        """Process every stored delivery in order; False if one must be tried
        again later (it and those behind it stay queued)."""
        for entry_id, data in self.queue.list():
            if self._stopping.is_set():
                return True
            if not self.process(data):
                return False
            self.queue.ack(entry_id)
            self.processed += 1
        return True

    def process(self, data: dict[str, Any]) -> bool:
        """One stored delivery; True when it is done with (ack it)."""
        try:
            delivery = Delivery.from_dict(data)
        except TypeError as e:
            self.malformed += 1
            log.error("GitHub %s: unreadable stored delivery (%s); dropped", self.name, e)
            return True
        prefix = (
            f"[e: {delivery.event_id}] GitHub {self.name}: {delivery.event} {delivery.delivery}"
        )
        why = ignored(delivery)
        if why is not None:
            log.debug("%s: ignored (%s)", prefix, why)
            return True
        try:
            notice = app_notice(delivery)
        except EventParseError as e:
            self.malformed += 1
            log.warning("%s: cannot be used: %s", prefix, e)
            return True
        if notice is not None:
            self._notice(prefix, notice)
            return True
        repo = delivery.payload.get("repository")
        project = repo.get("full_name") if isinstance(repo, Mapping) else None
        if project is not None and not self._served(str(project)):
            self.skipped += 1
            old = self._old_name(str(project))
            if old is not None:
                log.warning(
                    "%s: %s is in no tenant; skipped — it is %s renamed: rename the project "
                    "in the tenant configuration",
                    prefix,
                    project,
                    old,
                )
            else:
                log.debug("%s: %s is in no tenant; skipped", prefix, project)
            return True
        from lockgate.drivers.github.source import GithubQueryError, GithubSource

        source = GithubSource(self.connection)
        try:
            events = events_from_delivery(delivery, SourceLookup(source))
        except EventParseError as e:
            self.malformed += 1
            log.warning("%s: cannot be used: %s", prefix, e)
            return True
        except ChangeQueryError as e:
            if isinstance(e, GithubQueryError) and e.permanent:
                self.failed += 1
                log.error(
                    "%s: not used: %s — GitHub will not answer about %s until that is fixed "
                    "(redeliver it from GitHub afterwards); the deliveries behind it go on",
                    prefix,
                    e,
                    project or "its repository",
                )
                return True
            if isinstance(e, GithubQueryError) and e.connection_wide:
                log.error("%s: GitHub refuses this connection (%s); will retry", prefix, e)
            else:
                log.warning("%s: GitHub could not answer (%s); will retry", prefix, e)
            return False
        for event in events:
            if event.change_number is not None:
                source.remember_project(event.project, event.change_number)
            if not self._served(event.project):
                continue
            try:
                self.hooks.sink(event)
            except Exception:  # noqa: BLE001 - ZooKeeper away: the delivery stays queued
                log.exception("%s: could not queue %s; will retry", prefix, event.type)
                return False
            self.delivered += 1
            log.info(
                "%s: %s %s%s",
                prefix,
                event.type,
                event.project,
                f" #{event.change_number} ({event.extra.get('action')})"
                if event.change_number is not None
                else f" {event.ref}",
            )
        if not events:
            log.debug("%s: no event (no open pull request concerned)", prefix)
        return True

    def _notice(self, prefix: str, notice: InstallationRemoved | RepositoryRenamed) -> None:
        if isinstance(notice, InstallationRemoved):
            forgotten = self.connection.client().auth.forget_installation(notice.installation)
            owner = notice.account.lower()
            served = sorted(
                p
                for p in self._projects_now()
                if p in notice.repositories or p.split("/")[0].lower() == owner
            )
            what = "uninstalled from" if notice.action == "deleted" else "suspended on"
            if served:
                log.error(
                    "%s: the GitHub App was %s %s (installation %d): %s get no events and "
                    "cannot be reported on until it is installed again",
                    prefix,
                    what,
                    notice.account,
                    notice.installation,
                    ", ".join(served),
                )
            else:
                log.info(
                    "%s: the GitHub App was %s %s (installation %d; %d repositories "
                    "forgotten); no tenant project is concerned",
                    prefix,
                    what,
                    notice.account,
                    notice.installation,
                    len(forgotten),
                )
            return
        self.renamed[notice.new] = notice.old
        if self._served(notice.old):
            log.error(
                "%s: %s was renamed to %s on GitHub: its events now name %s, which no tenant "
                "has — rename the project in the tenant configuration (meanwhile Lockgate "
                "follows GitHub's redirects for the old name)",
                prefix,
                notice.old,
                notice.new,
                notice.new,
            )
        else:
            log.info("%s: %s was renamed to %s", prefix, notice.old, notice.new)

    def _old_name(self, project: str) -> str | None:
        """The tenant project ``project`` was before a rename, if known."""
        old = self.renamed.get(project)
        if old is None:
            client = self.connection.client()
            old = next((o for o, n in client.renamed.items() if n == project), None)
        return old if old is not None and self._served(old) else None

    def _projects_now(self) -> set[str]:
        self._served("")  # refreshes the list when it is old
        return set(self._projects)

    def _served(self, project: str) -> bool:
        now = time.monotonic()
        if now - self._projects_at > 5.0:
            try:
                self._projects = set(self.hooks.projects())
                self._projects_at = now
            except Exception:  # noqa: BLE001 - the scheduler's callback; keep the last answer
                log.exception("GitHub %s: cannot list projects", self.name)
        return project in self._projects
