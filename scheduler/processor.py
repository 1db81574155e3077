"""One pass over one tenant: load, decide, apply — the scheduler's thin loop.

Who calls it: the scheduler's main loop (``lockgate.scheduler.server``),
whenever a tenant's queues or requests may have changed, and on a periodic
tick.  A pass:

1. takes the tenant's lock without waiting (a peer holding it is doing
   this work; this scheduler moves on to another tenant);
2. reloads the layout if the tenant config was re-read (SIGHUP) or a peer
   published a newer one;
3. reads the result queue (hints only: the request records are the truth)
   and up to ``max_events`` trigger events; an event that changes a
   project's configuration reconfigures the tenant first, then each event
   is matched to pipelines (``matching.match_event``);
4. for each pipeline: loads its state, items and requests from ZooKeeper
   into a ``PipelineSnapshot``, runs the pure ``decide`` and applies the
   decision (``effects.apply_decision``), again until nothing changes;
5. acknowledges the trigger events (only now: their items are saved) and
   the result events read in step 3.

Crash safety comes from the order in step 4 (see
``lockgate.scheduler.manager.actions``) and the acknowledgement in step 5:
a scheduler killed anywhere leaves either unacknowledged events (processed
again, deduplicated by the pipeline's ``seen`` record) or a saved state
whose requests the next decision finds, adopts or makes again under the
same ids.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable

from lockgate.logs import get_logger
from lockgate.model.builds import BuildState
from lockgate.model.events import TriggerEvent
from lockgate.model.nodes import NodeRequest
from lockgate.scheduler.effects import apply_decision
from lockgate.scheduler.manager import UnsupportedManager, decide, manager_for
from lockgate.scheduler.manager.actions import (
    BuildChanged,
    BuildsetStarted,
    CancelBuildRequest,
    Decision,
    DeleteBuildRequest,
    DeleteNodeRequest,
    ItemReported,
    Log,
    PrepareItem,
    SubmitBuildRequest,
    SubmitNodeRequest,
)
from lockgate.scheduler.manager.snapshot import (
    ObservedBuild,
    PipelineEvent,
    PipelineSnapshot,
    PrepareResult,
)
from lockgate.scheduler.matching import match_event
from lockgate.scheduler.reporting import Reporter
from lockgate.scheduler.repos import RepoResolver
from lockgate.scheduler.tenants import Tenant, TenantRegistry
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import RecordConflict
from lockgate.zk.locks import SessionAwareLock, tenant_lock
from lockgate.zk.pipelines import LoadedPipeline, PipelineStore
from lockgate.zk.queues import result_queue, trigger_queue
from lockgate.zk.requests import BuildRequestStore, NodeRequestStore

log = logging.getLogger("lockgate.scheduler")

DEFAULT_ZONE = "default"


class TenantProcessor:
    def __init__(
        self,
        client: ZKClient,
        registry: TenantRegistry,
        resolver: RepoResolver,
        reporter: Reporter,
        *,
        clock: Callable[[], float] = time.time,
        max_events: int = 100,
        max_rounds: int = 25,
        on_reconfigured: Callable[[Tenant], None] | None = None,
    ) -> None:
        self.client = client
        self.registry = registry
        self.resolver = resolver
        self.reporter = reporter
        self.clock = clock
        self.max_events = max_events
        self.max_rounds = max_rounds
        self.on_reconfigured = on_reconfigured
        self.node_requests = NodeRequestStore(client)
        self._build_stores: dict[str, BuildRequestStore] = {}
        self._unsupported: set[tuple[str, str]] = set()

    def build_store(self, zone: str) -> BuildRequestStore:
        if zone not in self._build_stores:
            self._build_stores[zone] = BuildRequestStore(self.client, zone)
        return self._build_stores[zone]

    # --- a pass -------------------------------------------------------------------------

    def process(self, name: str) -> bool:
        """One pass over tenant ``name``; False if a peer holds its lock.
        Returns True when the pass found work (call again soon)."""
        lock = tenant_lock(self.client, name)
        if not lock.acquire(blocking=False):
            return False
        try:
            return self._process(name, lock)
        finally:
            lock.release()

    def _process(self, name: str, lock: SessionAwareLock) -> bool:
        if self.registry.is_pending(name):
            tenant = self._reload(
                self.registry.get(name), name, "the tenant config was re-read", None
            )
        else:
            tenant = self.registry.ensure_current(name)
        if tenant is None:
            return False
        results = result_queue(self.client, name)
        triggers = trigger_queue(self.client, name)
        result_entries = results.list()
        trigger_entries = triggers.list(limit=self.max_events)
        events: dict[str, list[PipelineEvent]] = defaultdict(list)
        acks: list[str] = []
        worked = bool(result_entries or trigger_entries)
        for entry_id, data in trigger_entries:
            try:
                event = TriggerEvent.from_dict(data)
            except (TypeError, ValueError) as e:
                log.error("tenant %s: unreadable trigger event %s dropped: %s", name, entry_id, e)
                acks.append(entry_id)
                continue
            if self.registry.updates_config(tenant, event):
                # Events before this one see the layout they came under.
                worked |= self._run(tenant, events, lock)
                self._ack(triggers, acks)
                events, acks = defaultdict(list), []
                tenant = self._reconfigure(tenant, event)
            for pev in self._match(tenant, event):
                events[pev.target.pipeline].append(pev)
            acks.append(entry_id)
        worked |= self._run(tenant, events, lock)
        self._ack(triggers, acks)
        self._ack(results, [entry_id for entry_id, _ in result_entries])
        return worked

    def _ack(self, queue, entry_ids: list[str]) -> None:  # type: ignore[no-untyped-def]
        for entry_id in entry_ids:
            queue.ack(entry_id)

    def _reconfigure(self, tenant: Tenant, event: TriggerEvent) -> Tenant:
        reason = f"[e: {event.event_id}] {event.project}@{event.branch} changed its configuration"
        reloaded = self._reload(tenant, tenant.name, reason, event.event_id)
        assert reloaded is not None
        return reloaded

    def _reload(
        self, tenant: Tenant | None, name: str, reason: str, event_id: str | None
    ) -> Tenant | None:
        """Load tenant ``name`` again (under its lock); on failure keep
        ``tenant``, the layout it runs on (None: a tenant not loaded yet)."""
        elog = get_logger("lockgate.scheduler", event_id)
        try:
            tenant = self.registry.reload(name, reason)
        except Exception:  # noqa: BLE001 - keep running on the layout we have
            elog.exception("reconfiguring tenant %s failed; keeping its current layout", name)
            return tenant
        if self.on_reconfigured is not None:
            self.on_reconfigured(tenant)
        return tenant

    def _match(self, tenant: Tenant, event: TriggerEvent) -> list[PipelineEvent]:
        elog = get_logger("lockgate.scheduler", event.event_id)
        try:
            targets = match_event(tenant.layout, tenant.filters, event)
        except Exception:  # noqa: BLE001 - a bad event must not block the queue
            elog.exception(
                "matching %s event for %s failed; event dropped", event.type, event.project
            )
            return []
        if not targets:
            elog.debug(
                "%s event for %s %s matches no pipeline of tenant %s",
                event.type,
                event.project,
                event.ref,
                tenant.name,
            )
            return []
        changed = None
        if event.type == "ref-updated":
            changed = self.resolver.changed_files(
                targets[0].connection, targets[0].project, event.oldrev, event.newrev
            )
        elog.info(
            "%s event for %s %s matches %s",
            event.type,
            event.project,
            event.ref,
            ", ".join(sorted({t.pipeline for t in targets})),
        )
        return [PipelineEvent(event, t, changed) for t in targets]

    # --- pipelines ----------------------------------------------------------------------

    def _run(
        self, tenant: Tenant, events: dict[str, list[PipelineEvent]], lock: SessionAwareLock
    ) -> bool:
        store = PipelineStore(self.client, tenant.name)
        names = list(tenant.layout.pipelines)
        names += [n for n in store.pipeline_names() if n not in tenant.layout.pipelines]
        worked = False
        for pname in names:
            pipeline = tenant.layout.pipelines.get(pname)
            try:
                manager_for(pipeline)
            except UnsupportedManager as e:
                key = (tenant.uuid, pname)
                if key not in self._unsupported:
                    self._unsupported.add(key)
                    log.error("tenant %s: %s; its events are ignored", tenant.name, e)
                for pev in events.get(pname, []):
                    get_logger("lockgate.scheduler", pev.event.event_id).warning(
                        "not enqueued in %s: %s", pname, e
                    )
                continue
            worked |= self._run_pipeline(tenant, store, pname, events.get(pname, []), lock)
        return worked

    def _run_pipeline(
        self,
        tenant: Tenant,
        store: PipelineStore,
        pname: str,
        events: list[PipelineEvent],
        lock: SessionAwareLock,
    ) -> bool:
        pipeline = tenant.layout.pipelines.get(pname)
        loaded = store.load(pname)
        prepared: dict[str, PrepareResult] = {}
        effects = ZKEffects(self, store, loaded, lock, prepared)
        worked = False
        for round_ in range(self.max_rounds):
            nodes, builds = self.observe(tenant.name, pname)
            snapshot = PipelineSnapshot(
                tenant=tenant.name,
                pipeline_name=pname,
                pipeline=pipeline,
                layout=tenant.layout,
                state=loaded.state,
                items=loaded.items,
                events=events if round_ == 0 else [],
                node_requests=nodes,
                builds=builds,
                prepared=dict(prepared),
                layout_uuid=tenant.uuid,
                now=self.clock(),
            )
            prepared.clear()
            decision = decide(snapshot)
            apply_decision(decision, effects)
            if not decision.has_work:
                break
            worked = True
        if pipeline is None and not loaded.state.queues:
            store.delete_pipeline(pname)
            log.info("tenant %s: pipeline %s removed from ZooKeeper", tenant.name, pname)
        return worked

    def observe(
        self, tenant: str, pipeline: str
    ) -> tuple[dict[str, NodeRequest], dict[str, ObservedBuild]]:
        """This pipeline's node and build requests, as they are now."""
        nodes = {
            v.record.id: v.record
            for v in self.node_requests.list()
            if v.record.tenant == tenant and v.record.pipeline == pipeline
        }
        builds: dict[str, ObservedBuild] = {}
        store = self.build_store(DEFAULT_ZONE)
        for v in store.list():
            req = v.record
            if req.tenant != tenant or req.pipeline != pipeline:
                continue
            locked = store.is_locked(req.uuid)
            lost = False
            if req.state is BuildState.RUNNING and not locked:
                # Read again after seeing no lock: an executor finishing sets
                # COMPLETED before it lets go, so RUNNING now means it died.
                again = store.get(req.uuid)
                if again is None:
                    continue
                req = again.record
                lost = req.state is BuildState.RUNNING and not store.is_locked(req.uuid)
                locked = not lost and store.is_locked(req.uuid)
            builds[req.uuid] = ObservedBuild(req, locked=locked, lost=lost)
        return nodes, builds


class ZKEffects:
    """The decision core's actions, done against ZooKeeper, git and SQL."""

    def __init__(
        self,
        processor: TenantProcessor,
        store: PipelineStore,
        loaded: LoadedPipeline,
        lock: SessionAwareLock,
        prepared: dict[str, PrepareResult],
    ) -> None:
        self.p = processor
        self.store = store
        self.loaded = loaded
        self.lock = lock
        self.prepared = prepared

    def log(self, action: Log) -> None:
        get_logger("lockgate.scheduler", action.event_id, **dict(action.tags)).log(
            action.level, action.message
        )

    def buildset_started(self, action: BuildsetStarted) -> None:
        self.p.reporter.buildset_started(action)

    def build_changed(self, action: BuildChanged) -> None:
        self.p.reporter.build_changed(action)

    def item_reported(self, action: ItemReported) -> None:
        self.p.reporter.item_reported(action)

    def save(self, decision: Decision) -> None:
        self.lock.check()
        loaded = self.loaded
        # Items first, then the record that lists them, then what it unlisted.
        self.store.save_items(loaded, decision.changed - decision.removed)
        if decision.state_changed or loaded.state_version is None:
            self.store.save_state(loaded)
        leftovers = {u for u in loaded.orphans if u not in loaded.items}
        self.store.delete_items(loaded, set(decision.removed) | leftovers)

    def prepare_item(self, action: PrepareItem) -> None:
        result = self.p.resolver.prepare(action.projects)
        if result.error:
            get_logger("lockgate.scheduler", action.event_id).warning(
                "preparing item %s: %s", action.item_uuid[:12], result.error
            )
        self.prepared[action.item_uuid] = result

    def submit_node_request(self, action: SubmitNodeRequest) -> None:
        self.lock.check()
        req = NodeRequest.from_dict(action.request.to_dict())
        self.p.node_requests.submit(req)
        get_logger("lockgate.scheduler", req.event_id).info(
            "node request %s submitted for job %s (%s)", req.id, req.job_name, ", ".join(req.labels)
        )

    def submit_build_request(self, action: SubmitBuildRequest) -> None:
        self.lock.check()
        req = action.request
        try:
            self.p.build_store(req.zone).submit(req)
        except RecordConflict:
            get_logger("lockgate.scheduler", req.event_id, build=req.uuid).info(
                "build request already submitted"
            )
            return
        get_logger("lockgate.scheduler", req.event_id, build=req.uuid).info(
            "build request submitted for job %s (attempt %d)", req.job.name, req.attempt
        )

    def cancel_build_request(self, action: CancelBuildRequest) -> None:
        store = self.p.build_store(action.zone)
        for _ in range(5):
            found = store.get(action.uuid)
            if found is None or found.record.cancel_requested:
                return
            found.record.cancel_requested = True
            try:
                store.update(found.record, found.version)
                return
            except RecordConflict:
                continue

    def delete_build_request(self, action: DeleteBuildRequest) -> None:
        self.p.build_store(action.zone).delete(action.uuid)

    def delete_node_request(self, action: DeleteNodeRequest) -> None:
        self.p.node_requests.delete(action.request_id)
