"""The scheduler's side of admin actions: the tenant's management queue.

Who calls it: the tenant processor (``lockgate.scheduler.processor``), at
the start of each pass over a tenant, under the tenant's lock:
``ManagementHandler.take(tenant)`` reads the management queue (written by
the web: ``lockgate.web.api_admin``) and turns each ``ManagementEvent``
into what the pipelines' decision core understands:

- **enqueue** of a change: the change as its review system says now (with
  what it needs, in merge order), as a ``PipelineEvent`` for the pipeline —
  whatever the pipeline's triggers and requirements say, as in Zuul;
- **enqueue-ref**: a ref (with its old and new revisions) as an item;
- **dequeue**: a ``ChangeDequeue`` of the change's (or the ref's) item in
  that pipeline, canceling its builds (the items behind restart);
- **promote**: a ``Promote`` for the dependent pipeline
  (``manager.dependent``), which moves the changes' items to the head of
  their queues and restarts what was behind.

What comes next: the processor runs the pipelines with these inputs first
(before trigger events) and calls ``ManagementBatch.ack`` only after the
pipeline states are saved.  A scheduler killed in between leaves the events
queued: processed again, they act once — an item's id derives from the
event's id (already seen: not enqueued again), a dequeue finds nothing left
to remove, a promote finds its changes at the head already.

An event that cannot be acted on (unknown pipeline, project or change; a
review system that does not answer) is logged, with its id and who asked,
and dropped: the admin sees it in the scheduler's log and may ask again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from lockgate.drivers.base import ChangeQueryError
from lockgate.logs import get_logger
from lockgate.model.change import Change, ChangeKey
from lockgate.model.events import TriggerEvent
from lockgate.model.management import ManagementEvent, ManagementKind, parse_change_id
from lockgate.scheduler.changes import ChangeRegistry
from lockgate.scheduler.dependencies import DependencyError
from lockgate.scheduler.manager.snapshot import ChangeDequeue, PipelineEvent, Promote, Target
from lockgate.scheduler.matching import change_target
from lockgate.scheduler.tenants import Tenant
from lockgate.zk.client import ZKClient
from lockgate.zk.queues import EventQueue, management_queue

log = logging.getLogger("lockgate.scheduler.management")

# The trigger event type of an admin's enqueue (what reports and logs show).
ENQUEUE_EVENT = "zuul-enqueue"
ZERO_SHA = "0" * 40


class ManagementError(Exception):
    """Why one management event cannot be acted on (one line for the log)."""


@dataclass
class ManagementBatch:
    """What one pass takes from a tenant's management queue."""

    queue: EventQueue | None = None
    events: dict[str, list[PipelineEvent]] = field(default_factory=lambda: defaultdict(list))
    dequeues: list[ChangeDequeue] = field(default_factory=list)
    promotes: dict[str, list[Promote]] = field(default_factory=lambda: defaultdict(list))
    entry_ids: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.entry_ids)

    def ack(self) -> None:
        """Acknowledge every event taken (after the pipeline states are saved)."""
        if self.queue is None:
            return
        for entry_id in self.entry_ids:
            self.queue.ack(entry_id)


class ManagementHandler:
    def __init__(self, client: ZKClient, changes: ChangeRegistry, max_events: int = 100) -> None:
        self.client = client
        self.changes = changes
        self.max_events = max_events

    def take(self, tenant: Tenant) -> ManagementBatch:
        """The pipeline inputs of the tenant's queued management events."""
        queue = management_queue(self.client, tenant.name)
        batch = ManagementBatch(queue)
        for entry_id, data in queue.list(limit=self.max_events):
            batch.entry_ids.append(entry_id)
            try:
                event = ManagementEvent.from_dict(data)
            except (TypeError, ValueError) as e:
                log.error(
                    "tenant %s: unreadable management event %s dropped: %s",
                    tenant.name,
                    entry_id,
                    e,
                )
                continue
            elog = get_logger("lockgate.scheduler", event.event_id)
            try:
                self.add(tenant, event, batch)
            except ManagementError as e:
                elog.error("%s not done: %s", event.describe(), e)
            except Exception:  # noqa: BLE001 - one bad event must not block the queue
                elog.exception("%s failed; dropped", event.describe())
        return batch

    # --- one event ----------------------------------------------------------------------

    def add(self, tenant: Tenant, event: ManagementEvent, batch: ManagementBatch) -> None:
        """Add what ``event`` asks to ``batch``; ``ManagementError`` saying why not."""
        if event.tenant != tenant.name:
            raise ManagementError(f"it is for tenant {event.tenant}, not {tenant.name}")
        if event.pipeline not in tenant.layout.pipelines:
            raise ManagementError(f"tenant {tenant.name} has no pipeline {event.pipeline!r}")
        elog = get_logger("lockgate.scheduler", event.event_id)
        if event.kind is ManagementKind.PROMOTE:
            keys = self._promote_keys(tenant, event.changes)
            batch.promotes[event.pipeline].append(Promote(tuple(keys), event.event_id))
            elog.info("%s: moving to the head of the queue", event.describe())
            return
        project, connection = self._project(tenant, event.project)
        if event.kind is ManagementKind.ENQUEUE:
            batch.events[event.pipeline].append(self._enqueue(tenant, event, project, connection))
        elif event.kind is ManagementKind.ENQUEUE_REF:
            batch.events[event.pipeline].append(
                self._enqueue_ref(tenant, event, project, connection)
            )
        elif event.kind is ManagementKind.DEQUEUE:
            batch.dequeues.append(self._dequeue(event, project, connection))
        elog.info("%s: accepted", event.describe())

    def _project(self, tenant: Tenant, name: str) -> tuple[str, str]:
        resolved = tenant.layout.resolve_project(name) or name
        spec = tenant.spec.project(resolved)
        if spec is None:
            raise ManagementError(f"tenant {tenant.name} has no project {name!r}")
        return resolved, spec.connection

    def _per_project(self, connection: str) -> bool:
        """Whether ``connection`` numbers changes per repository (GitHub):
        its source asks for the project with the number."""
        source = self.changes.source(connection)
        return source is not None and source.numbers_per_project

    def _change(self, event: ManagementEvent, project: str, connection: str) -> Change:
        try:
            number, patchset = parse_change_id(event.change)
        except ValueError as e:
            raise ManagementError(str(e)) from None
        if self.changes.source(connection) is None:
            raise ManagementError(f"project {project}'s connection {connection!r} has no changes")
        wanted: int | str | None = int(patchset) if patchset and patchset.isdigit() else patchset
        try:
            return self.changes.get(
                connection,
                number,
                wanted,
                project=project if self._per_project(connection) else "",
            )
        except ChangeQueryError as e:
            raise ManagementError(f"cannot query change {event.change}: {e}") from None

    def _trigger(
        self, event: ManagementEvent, project: str, connection: str, **kw: Any
    ) -> TriggerEvent:
        return TriggerEvent(
            type=ENQUEUE_EVENT,
            connection=connection,
            project=project,
            account={"username": event.requested_by} if event.requested_by else None,
            extra={"requested_by": event.requested_by, "realm": event.realm},
            event_id=event.event_id,
            timestamp=event.timestamp,
            **kw,
        )

    def _enqueue(
        self, tenant: Tenant, event: ManagementEvent, project: str, connection: str
    ) -> PipelineEvent:
        change = self._change(event, project, connection)
        if change.project != project and tenant.layout.resolve_project(change.project) != project:
            raise ManagementError(f"change {event.change} is of {change.project}, not {project}")
        target = change_target(tenant.layout, event.pipeline, change)
        if target is None:
            raise ManagementError(
                f"project {project} has no jobs in pipeline {event.pipeline} on branch "
                f"{change.branch}"
            )
        trigger = self._trigger(
            event,
            project,
            connection,
            ref=change.ref,
            branch=change.branch,
            newrev=change.commit,
            change_number=change.number,
            patchset=change.patchset,
            patchset_id=change.patchset_id or None,
            change_url=change.url or None,
        )
        changes: tuple[Change, ...] = (change,)
        cycles: tuple[tuple[ChangeKey, ...], ...] = ()
        not_ready = None
        try:
            graph = self.changes.resolve_dependencies(change)
            changes = tuple(graph.merge_order())
            cycles = tuple(tuple(c) for c in graph.cycles)
            if graph.errors:
                not_ready = "; ".join(graph.errors)
        except (DependencyError, ChangeQueryError) as e:
            not_ready = str(e)
        # An admin's enqueue skips the pipeline's requirements (Zuul's too):
        # no ``unmet`` for the changes it needs either.
        return PipelineEvent(trigger, target, None, changes, not_ready, cycles=cycles)

    def _enqueue_ref(
        self, tenant: Tenant, event: ManagementEvent, project: str, connection: str
    ) -> PipelineEvent:
        ref = event.ref
        if not ref:
            raise ManagementError("no ref given")
        if not ref.startswith("refs/"):
            ref = f"refs/heads/{ref}"
        branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else None
        if event.pipeline not in tenant.layout.get_project_pipelines(project, branch):
            raise ManagementError(
                f"project {project} has no jobs in pipeline {event.pipeline}"
                + (f" on branch {branch}" if branch else "")
            )
        newrev = event.newrev if event.newrev and event.newrev != ZERO_SHA else None
        oldrev = event.oldrev or None
        trigger = self._trigger(
            event, project, connection, ref=ref, branch=branch, oldrev=oldrev, newrev=newrev
        )
        target = Target(
            pipeline=event.pipeline,
            project=project,
            connection=connection,
            ref=ref,
            branch=branch,
            oldrev=oldrev,
            newrev=newrev,
        )
        return PipelineEvent(trigger, target)

    def _dequeue(self, event: ManagementEvent, project: str, connection: str) -> ChangeDequeue:
        reason = "dequeued by an admin" + (f" ({event.requested_by})" if event.requested_by else "")
        if event.ref:
            ref = event.ref if event.ref.startswith("refs/") else f"refs/heads/{event.ref}"
            return ChangeDequeue(
                ChangeKey(connection, 0),
                reason,
                event_id=event.event_id,
                pipelines=(event.pipeline,),
                ref=ref,
                project=project,
            )
        try:
            number, patchset = parse_change_id(event.change)
        except ValueError as e:
            raise ManagementError(str(e)) from None
        key = ChangeKey(connection, number, project if self._per_project(connection) else "")
        return ChangeDequeue(
            key,
            reason,
            event_id=event.event_id,
            pipelines=(event.pipeline,),
            patchset=int(patchset) if patchset and patchset.isdigit() else None,
            # A pull request's head sha names that head only.
            patchset_id=patchset if patchset and not patchset.isdigit() else "",
        )

    def _promote_keys(self, tenant: Tenant, change_ids: list[str]) -> list[ChangeKey]:
        """The keys the changes may have in the tenant, in the order given:
        Zuul's promote names changes by number only, so every connection of
        the tenant with changes is a candidate (per repository where the
        connection numbers per repository); keys of no item are ignored."""
        keys: list[ChangeKey] = []
        connections = sorted({p.connection for p in tenant.spec.projects})
        for change_id in change_ids:
            try:
                number, _ = parse_change_id(change_id)
            except ValueError as e:
                raise ManagementError(str(e)) from None
            for connection in connections:
                if self.changes.source(connection) is None:
                    continue
                if self._per_project(connection):
                    keys.extend(
                        ChangeKey(connection, number, p.name)
                        for p in tenant.spec.projects
                        if p.connection == connection
                    )
                else:
                    keys.append(ChangeKey(connection, number))
        return keys
