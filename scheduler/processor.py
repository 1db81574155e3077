"""One pass over one tenant: load, decide, apply — the scheduler's thin loop.

Who calls it: the scheduler's main loop (``lockgate.scheduler.server``),
whenever a tenant's queues or requests may have changed, and on a periodic
tick.  A pass:

1. takes the tenant's lock without waiting (a peer holding it is doing
   this work; this scheduler moves on to another tenant);
2. reloads the layout if the tenant config was re-read (SIGHUP) or a peer
   published a newer one;
3. honours the tenant's ``manage-events`` state
   (``lockgate.model.event_state``): results paused, the pass ends here and
   every queue waits; triggers paused, they are not read; discarding, each
   is acknowledged and dropped with a log line (one that changes the
   configuration still reloads the tenant);
   reads the result queue (hints only: the request records are the truth)
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from lockgate.drivers.base import ChangeQueryError
from lockgate.logs import get_logger
from lockgate.metrics import Metrics
from lockgate.metrics.catalog import PIPELINE_ITEMS, TENANT_PASS, TRIGGER_EVENTS
from lockgate.model.builds import BuildState
from lockgate.model.change import Change, ChangeKey
from lockgate.model.event_state import TenantEventState, TriggerHandling
from lockgate.model.events import TriggerEvent
from lockgate.model.merges import MergeRequest, RepoSpec
from lockgate.model.nodes import NodeRequest
from lockgate.model.queue import ItemState, ProjectRepo
from lockgate.model.zones import DEFAULT_ZONE, served_zones
from lockgate.scheduler.behind import changes_behind, reported_labels, submit_needs
from lockgate.scheduler.changes import (
    ChangeRegistry,
    dequeues_for,
    requirement_dequeues,
    supersede_dequeues,
)
from lockgate.scheduler.dependencies import DependencyError
from lockgate.scheduler.effects import apply_decision
from lockgate.scheduler.history import provided_artifacts
from lockgate.scheduler.management import ManagementHandler
from lockgate.scheduler.manager import UnsupportedManager, decide, manager_for
from lockgate.scheduler.manager.actions import (
    AcquireSemaphore,
    BuildChanged,
    BuildsetStarted,
    CancelBuildRequest,
    Decision,
    DeleteBuildRequest,
    DeleteMergeRequest,
    DeleteNodeRequest,
    ItemReported,
    ItemStarted,
    Log,
    LookupProvides,
    PrepareItem,
    ReleaseSemaphore,
    ResumeBuildRequest,
    SubmitBuildRequest,
    SubmitItem,
    SubmitMergeRequest,
    SubmitNodeRequest,
)
from lockgate.scheduler.manager.snapshot import (
    ChangeDequeue,
    MergeOutcome,
    ObservedBuild,
    PipelineEvent,
    PipelineSnapshot,
    PrepareResult,
    Promote,
    ProvidedArtifacts,
    SemaphoreState,
    Speculation,
    SubmitOutcome,
)
from lockgate.scheduler.matching import change_target, match_event
from lockgate.scheduler.reporting import Reporter
from lockgate.scheduler.repos import RepoResolver
from lockgate.scheduler.speculation import speculate
from lockgate.scheduler.submitting import submit_item
from lockgate.scheduler.tenants import Tenant, TenantRegistry
from lockgate.zk.changes import ChangeCache
from lockgate.zk.client import ZKClient
from lockgate.zk.components import component_view
from lockgate.zk.errors import RecordConflict
from lockgate.zk.event_state import EventStateWatch
from lockgate.zk.locks import SessionAwareLock, tenant_lock
from lockgate.zk.merges import MergeRequestStore
from lockgate.zk.pipelines import ItemCache, LoadedPipeline, PipelineStore
from lockgate.zk.queues import EventQueue, result_queue, trigger_queue
from lockgate.zk.requests import BuildRequestStore, NodeRequestStore, build_zone_view
from lockgate.zk.semaphores import SemaphoreSlots, read_holders
from lockgate.zk.views import sync_watches

log = logging.getLogger("lockgate.scheduler")

# A change event whose change cannot be queried is tried again this many
# times, after QUERY_BACKOFF, 2x, 4x... seconds (``extra`` keys below).
QUERY_RETRIES = 5
QUERY_BACKOFF = 5.0
QUERY_ATTEMPTS = "lockgate.query_attempts"
RETRY_AT = "lockgate.retry_at"


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
        metrics: Metrics | None = None,
        event_states: EventStateWatch | None = None,
    ) -> None:
        self.client = client
        self.metrics = metrics or Metrics("scheduler")
        self.registry = registry
        self.resolver = resolver
        self.reporter = reporter
        self.clock = clock
        self.max_events = max_events
        self.max_rounds = max_rounds
        self.on_reconfigured = on_reconfigured
        self.node_requests = NodeRequestStore(client)
        self.merge_requests = MergeRequestStore(client)
        self.changes = ChangeRegistry(resolver.connections, ChangeCache(client))
        self.management = ManagementHandler(client, self.changes, max_events)
        self._build_stores: dict[str, BuildRequestStore] = {}
        # The zones that have build requests, and the executors (their zones).
        self.build_zones = build_zone_view(client)
        self.executors = component_view(client, "executor")
        self._unsupported: set[tuple[str, str]] = set()
        # merge request uuid -> the item's speculation (None: no config change)
        self._speculations: dict[str, Speculation | None] = {}
        # Decoded items of completed passes (``lockgate.zk.pipelines.ItemCache``).
        self.item_cache = ItemCache()
        # Admins' pauses and discards (``manage-events``), and the last one logged.
        self.event_states = event_states or EventStateWatch(client)
        self._event_states_logged: dict[str, TenantEventState] = {}

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
            with self.metrics.timer(TENANT_PASS, tenant=name):
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
        event_state = self._event_state(name)
        if event_state.result_queue_paused:
            return False  # every queue waits, untouched, until an admin resumes
        handling = event_state.triggers()
        results = result_queue(self.client, name)
        triggers = trigger_queue(self.client, name)
        result_entries = results.list()
        trigger_entries = (
            [] if handling is TriggerHandling.LEAVE else triggers.list(limit=self.max_events)
        )
        # Admin actions first (``management.py``); acknowledged once saved.
        admin = self.management.take(tenant)
        events: dict[str, list[PipelineEvent]] = defaultdict(list, admin.events)
        dequeues: list[ChangeDequeue] = list(admin.dequeues)
        acks: list[str] = []
        now = self.clock()
        waiting = 0
        worked = False
        for entry_id, data in trigger_entries:
            try:
                event = TriggerEvent.from_dict(data)
            except (TypeError, ValueError) as e:
                log.error("tenant %s: unreadable trigger event %s dropped: %s", name, entry_id, e)
                acks.append(entry_id)
                continue
            if handling is TriggerHandling.DISCARD:
                if self.registry.updates_config(tenant, event):
                    # Dropped, but the configuration it changed is loaded.
                    worked |= self._run(tenant, events, lock, dequeues)
                    self._ack(triggers, acks)
                    events, acks, dequeues = defaultdict(list), [], []
                    tenant = self._reconfigure(tenant, event)
                get_logger("lockgate.scheduler", event.event_id).info(
                    "%s event for %s %s discarded (%s)",
                    event.type,
                    event.project,
                    event.change_number or event.ref or "",
                    event_state.describe(),
                )
                acks.append(entry_id)
                continue
            if float(event.extra.get(RETRY_AT, 0)) > now:
                waiting += 1
                continue  # a change query failed: tried again later (left queued)
            if self.registry.updates_config(tenant, event):
                # Events before this one see the layout they came under.
                worked |= self._run(tenant, events, lock, dequeues)
                self._ack(triggers, acks)
                events, acks, dequeues = defaultdict(list), [], []
                tenant = self._reconfigure(tenant, event)
            dequeues.extend(dequeues_for(event))
            try:
                change = self.changes.for_event(event)
            except ChangeQueryError as e:
                self._retry_later(triggers, event, e)
                acks.append(entry_id)
                continue
            if change is not None:
                unmet = requirement_dequeues(event, change, tenant.requirements, now)
                _drop_events(events, unmet)
                dequeues.extend(unmet)
            matched = self._match(tenant, event, change)
            for pev in matched:
                events[pev.target.pipeline].append(pev)
                superseded = supersede_dequeues(
                    pev, tenant.layout.pipelines.get(pev.target.pipeline)
                )
                _drop_events(events, superseded)
                dequeues.extend(superseded)
            acks.append(entry_id)
        # Events left waiting for a retry are not work: the periodic tick
        # brings them back, rather than a busy loop.
        worked |= bool(admin) or bool(result_entries) or len(trigger_entries) > waiting
        worked |= self._run(tenant, events, lock, dequeues, admin.promotes)
        self._ack(triggers, acks)
        admin.ack()
        self._ack(results, [entry_id for entry_id, _ in result_entries])
        self.metrics.inc(TRIGGER_EVENTS, len(trigger_entries) - waiting, tenant=name)
        return worked

    def _event_state(self, name: str) -> TenantEventState:
        """The tenant's ``manage-events`` state, logged when it changes."""
        state = self.event_states.get(name)
        last = self._event_states_logged.get(name)
        if (last is None and not state.normal) or (last is not None and last != state):
            log.info("tenant %s: %s", name, state.describe())
        self._event_states_logged[name] = state
        return state

    def _ack(self, queue: EventQueue, entry_ids: list[str]) -> None:
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

    def _match(
        self, tenant: Tenant, event: TriggerEvent, change: Change | None
    ) -> list[PipelineEvent]:
        """``event``'s pipeline events; ``change`` is its change as just
        asked of the review system (None: a ref event)."""
        elog = get_logger("lockgate.scheduler", event.event_id)
        refused: list[str] = []
        try:
            targets = match_event(
                tenant.layout,
                tenant.filters,
                event,
                change,
                tenant.requirements,
                self.clock(),
                refused,
            )
        except Exception:  # noqa: BLE001 - a bad event must not block the queue
            elog.exception(
                "matching %s event for %s failed; event dropped", event.type, event.project
            )
            return []
        for reason in refused:
            elog.info("%s event for %s not enqueued in %s", event.type, event.project, reason)
        if change is not None:
            pevs = self._change_events(tenant, event, change, targets)
            return pevs + self._behind(tenant, event, pevs)
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

    def _retry_later(self, queue: EventQueue, event: TriggerEvent, error: Exception) -> None:
        """The review system did not answer about the event's change: put the
        event back, to be tried after a growing pause, a few times; then drop
        it (logged), so one unreachable change cannot hold the tenant."""
        elog = get_logger("lockgate.scheduler", event.event_id)
        attempts = int(event.extra.get(QUERY_ATTEMPTS, 0)) + 1
        if attempts > QUERY_RETRIES:
            elog.error(
                "%s event for change %s of %s dropped after %d failed queries: %s",
                event.type,
                event.change_number,
                event.project,
                attempts - 1,
                error,
            )
            return
        delay = QUERY_BACKOFF * 2 ** (attempts - 1)
        extra = {**event.extra, QUERY_ATTEMPTS: attempts, RETRY_AT: self.clock() + delay}
        queue.put(replace(event, extra=extra, dedup_key="").to_dict())
        elog.warning(
            "%s event for change %s of %s: cannot query the change (%s); trying again in %.0f s",
            event.type,
            event.change_number,
            event.project,
            error,
            delay,
        )

    def _change_events(
        self, tenant: Tenant, event: TriggerEvent, change: Change, targets: list
    ) -> list[PipelineEvent]:
        """A change event's pipeline events: the change with every change it
        needs, in merge order (or why it cannot be enqueued)."""
        elog = get_logger("lockgate.scheduler", event.event_id)
        if not targets:
            elog.debug(
                "%s event for change %s matches no pipeline of tenant %s",
                event.type,
                change.describe(),
                tenant.name,
            )
            return []
        changes: tuple[Change, ...] = (change,)
        not_ready = None
        cycles: tuple[tuple[ChangeKey, ...], ...] = ()
        try:
            graph = self.changes.resolve_dependencies(change)
            changes = tuple(graph.merge_order())
            cycles = tuple(tuple(c) for c in graph.cycles)
            if graph.errors:
                not_ready = "; ".join(graph.errors)
            for cycle in graph.cycles:
                elog.info(
                    "change %s is in a dependency cycle with %s: tested as one unit",
                    change.describe(),
                    ", ".join(f"{k.connection}/{k.number}" for k in cycle),
                )
        except DependencyError as e:
            not_ready = str(e)
        elog.info(
            "%s event for change %s of %s matches %s",
            event.type,
            change.describe(),
            change.project,
            ", ".join(sorted({t.pipeline for t in targets})),
        )
        now = self.clock()
        return [
            PipelineEvent(
                event,
                t,
                None,
                changes,
                not_ready,
                cycles=cycles,
                unmet=self._unmet(tenant, t.pipeline, changes[:-1], now),
            )
            for t in targets
        ]

    def _behind(
        self, tenant: Tenant, event: TriggerEvent, pevs: list[PipelineEvent]
    ) -> list[PipelineEvent]:
        """The changes that need the event's change and may now follow it
        into each pipeline whose manager enqueues behind (the gate), each
        with every change it needs (``lockgate.scheduler.behind``)."""
        elog = get_logger("lockgate.scheduler", event.event_id)
        out: list[PipelineEvent] = []
        now = self.clock()
        for pev in pevs:
            pipeline = tenant.layout.pipelines.get(pev.target.pipeline)
            if pev.not_ready or pev.change is None or pipeline is None:
                continue
            try:
                if not manager_for(pipeline).enqueues_behind:
                    continue
            except UnsupportedManager:
                continue
            requirements = tenant.requirements.get(pipeline.name, {})
            success = pipeline.reporters_for("success")

            def admits(c: Change, requirements=requirements, success=success) -> str | None:  # noqa: ANN001
                requirement = requirements.get(c.connection)
                reason = requirement.check(c, now) if requirement is not None else None
                return reason or submit_needs(c, reported_labels(success, c.connection))

            try:
                found, refused = changes_behind(pev.change, self.changes.needing, admits)
            except ChangeQueryError as e:
                elog.warning(
                    "cannot ask which changes need %s (not enqueued behind it): %s",
                    pev.change.describe(),
                    e,
                )
                continue
            for other, why in refused:
                elog.info(
                    "change %s needs %s but does not follow it into %s: %s",
                    other.describe(),
                    pev.change.describe(),
                    pipeline.name,
                    why,
                )
            for other in found:
                target = change_target(tenant.layout, pipeline.name, other)
                if target is None:
                    continue
                elog.info(
                    "change %s follows %s into %s",
                    other.describe(),
                    pev.change.describe(),
                    pipeline.name,
                )
                out.extend(self._change_events(tenant, event, other, [target]))
        return out

    def _unmet(
        self, tenant: Tenant, pipeline: str, needed: tuple[Change, ...], now: float
    ) -> tuple[tuple[ChangeKey, str], ...]:
        """Needed changes that fail ``pipeline``'s requirements, with why (a
        gate enqueues a change only behind changes that could enter it)."""
        requirements = tenant.requirements.get(pipeline, {})
        out = []
        for change in needed:
            requirement = requirements.get(change.connection)
            reason = requirement.check(change, now) if requirement is not None else None
            if reason:
                out.append((change.key, reason))
        return tuple(out)

    # --- pipelines ----------------------------------------------------------------------

    def _run(
        self,
        tenant: Tenant,
        events: dict[str, list[PipelineEvent]],
        lock: SessionAwareLock,
        dequeues: list[ChangeDequeue] | None = None,
        promotes: Mapping[str, list[Promote]] | None = None,
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
            worked |= self._run_pipeline(
                tenant,
                store,
                pname,
                events.get(pname, []),
                lock,
                dequeues or [],
                (promotes or {}).get(pname, []),
            )
        return worked

    def _run_pipeline(
        self,
        tenant: Tenant,
        store: PipelineStore,
        pname: str,
        events: list[PipelineEvent],
        lock: SessionAwareLock,
        dequeues: list[ChangeDequeue],
        promotes: list[Promote] | None = None,
    ) -> bool:
        pipeline = tenant.layout.pipelines.get(pname)
        loaded = store.load(pname, cache=self.item_cache)
        prepared: dict[str, PrepareResult] = {}
        effects = ZKEffects(self, store, loaded, lock, prepared, tenant)
        worked = False
        observed: tuple[dict[str, NodeRequest], dict[str, ObservedBuild]] | None = None
        for round_ in range(self.max_rounds):
            if observed is None:
                observed = self.observe(tenant.name, pname)
            nodes, builds = observed
            merges, speculative = self.observe_merges(tenant, pname, loaded.items)
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
                provided=dict(effects.provided),
                submits=dict(effects.submits),
                merges=merges,
                speculative=speculative,
                dequeues=dequeues if round_ == 0 else [],
                promotes=list(promotes or []) if round_ == 0 else [],
                semaphores=self.semaphores(tenant),
                executor_zones=self.executor_zones(),
                layout_uuid=tenant.uuid,
                now=self.clock(),
            )
            prepared.clear()
            effects.submits.clear()
            effects.provided.clear()
            decision = decide(snapshot)
            apply_decision(decision, effects)
            if not decision.has_work:
                break
            worked = True
            observed = _observed_after(observed, decision)
        if pipeline is None and not loaded.state.queues:
            store.delete_pipeline(pname)
            log.info("tenant %s: pipeline %s removed from ZooKeeper", tenant.name, pname)
            self.metrics.forget(PIPELINE_ITEMS, tenant=tenant.name, pipeline=pname)
        else:
            store.remember(loaded, self.item_cache)
            self.metrics.set(PIPELINE_ITEMS, len(loaded.items), tenant=tenant.name, pipeline=pname)
        return worked

    def semaphores(self, tenant: Tenant) -> dict[str, SemaphoreState]:
        """The tenant's semaphores: those with holders (from every pipeline)
        and those its layout defines, with their size."""
        defined = getattr(tenant.layout, "semaphores", {}) or {}
        holders = read_holders(self.client, tenant.name)
        out: dict[str, SemaphoreState] = {}
        for name in sorted(set(defined) | set(holders)):
            sem = defined.get(name)
            out[name] = SemaphoreState(
                max=int(sem.max) if sem is not None else 1,
                holders=tuple(holders.get(name, ())),
            )
        return out

    def observe_merges(
        self, tenant: Tenant, pipeline: str, items: dict
    ) -> tuple[dict[str, MergeOutcome], dict[str, Speculation]]:
        """This pipeline's merge requests, and the speculative configuration
        of the items whose merge is done (built once per merge request)."""
        outcomes: dict[str, MergeOutcome] = {}
        speculative: dict[str, Speculation] = {}
        for found in self.merge_requests.list():
            req = found.record
            if req.tenant != tenant.name or req.pipeline != pipeline:
                continue
            result = req.result
            outcome = MergeOutcome(
                uuid=req.uuid,
                item_uuid=req.item_uuid,
                done=result is not None,
                ok=bool(result and result.ok),
                conflict=result.conflict if result else None,
                error=result.error if result else None,
                repo_state=dict(result.repo_state) if result else {},
                commits=dict(result.commits) if result else {},
                files=dict(result.files) if result else {},
                repos=self._project_repos(req.repos),
                step_files=[list(f) for f in result.step_files] if result else [],
            )
            outcomes[req.uuid] = outcome
            item = items.get(req.item_uuid)
            if not outcome.ok or item is None or item.state is not ItemState.PREPARING:
                continue
            if req.uuid not in self._speculations:
                self._speculations[req.uuid] = self._speculate(tenant, req)
            speculation = self._speculations[req.uuid]
            if speculation is not None:
                speculative[req.item_uuid] = speculation
        if len(self._speculations) > 1000:
            live = {o.uuid for o in outcomes.values()}
            self._speculations = {k: v for k, v in self._speculations.items() if k in live}
        return outcomes, speculative

    def _speculate(self, tenant: Tenant, req: MergeRequest) -> Speculation | None:
        assert req.result is not None, "a merge that is done has its result"
        drivers = {n: c.driver_name for n, c in self.resolver.connections.items()}
        try:
            return speculate(tenant, req.result.config, drivers)
        except Exception as e:  # noqa: BLE001 - one item's config must not stop the loop
            get_logger("lockgate.scheduler", req.event_id).exception(
                "building the speculative layout of item %s failed", req.item_uuid[:12]
            )
            return Speculation(errors=(f"internal error while loading the configuration: {e}",))

    def _project_repos(self, specs: Iterable[RepoSpec]) -> dict[str, ProjectRepo]:
        out: dict[str, ProjectRepo] = {}
        for spec in specs:
            connection = self.resolver.connections.get(spec.connection)
            if connection is None:
                continue
            source = connection.source()
            out[spec.project] = ProjectRepo(
                connection=spec.connection,
                project=spec.project,
                canonical_name=source.canonical_name(spec.project),
                canonical_hostname=source.canonical_hostname,
                url=source.clone_url(spec.project),
            )
        return out

    def observe(
        self, tenant: str, pipeline: str
    ) -> tuple[dict[str, NodeRequest], dict[str, ObservedBuild]]:
        """This pipeline's node and build requests (every executor zone's), as they are now.

        Read from views that ZooKeeper watches keep (``lockgate.zk.views``):
        after the barrier (``sync_watches``: every change made before it,
        this scheduler's own writes included, has marked its record), only
        the records and locks that changed since the last look are read.
        The records are shared with the views: read-only."""
        sync_watches(self.client)
        nodes = {
            request_id: v.record
            for request_id, v in self.node_requests.record_view().refresh(synced=True).items()
            if v.record.tenant == tenant and v.record.pipeline == pipeline
        }
        builds: dict[str, ObservedBuild] = {}
        # Every zone's folder: a job on zoned nodes has its request there.
        zones = {DEFAULT_ZONE, *self.build_zones.refresh(synced=True).values()}
        for zone in sorted(zones):
            self._observe_builds(self.build_store(zone), tenant, pipeline, builds)
        return nodes, builds

    def _observe_builds(
        self, store: BuildRequestStore, tenant: str, pipeline: str, out: dict[str, ObservedBuild]
    ) -> None:
        """Add the pipeline's build requests of ``store``'s zone to ``out``."""
        requests = store.record_view().refresh(synced=True)
        held = store.lock_view().refresh(synced=True)
        for uuid, found in requests.items():
            req = found.record
            if req.tenant != tenant or req.pipeline != pipeline:
                continue
            locked = uuid in held
            lost = False
            if req.state is BuildState.RUNNING and not locked:
                # Read again, directly, after seeing no lock: an executor
                # finishing sets COMPLETED before it lets go, so RUNNING now
                # means it died -- never a view that lags behind.
                again = store.get(uuid)
                if again is None:
                    continue
                req = again.record
                locked = store.is_locked(uuid)
                lost = req.state is BuildState.RUNNING and not locked
            out[uuid] = ObservedBuild(req, locked=locked, lost=lost)

    def executor_zones(self) -> frozenset[str]:
        """The zones the registered executors serve, as their registrations
        say (kept by watches, as fresh as the last ``observe``: the
        snapshot's ``executor_zones``): each one's ``zone``, and the unzoned
        queue for a zoned one registered with ``allow_unzoned`` (one that
        registered without the key, from before it was read, takes only its
        zone's builds, as it did)."""
        return frozenset(
            zone
            for info in self.executors.refresh(synced=True).values()
            for zone in served_zones(
                str(info.state.get("zone") or DEFAULT_ZONE),
                bool(info.state.get("allow_unzoned", False)),
            )
        )


def _observed_after(
    observed: tuple[dict[str, NodeRequest], dict[str, ObservedBuild]], decision: Decision
) -> tuple[dict[str, NodeRequest], dict[str, ObservedBuild]] | None:
    """What the next round would observe, if this decision's own actions
    tell: after it only deleted requests (the usual round after a build
    result), the same requests less those -- no need to read thousands of
    records again.  None (observe again) after anything else it did to
    requests.  Changes made by others meanwhile are seen by the next pass,
    which their result events start anyway."""
    gone_nodes: set[str] = set()
    gone_builds: set[str] = set()
    for action in decision.after_save():
        if isinstance(action, DeleteNodeRequest):
            gone_nodes.add(action.request_id)
        elif isinstance(action, DeleteBuildRequest):
            gone_builds.add(action.uuid)
        else:
            return None
    nodes, builds = observed
    return (
        {k: v for k, v in nodes.items() if k not in gone_nodes},
        {k: v for k, v in builds.items() if k not in gone_builds},
    )


def _drop_events(events: dict[str, list[PipelineEvent]], dequeues: list[ChangeDequeue]) -> None:
    """An earlier event of this batch must not enqueue a change into a
    pipeline that a later one removes it from (its requirements no longer
    met, or superseded): a decision dequeues before it enqueues."""
    for dequeue in dequeues:
        for pipeline in dequeue.pipelines:
            pevs = events.get(pipeline)
            if pevs:
                events[pipeline] = [
                    p for p in pevs if p.change is None or p.change.key != dequeue.key
                ]


class ZKEffects:
    """The decision core's actions, done against ZooKeeper, git and SQL."""

    def __init__(
        self,
        processor: TenantProcessor,
        store: PipelineStore,
        loaded: LoadedPipeline,
        lock: SessionAwareLock,
        prepared: dict[str, PrepareResult],
        tenant: Tenant | None = None,
    ) -> None:
        self.p = processor
        self.store = store
        self.loaded = loaded
        self.lock = lock
        self.prepared = prepared
        self.tenant = tenant
        # Gate items' submit outcomes, for the next decision (lost with the
        # process: the decision core then asks again, see submitting.py).
        self.submits: dict[str, SubmitOutcome] = {}
        # Answers to LookupProvides, for the next decision (asked again if lost).
        self.provided: dict[tuple[str, str], ProvidedArtifacts] = {}

    def lookup_provides(self, action: LookupProvides) -> None:
        self.provided[(action.item_uuid, action.job_name)] = provided_artifacts(
            self.p.reporter.db, action
        )

    def resume_build_request(self, action: ResumeBuildRequest) -> None:
        store = self.p.build_store(action.zone)
        for _ in range(5):
            found = store.get(action.uuid)
            if found is None or found.record.resume_requested:
                return
            found.record.resume_requested = True
            try:
                store.update(found.record, found.version)
                return
            except RecordConflict:
                continue

    def log(self, action: Log) -> None:
        get_logger("lockgate.scheduler", action.event_id, **dict(action.tags)).log(
            action.level, action.message
        )

    def buildset_started(self, action: BuildsetStarted) -> None:
        self.p.reporter.buildset_started(action)

    def build_changed(self, action: BuildChanged) -> None:
        self.p.reporter.build_changed(action)

    def item_reported(self, action: ItemReported) -> None:
        self.lock.fence()  # a report a peer may be making too is not sent
        self.p.reporter.item_reported(action)

    def item_started(self, action: ItemStarted) -> None:
        self.lock.fence()
        self.p.reporter.item_started(action)

    def submit_merge_request(self, action: SubmitMergeRequest) -> None:
        self.lock.check()
        req = action.request
        connections = self.p.resolver.connections
        for step in req.steps:
            conn = connections.get(step.connection)
            step.url = conn.source().clone_url(step.project) if conn is not None else ""
        for spec in req.repos:
            conn = connections.get(spec.connection)
            spec.url = conn.source().clone_url(spec.project) if conn is not None else ""
        req.config_files = self._config_files()
        try:
            self.p.merge_requests.submit(req)
        except RecordConflict:
            get_logger("lockgate.scheduler", req.event_id).info(
                "merge request %s already submitted", req.uuid[:12]
            )
            return
        get_logger("lockgate.scheduler", req.event_id, item=req.item_uuid[:12]).info(
            "merge request %s submitted: %s",
            req.uuid[:12],
            ", ".join(s.describe() for s in req.steps) or "(heads only)",
        )

    def _config_files(self) -> list[str]:
        """The configuration roots, with every tenant project's extra paths."""
        from lockgate.config.discovery import CONFIG_ROOTS

        paths = list(CONFIG_ROOTS)
        if self.tenant is not None:
            for project in self.tenant.spec.projects:
                for extra in project.extra_config_paths:
                    if extra.lstrip("/") not in paths:
                        paths.append(extra.lstrip("/"))
        return paths

    def submit_item(self, action: SubmitItem) -> None:
        self.lock.fence()  # a merge only while this scheduler surely holds the tenant
        outcome = submit_item(action, self.p.resolver.connections)
        if outcome is not None:
            self.submits[action.item.uuid] = outcome

    def delete_merge_request(self, action: DeleteMergeRequest) -> None:
        self.p.merge_requests.delete(action.uuid)

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

    def acquire_semaphore(self, action: AcquireSemaphore) -> None:
        assert self.tenant is not None
        sem = SemaphoreSlots(self.p.client, self.tenant.name, action.name, max=max(1, action.max))
        if not sem.acquire(action.holder):
            # Only after a crash between a save and its acquire, if another
            # pipeline took the slot meanwhile: the job runs one over.
            get_logger("lockgate.scheduler", action.event_id).warning(
                "semaphore %s: every slot was taken; %s runs anyway", action.name, action.holder
            )

    def release_semaphore(self, action: ReleaseSemaphore) -> None:
        assert self.tenant is not None
        SemaphoreSlots(self.p.client, self.tenant.name, action.name).release(action.holder)
