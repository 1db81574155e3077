"""The git driver's event source: a poller that turns ref changes into events.

Every ``poll_delay`` seconds, for every project the connection serves (asked
of the scheduler through ``hooks.projects`` each round, so reconfiguration
needs no restart), the poller lists the project's refs with ``git ls-remote``,
compares them with the last state it saved, and hands one ``ref-updated``
``TriggerEvent`` per changed ref to ``hooks.sink``:

- a new ref: ``oldrev`` is all zeros; a deleted ref: ``newrev`` is all zeros;
- ``branch`` is set for ``refs/heads/*`` (tags and other refs have none).

State is saved through ``hooks.state_set`` (ZooKeeper in production) after
each event is accepted by the sink, so a restarted poller — or a peer
scheduler taking over — compares against what was last *emitted*: nothing
that changed while it was down is lost, and nothing already emitted is
emitted again, except the one event whose save was cut short by a crash
(delivery is at least once).  A project seen for the first time has its
refs recorded without any event: there is no "before" to compare with.

Projects are polled concurrently, at most ``poll_workers`` at once (the
connection's setting): a round over fifty repositories costs about one
``ls-remote``, not fifty in a row.  Each project is compared, emitted and
saved by one worker, so its events keep their order; ``hooks.sink`` and
``hooks.state_set`` are called from several threads (the scheduler's are
ZooKeeper writes, safe from any thread).

One failing project (server down, repository gone) is logged and skipped;
the others are still polled, and it is retried next round.  Only one poller
per connection should run at a time; the scheduler arranges that.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from lockgate.drivers.base import EventSourceHooks
from lockgate.drivers.rounds import RoundLoop
from lockgate.git import ZERO_SHA, GitError, ls_remote
from lockgate.model.events import TriggerEvent

if TYPE_CHECKING:
    from lockgate.drivers.git.connection import GitConnection

log = logging.getLogger("lockgate.drivers.git")

STATE_VERSION = 1


def ref_updates(
    connection: str, project: str, old: dict[str, str], new: dict[str, str]
) -> list[TriggerEvent]:
    """The ``ref-updated`` events that take ``old`` refs to ``new`` refs, sorted by ref."""
    events = []
    for ref in sorted(set(old) | set(new)):
        oldrev = old.get(ref, ZERO_SHA)
        newrev = new.get(ref, ZERO_SHA)
        if oldrev == newrev:
            continue
        branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else None
        events.append(
            TriggerEvent(
                type="ref-updated",
                connection=connection,
                project=project,
                ref=ref,
                branch=branch,
                oldrev=oldrev,
                newrev=newrev,
            )
        )
    return events


class GitPoller(RoundLoop):
    """Polls every served project's refs; ``start``/``stop``/``poll_now``, or ``poll_once`` inline."""

    def __init__(self, connection: GitConnection, hooks: EventSourceHooks):
        super().__init__(
            f"git-poller-{connection.name}",
            log,
            f"git connection {connection.name}: polling round failed",
        )
        self.connection = connection
        self.hooks = hooks

    def poll_now(self) -> None:
        """Start the next round at once instead of after ``poll_delay``."""
        self.wake()

    def _round(self) -> int:
        return self.poll_once()

    def _sleep(self, wake: threading.Event) -> None:
        wake.wait(self.connection.poll_delay)

    # ------------------------------------------------------------------
    # Polling

    def poll_once(self) -> int:
        """One round over every served project; returns how many events were emitted."""
        try:
            projects = sorted(set(self.hooks.projects()))
        except Exception:  # noqa: BLE001 - the scheduler's callback; retry next round
            log.exception("git connection %s: cannot list projects", self.connection.name)
            return 0
        if not projects:
            return 0
        workers = min(self.connection.poll_workers, len(projects))
        if workers == 1:
            return sum(self._poll_guarded(project) for project in projects)
        with ThreadPoolExecutor(
            workers, thread_name_prefix=f"git-poll-{self.connection.name}"
        ) as pool:
            return sum(pool.map(self._poll_guarded, projects))

    def _poll_guarded(self, project: str) -> int:
        """``poll_project``, its failure logged (the round goes on); 0 once stopping."""
        if self._stopping:
            return 0
        try:
            return self.poll_project(project)
        except GitError as e:
            log.warning("git connection %s: project %s: %s", self.connection.name, project, e)
        except Exception:  # noqa: BLE001 - a sink or store failure; retried next round
            log.exception(
                "git connection %s: project %s: polling failed", self.connection.name, project
            )
        return 0

    def poll_project(self, project: str) -> int:
        """Compare ``project``'s refs with the saved state; emit and save. Returns events emitted."""
        current = ls_remote(self.connection.clone_url(project))
        saved = self.hooks.state_get(project)
        if saved is None:
            self._save(project, current)
            log.info(
                "git connection %s: project %s: first poll, %d refs recorded",
                self.connection.name,
                project,
                len(current),
            )
            return 0
        known: dict[str, str] = dict(saved.get("refs", {}))
        events = ref_updates(self.connection.name, project, known, current)
        for event in events:
            self.hooks.sink(event)
            log.info(
                "[e: %s] git connection %s: %s %s %s..%s",
                event.event_id,
                self.connection.name,
                project,
                event.ref,
                (event.oldrev or "")[:12],
                (event.newrev or "")[:12],
            )
            # Save after each accepted event: a crash re-emits at most this one.
            if event.newrev == ZERO_SHA:
                known.pop(event.ref, None)
            else:
                known[event.ref] = event.newrev or ZERO_SHA
            self._save(project, known)
        return len(events)

    def _save(self, project: str, refs: dict[str, str]) -> None:
        state: dict[str, Any] = {"version": STATE_VERSION, "refs": dict(refs)}
        self.hooks.state_set(project, state)
