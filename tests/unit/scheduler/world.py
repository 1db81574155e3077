"""A simulated world for the scheduler's decision core: no ZooKeeper, no git.

``SimWorld`` plays every part around ``decide``: it keeps the pipeline
state and items as ZooKeeper would (serialized, when ``persist`` is on), the
node and build request stores, SQL rows and log lines (it implements
``lockgate.scheduler.effects.Effects``, so decisions are applied through
the real ordering code), and it plays the launcher and the executor by
rules the test gives.  Time is a number the test moves.

It can also *crash*: ``crash_after(n)`` makes the n-th side effect raise,
after which everything not saved is forgotten — what a SIGKILL does to a
scheduler — and the next ``run_scheduler`` starts again from what was
saved.  The real loop's crash tests use a real ZooKeeper
(``tests/integration/scheduler``).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lockgate.config.loader import load_tenant
from lockgate.config.tenant import parse_tenant_config
from lockgate.model.builds import BuildRequest, BuildState
from lockgate.model.change import Change
from lockgate.model.events import TriggerEvent
from lockgate.model.merges import MergeRequest, MergeResult, MergeState
from lockgate.model.nodes import NodeRequest, NodeRequestState
from lockgate.model.queue import PipelineState, ProjectRepo, QueueItem
from lockgate.scheduler.effects import apply_decision
from lockgate.scheduler.manager import decide
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
    Target,
)

MAIN_YAML = """
- tenant:
    name: demo
    source:
      git:
        config-projects: [config]
        untrusted-projects: [org/app, org/lib, org/other]
"""

CONFIG = """
- pipeline:
    name: post
    manager: independent
    post-review: true
    trigger:
      git:
        - event: ref-updated
          ref: ^refs/heads/.*$
    success-message: Build succeeded (post).
- pipeline:
    name: periodic
    manager: independent
    trigger:
      timer:
        - time: '0 * * * *'
- nodeset:
    name: single
    nodes:
      - name: node
        label: ubuntu
- job:
    name: base
    parent: null
    nodeset: single
    run: playbooks/base.yaml
    attempts: 3
"""

APP = """
- job:
    name: build
- job:
    name: test
    dependencies: [build]
    required-projects: [org/lib]
- job:
    name: lint
    nodeset:
      nodes: []
    voting: false
- project:
    post:
      jobs: [build, test, lint]
    periodic:
      jobs: [noop]
"""


def make_layout(
    files: dict[str, dict[str, dict[str, str]]] | None = None,
    main: str = MAIN_YAML,
    tenant: str = "demo",
) -> Any:
    """A real ``Layout`` through the real loader, from in-memory repositories:
    {project: {branch: {path: text}}}."""
    files = (
        files
        if files is not None
        else {
            "config": {"master": {"zuul.yaml": CONFIG}},
            "org/app": {"master": {".zuul.yaml": APP}},
        }
    )
    spec = parse_tenant_config(main).tenants[tenant]
    return load_tenant(
        spec,
        lambda p, b: files.get(p.name, {}).get(b),
        lambda p: sorted(files.get(p.name, {"master": {}})),
    )


def sha(n: int) -> str:
    return f"{n:040x}"


def ref_updated(
    project: str = "org/app",
    newrev: str | None = None,
    branch: str = "master",
    event_id: str | None = None,
    n: int = 1,
) -> TriggerEvent:
    kwargs: dict[str, Any] = {"event_id": event_id} if event_id else {}
    return TriggerEvent(
        type="ref-updated",
        connection="git",
        project=project,
        ref=f"refs/heads/{branch}",
        branch=branch,
        oldrev=sha(n - 1),
        newrev=newrev or sha(n),
        timestamp=100.0,
        **kwargs,
    )


def target_of(event: TriggerEvent, pipeline: str = "post") -> Target:
    return Target(
        pipeline=pipeline,
        project=event.project,
        connection=event.connection,
        ref=event.ref,
        branch=event.branch,
        oldrev=event.oldrev,
        newrev=event.newrev,
    )


class Crash(Exception):
    """The simulated SIGKILL."""


@dataclass
class SimWorld:
    layout: Any
    tenant: str = "demo"
    now: float = 1000.0
    persist: bool = True
    # Branch heads of every repository, for preparing items.
    heads: dict[str, dict[str, str]] = field(default_factory=dict)
    # Launcher and executor rules.
    node_result: Callable[[NodeRequest], bool] = lambda req: True
    build_result: Callable[[BuildRequest], str] = lambda req: "SUCCESS"
    # Builds the executor keeps running (a test releases them by changing it).
    hold: Callable[[BuildRequest], bool] = lambda req: False
    # What a build returns (zuul_return data) and whether it pauses after its
    # run playbooks (it goes on once the scheduler asks it to resume).
    build_data: Callable[[BuildRequest], dict[str, Any]] = lambda req: {}
    pause: Callable[[BuildRequest], bool] = lambda req: False
    resumed: set[str] = field(default_factory=set)
    # The build history's answer to LookupProvides (None: nothing provided).
    history: Callable[[LookupProvides], ProvidedArtifacts] | None = None
    lookups: list[LookupProvides] = field(default_factory=list)
    provided: dict[tuple[str, str], ProvidedArtifacts] = field(default_factory=dict)
    # What the world holds ("ZooKeeper").
    saved: dict[str, tuple[Any, dict[str, Any]]] = field(default_factory=dict)
    node_requests: dict[str, NodeRequest] = field(default_factory=dict)
    builds: dict[str, BuildRequest] = field(default_factory=dict)
    build_locks: set[str] = field(default_factory=set)
    pending: dict[str, list[PipelineEvent]] = field(default_factory=dict)
    # The scheduler's memory (lost on a crash).
    prepared: dict[str, PrepareResult] = field(default_factory=dict)
    # Observations for the assertions.
    sql_buildsets: dict[str, dict[str, Any]] = field(default_factory=dict)
    sql_builds: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    reports: list[tuple[str, str]] = field(default_factory=list)  # (item uuid, result)
    executed: Counter[str] = field(default_factory=Counter)  # build uuid -> runs started
    submissions: Counter[str] = field(default_factory=Counter)
    crash_countdown: int | None = None
    crashes: int = 0
    # The mergers: requests, and the rule that answers them.
    merges: dict[str, MergeRequest] = field(default_factory=dict)
    merge_result: Callable[[MergeRequest], MergeResult] | None = None
    merged: Counter[str] = field(default_factory=Counter)  # merge uuid -> times served
    speculative: dict[str, Speculation] = field(default_factory=dict)
    dequeues: list[ChangeDequeue] = field(default_factory=list)
    # What review systems were told: (item uuid, action, message, reporters, comments).
    review_reports: list[tuple[str, str, str, dict, dict]] = field(default_factory=list)
    # The review system's merges: change key text -> times merged, in order;
    # ``submit_rule`` says why a submit is refused (None: it merges).
    merged_changes: Counter[str] = field(default_factory=Counter)
    merge_order: list[str] = field(default_factory=list)
    submit_rule: Callable[[Change], str | None] = lambda change: None
    # The scheduler's memory of submit outcomes (lost on a crash).
    submits: dict[str, SubmitOutcome] = field(default_factory=dict)
    promotes: list[Promote] = field(default_factory=list)
    # Semaphore name -> holders (ZooKeeper's records); ``semaphore_peak``
    # is the most holders each ever had at once.
    semaphores: dict[str, list[str]] = field(default_factory=dict)
    semaphore_peak: Counter[str] = field(default_factory=Counter)
    # Item uuid -> its change ("12,1"), for every item reported; every build
    # request ever submitted, in order.
    item_changes: dict[str, str] = field(default_factory=dict)
    build_log: list[BuildRequest] = field(default_factory=list)
    merge_log: list[MergeRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)

    # --- driving --------------------------------------------------------------------

    def add_event(
        self,
        event: TriggerEvent,
        pipeline: str = "post",
        changed_files: tuple[str, ...] | None = None,
    ) -> None:
        self.pending.setdefault(pipeline, []).append(
            PipelineEvent(event, target_of(event, pipeline), changed_files)
        )

    def add_change(
        self,
        change: Change,
        pipeline: str = "check",
        *,
        needs: tuple[Change, ...] = (),
        not_ready: str | None = None,
        event_type: str = "patchset-created",
        event_id: str | None = None,
        cycles: tuple[tuple[Any, ...], ...] = (),
        unmet: tuple[tuple[Any, str], ...] = (),
    ) -> TriggerEvent:
        """A change event matched to ``pipeline``, as the loop makes it."""
        kwargs: dict[str, Any] = {"event_id": event_id} if event_id else {}
        event = TriggerEvent(
            type=event_type,
            connection=change.connection,
            project=change.project,
            branch=change.branch,
            ref=change.ref,
            change_number=change.number,
            patchset=change.patchset,
            timestamp=100.0,
            **kwargs,
        )
        target = Target(
            pipeline=pipeline,
            project=change.project,
            connection=change.connection,
            ref=change.ref,
            branch=change.branch,
            newrev=change.commit,
        )
        self.pending.setdefault(pipeline, []).append(
            PipelineEvent(event, target, None, (*needs, change), not_ready, cycles, unmet)
        )
        return event

    def default_merge(self, req: MergeRequest) -> MergeResult:
        """Every step merges; commits derive from the steps."""
        state = {
            r.project: dict(self.heads.get(r.project, {"master": sha(999)})) for r in req.repos
        }
        commits = {p: dict(b) for p, b in state.items()}
        files: dict[str, list[str]] = {}
        step_files = []
        for step in req.steps:
            branches = commits.setdefault(step.project, {"master": sha(999)})
            branches[step.branch] = sha(int(branches.get(step.branch, sha(0)), 16) + 7)
            files.setdefault(step.project, []).append(f"file-{step.number}.txt")
            step_files.append([f"file-{step.number}.txt"])
        return MergeResult(
            ok=True, repo_state=state, commits=commits, files=files, step_files=step_files
        )

    def run_merger(self) -> None:
        for req in self.merges.values():
            if req.state is not MergeState.COMPLETED:
                rule = self.merge_result or self.default_merge
                req.result = rule(req)
                req.state = MergeState.COMPLETED
                self.merged[req.uuid] += 1

    def crash_after(self, effects: int) -> None:
        self.crash_countdown = effects

    def _tick_crash(self) -> None:
        if self.crash_countdown is None:
            return
        if self.crash_countdown <= 0:
            self.crash_countdown = None
            self.crashes += 1
            self.prepared.clear()  # the scheduler's memory is gone
            self.submits.clear()
            raise Crash()
        self.crash_countdown -= 1

    def load(self, pipeline: str) -> tuple[PipelineState, dict[str, QueueItem]]:
        stored = self.saved.get(pipeline)
        if stored is None:
            return PipelineState(tenant=self.tenant, pipeline=pipeline), {}
        state, items = stored
        if not self.persist:
            return state, items
        # Stored as JSON text, as in ZooKeeper: nothing is shared with what
        # the decision core changes in memory.
        return (
            PipelineState.from_dict(json.loads(state)),
            {u: QueueItem.from_dict(json.loads(d)) for u, d in items.items()},
        )

    def snapshot(self, pipeline: str) -> PipelineSnapshot:
        state, items = self.load(pipeline)
        # Results of preparing are handed to one decision, as the loop does.
        prepared, self.prepared = self.prepared, {}
        provided, self.provided = self.provided, {}
        submits, self.submits = self.submits, {}
        return PipelineSnapshot(
            tenant=self.tenant,
            pipeline_name=pipeline,
            pipeline=self.layout.pipelines.get(pipeline) if self.layout else None,
            layout=self.layout,
            state=state,
            items=items,
            events=list(self.pending.get(pipeline, [])),
            node_requests={k: v for k, v in self.node_requests.items() if v.pipeline == pipeline},
            builds={
                u: ObservedBuild(
                    b,
                    locked=u in self.build_locks,
                    lost=b.state is BuildState.RUNNING and u not in self.build_locks,
                )
                for u, b in self.builds.items()
                if b.pipeline == pipeline
            },
            prepared=prepared,
            provided=provided,
            merges={u: self._outcome(m) for u, m in self.merges.items() if m.pipeline == pipeline},
            speculative=dict(self.speculative),
            dequeues=list(self.dequeues),
            submits=submits,
            promotes=list(self.promotes),
            semaphores=self._semaphore_states(),
            layout_uuid="layout-1",
            now=self.now,
        )

    def _outcome(self, req: MergeRequest) -> MergeOutcome:
        result = req.result
        return MergeOutcome(
            uuid=req.uuid,
            item_uuid=req.item_uuid,
            done=result is not None,
            ok=bool(result and result.ok),
            conflict=result.conflict if result else None,
            error=result.error if result else None,
            repo_state=dict(result.repo_state) if result else {},
            commits=dict(result.commits) if result else {},
            files=dict(result.files) if result else {},
            step_files=[list(f) for f in result.step_files] if result else [],
            repos={
                r.project: ProjectRepo(
                    connection=r.connection,
                    project=r.project,
                    canonical_name=f"review.example.org/{r.project}",
                    canonical_hostname="review.example.org",
                    url=f"ssh://review.example.org/{r.project}",
                )
                for r in req.repos
            },
        )

    def run_scheduler(self, pipeline: str = "post", rounds: int = 20) -> list[Decision]:
        """Decide and apply until nothing changes (as the loop does)."""
        decisions = []
        for _ in range(rounds):
            snap = self.snapshot(pipeline)
            decision = decide(snap)
            events = len(snap.events)
            apply_decision(decision, self)
            # The loop acknowledges events once the state is saved.
            del self.pending.get(pipeline, [])[:events]
            self.dequeues.clear()
            self.promotes.clear()
            decisions.append(decision)
            if not decision.has_work:
                break
        return decisions

    def run_launcher(self) -> None:
        for req in self.node_requests.values():
            if req.state is NodeRequestState.REQUESTED:
                if self.node_result(req):
                    req.state = NodeRequestState.FULFILLED
                    req.node_ids = [f"n{next(self._ids)}" for _ in req.labels]
                    req.provider = "sim"
                else:
                    req.state = NodeRequestState.FAILED
                    req.failure_reason = "no quota"

    def run_executor(self, finish: bool = True) -> None:
        for uuid, req in self.builds.items():
            if req.cancel_requested and req.state is not BuildState.COMPLETED:
                req.state, req.result, req.end_time = BuildState.COMPLETED, "ABORTED", self.now
                self.build_locks.discard(uuid)
            elif req.state is BuildState.REQUESTED:
                self.build_locks.add(uuid)
                req.state, req.start_time, req.worker = BuildState.RUNNING, self.now, "sim-exec"
                self.executed[uuid] += 1
            elif req.state is BuildState.RUNNING and req.paused:
                if req.resume_requested:
                    req.paused = req.resume_requested = False
                    self.resumed.add(uuid)
            elif (
                req.state is BuildState.RUNNING
                and uuid in self.build_locks
                and uuid not in self.resumed
                and self.pause(req)
            ):
                req.paused, req.result_data = True, self.build_data(req)
            elif (
                req.state is BuildState.RUNNING
                and finish
                and uuid in self.build_locks
                and not self.hold(req)
            ):
                req.result_data = self.build_data(req)
                req.state, req.result, req.end_time = (
                    BuildState.COMPLETED,
                    self.build_result(req),
                    self.now,
                )
                req.log_url = f"https://logs.example/{uuid}/"
                self.build_locks.discard(uuid)

    def kill_executor(self, uuid: str) -> None:
        """The executor of ``uuid`` died: its lock is gone, the request stays RUNNING."""
        self.build_locks.discard(uuid)

    def step(self, pipeline: str = "post") -> None:
        self.run_scheduler(pipeline)
        self.run_merger()
        self.run_launcher()
        self.run_executor()
        self.now += 1.0

    def queue(self, pipeline: str = "post") -> list[QueueItem]:
        state, items = self.load(pipeline)
        return [items[u] for u in state.item_uuids()]

    # --- Effects ----------------------------------------------------------------------

    def log(self, action: Log) -> None:
        prefix = f"[e: {action.event_id}] " if action.event_id else ""
        self.logs.append(prefix + action.message)

    def buildset_started(self, action: BuildsetStarted) -> None:
        self._tick_crash()
        row = self.sql_buildsets.setdefault(action.item.buildset_uuid, {})
        row.update(
            pipeline=action.item.pipeline,
            project=action.item.project,
            event_id=action.item.event_id,
        )

    def build_changed(self, action: BuildChanged) -> None:
        self._tick_crash()
        if action.create:
            self.sql_builds.setdefault(
                action.uuid, {"buildset": action.item.buildset_uuid, "job": action.job_name}
            )
        row = self.sql_builds[action.uuid]  # KeyError: an update before the create
        for key in ("result", "start_time", "end_time", "log_url", "error_detail", "final"):
            value = getattr(action, key)
            if value is not None:
                row[key] = value
        for key in ("artifacts", "provides"):
            if getattr(action, key) is not None:
                row[key] = list(getattr(action, key))
        if action.event:
            row.setdefault("events", []).append(action.event)

    def item_reported(self, action: ItemReported) -> None:
        self._tick_crash()
        self.sql_buildsets.setdefault(action.item.buildset_uuid, {})["result"] = action.result
        self.sql_buildsets[action.item.buildset_uuid]["message"] = action.message
        self.reports.append((action.item.uuid, action.result))
        if action.item.change is not None:
            self.item_changes[action.item.uuid] = action.item.change.describe()
            self.review_reports.append(
                (
                    action.item.uuid,
                    action.action,
                    action.message,
                    dict(action.reporters),
                    dict(action.comments),
                )
            )

    def item_started(self, action: ItemStarted) -> None:
        self._tick_crash()
        if action.item.change is not None:
            self.item_changes[action.item.uuid] = action.item.change.describe()
        self.review_reports.append(
            (action.item.uuid, "start", action.message, dict(action.reporters), {})
        )

    def submit_merge_request(self, action: SubmitMergeRequest) -> None:
        self._tick_crash()
        req = MergeRequest.from_dict(action.request.to_dict())
        if req.uuid not in self.merges:
            self.merges[req.uuid] = req
            self.merge_log.append(req)

    def submit_item(self, action: SubmitItem) -> None:
        """The review system: the vote, then each change merged unless it is
        merged already (a submit asked again after a crash merges nothing
        twice) or ``submit_rule`` refuses it."""
        self._tick_crash()
        if action.item.change is not None:
            self.item_changes[action.item.uuid] = action.item.change.describe()
        self.review_reports.append(
            (action.item.uuid, "success", action.message, dict(action.reporters), action.comments)
        )
        submit = any(
            isinstance(cfg, dict) and cfg.get("submit") for cfg in action.reporters.values()
        )
        refused = ""
        for change in action.changes:
            key = str(change.key)
            if self.merged_changes[key]:
                continue
            why = self.submit_rule(change) if submit else "no reporter submits it"
            if why:
                refused = f"{change.describe()}: {why}"
                break
            self.merged_changes[key] += 1
            self.merge_order.append(key)
            self._tick_crash()
        self.submits[action.item.uuid] = SubmitOutcome(
            action.item.uuid, merged=not refused, detail=refused
        )

    def delete_merge_request(self, action: DeleteMergeRequest) -> None:
        self._tick_crash()
        self.merges.pop(action.uuid, None)

    def save(self, decision: Decision) -> None:
        self._tick_crash()
        state: Any = decision.state
        pipeline = state.pipeline
        _, stored = self.saved.get(pipeline, (None, {}))
        stored = dict(stored)
        if self.persist:
            # The scheduler keeps the items it did not write between passes
            # (``lockgate.zk.pipelines.ItemCache``): a decision that changes
            # an item must say so, or memory and ZooKeeper part ways.
            for uuid, item in decision.items.items():
                if uuid in decision.changed or uuid in decision.removed or uuid not in stored:
                    continue
                if json.dumps(item.to_dict()) != stored[uuid]:
                    raise AssertionError(
                        f"item {uuid} was changed by the decision but not marked changed"
                    )
        for uuid in decision.changed:
            item = decision.items[uuid]
            stored[uuid] = json.dumps(item.to_dict()) if self.persist else item
        for uuid in decision.removed:
            stored.pop(uuid, None)
        self.saved[pipeline] = (json.dumps(state.to_dict()) if self.persist else state, stored)

    def prepare_item(self, action: PrepareItem) -> None:
        self._tick_crash()
        repos = {}
        for connection, project in action.projects:
            repos[project] = ProjectRepo(
                connection=connection,
                project=project,
                canonical_name=f"git.example.org/{project}",
                canonical_hostname="git.example.org",
                url=f"git://git.example.org/{project}",
                heads=dict(self.heads.get(project, {"master": sha(999)})),
            )
        self.prepared[action.item_uuid] = PrepareResult(repos=repos)

    def submit_node_request(self, action: SubmitNodeRequest) -> None:
        self._tick_crash()
        req = NodeRequest.from_dict(action.request.to_dict()) if self.persist else action.request
        req.id = f"{next(self._ids):010d}"
        self.node_requests[req.id] = req

    def submit_build_request(self, action: SubmitBuildRequest) -> None:
        self._tick_crash()
        req = action.request
        self.submissions[req.uuid] += 1
        if req.uuid in self.builds:
            raise AssertionError(f"build request {req.uuid} submitted twice")
        self.build_log.append(req)
        # Persisting: a copy, as ZooKeeper would hold; fast mode keeps the object.
        self.builds[req.uuid] = BuildRequest.from_dict(req.to_dict()) if self.persist else req

    def cancel_build_request(self, action: CancelBuildRequest) -> None:
        self._tick_crash()
        if action.uuid in self.builds:
            self.builds[action.uuid].cancel_requested = True

    def resume_build_request(self, action: ResumeBuildRequest) -> None:
        self._tick_crash()
        req = self.builds.get(action.uuid)
        if req is not None:
            req.resume_requested = True

    def lookup_provides(self, action: LookupProvides) -> None:
        self._tick_crash()
        self.lookups.append(action)
        answer = self.history(action) if self.history else ProvidedArtifacts()
        self.provided[(action.item_uuid, action.job_name)] = answer

    def delete_build_request(self, action: DeleteBuildRequest) -> None:
        self._tick_crash()
        self.builds.pop(action.uuid, None)
        self.build_locks.discard(action.uuid)

    def _semaphore_states(self) -> dict[str, SemaphoreState]:
        defined = self.layout.semaphores if self.layout is not None else {}
        return {
            name: SemaphoreState(
                max=defined[name].max if name in defined else 1,
                holders=tuple(self.semaphores.get(name, ())),
            )
            for name in sorted(set(defined) | set(self.semaphores))
        }

    def acquire_semaphore(self, action: AcquireSemaphore) -> None:
        self._tick_crash()
        holders = self.semaphores.setdefault(action.name, [])
        if action.holder not in holders and len(holders) < action.max:
            holders.append(action.holder)
        self.semaphore_peak[action.name] = max(self.semaphore_peak[action.name], len(holders))

    def release_semaphore(self, action: ReleaseSemaphore) -> None:
        self._tick_crash()
        holders = self.semaphores.get(action.name, [])
        if action.holder in holders:
            holders.remove(action.holder)

    def delete_node_request(self, action: DeleteNodeRequest) -> None:
        self._tick_crash()
        self.node_requests.pop(action.request_id, None)
