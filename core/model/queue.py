"""Pipeline state: change queues, queue items, their buildsets and jobs.

This is the runtime state of a pipeline (Zuul's ``PipelineState``,
``ChangeQueue``, ``QueueItem``, ``BuildSet``, ``Build``), kept in ZooKeeper
so that any scheduler can pick up where another left off:

- one ``PipelineState`` per pipeline (``lockgate.zk.paths.pipeline_state``):
  the change queues and the order of their items, plus the ids of the
  events already turned into items (so a replayed event is not enqueued
  twice);
- one ``QueueItem`` per item (``lockgate.zk.paths.pipeline_item``): what
  is tested (project, ref, revisions), the frozen jobs and the state of
  each (``JobState``), the repository state the builds use.

Who writes: the scheduler holding the tenant's lock (``lockgate.scheduler``;
its pure decision core changes these records, its loop saves them).  Who
reads: the scheduler, and the web for ``/api/tenant/{t}/status`` through
``status_json`` below — so the web never imports the scheduler.

State transitions, written once here:

``ItemState``: PREPARING (repository state being resolved) -> ACTIVE (jobs
run) -> COMPLETED (reported; removed from the queue right after).

``JobStatus``: WAITING -> NODES_REQUESTED -> BUILD_REQUESTED -> COMPLETED
(a build that pauses stays BUILD_REQUESTED, ``paused``, until it completes);
WAITING -> BUILD_REQUESTED for a job without nodes; WAITING -> COMPLETED
for a skipped job and the built-in ``noop``; a retry goes from
BUILD_REQUESTED back to NODES_REQUESTED (or BUILD_REQUESTED) with the next
attempt.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.builds import BuildResult, BuildsetResult
from lockgate.model.change import Change
from lockgate.model.jobs import FrozenJob
from lockgate.model.merges import MergeStep
from lockgate.model.serial import from_dict, to_dict
from lockgate.model.tenant_state import TenantLayoutState


class ItemState(enum.StrEnum):
    PREPARING = "preparing"
    ACTIVE = "active"
    COMPLETED = "completed"


class SubmitState(enum.StrEnum):
    """A gate item's merge (dependent pipelines): PENDING once the decision
    core asked the loop to submit it; MERGED or REFUSED when the loop's
    answer came back (``PipelineSnapshot.submits``)."""

    PENDING = "pending"
    MERGED = "merged"
    REFUSED = "refused"


class JobStatus(enum.StrEnum):
    WAITING = "waiting"
    NODES_REQUESTED = "nodes-requested"
    BUILD_REQUESTED = "build-requested"
    COMPLETED = "completed"


@dataclass
class BuildAttempt:
    """An earlier attempt of a job (retried), kept for the status page and SQL."""

    uuid: str
    attempt: int
    result: BuildResult
    start_time: float | None = None
    end_time: float | None = None
    log_url: str | None = None
    error_detail: str | None = None

    def __post_init__(self) -> None:
        self.result = BuildResult(self.result)


@dataclass
class JobState:
    """One frozen job of an item and where its build is."""

    name: str
    job: FrozenJob
    status: JobStatus = JobStatus.WAITING
    # Jobs of the same item that must succeed first (the job graph's edges).
    dependencies: list[str] = field(default_factory=list)
    attempt: int = 0  # the current attempt, 1-based once a build was requested
    node_request_id: str | None = None
    node_ids: list[str] = field(default_factory=list)
    # Node requests of earlier attempts, to be deleted (never adopted again).
    released_node_requests: list[str] = field(default_factory=list)
    build_uuid: str | None = None
    zone: str = "default"
    requested_time: float | None = None  # when the current build was requested
    start_time: float | None = None
    end_time: float | None = None
    result: BuildResult | None = None
    error_detail: str | None = None
    log_url: str | None = None
    worker: str | None = None
    retries: list[BuildAttempt] = field(default_factory=list)
    # Why a job that could start does not (e.g. "semaphore db"), for the status.
    waiting_for: str | None = None
    # What the build returned (``zuul_return``), recorded when the executor
    # reports it paused or completed (``lockgate.scheduler.manager.returned``):
    # ``paused`` while it waits for the jobs that depend on it.
    paused: bool = False
    result_data: dict[str, Any] = field(default_factory=dict)
    secret_result_data: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # ``requires``: the artifacts of the builds that provide them, fixed when
    # the job starts (``lockgate.scheduler.manager.provides``).
    requirement_artifacts: list[dict[str, Any]] | None = None
    # Attempts of builds that were reset (their paused parent was retried):
    # not counted against the job's ``attempts``; ``attempt`` keeps counting
    # so every build has its own uuid.
    reset_attempts: int = 0

    def __post_init__(self) -> None:
        self.status = JobStatus(self.status)
        if self.result is not None:
            self.result = BuildResult(self.result)
        if isinstance(self.job, dict):
            self.job = FrozenJob.from_dict(self.job)
        self.retries = [
            r if isinstance(r, BuildAttempt) else BuildAttempt(**r) for r in self.retries
        ]

    @property
    def done(self) -> bool:
        return self.status is JobStatus.COMPLETED

    @property
    def tries(self) -> int:
        """The current attempt as the job's ``attempts`` counts it (1-based)."""
        return self.attempt - self.reset_attempts

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobState:
        return from_dict(cls, data)


@dataclass
class ProjectRepo:
    """What the scheduler resolved about one repository an item's builds use:
    where to clone it from, its canonical name, and the heads of its branches
    at the time the item was prepared (the item's repository state)."""

    connection: str
    project: str
    canonical_name: str
    canonical_hostname: str
    url: str
    heads: dict[str, str] = field(default_factory=dict)  # branch -> commit
    default_branch: str = "master"

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectRepo:
        return from_dict(cls, data)


@dataclass
class QueueItem:
    """One item of a pipeline: a project at a ref, tested by one buildset."""

    uuid: str
    tenant: str
    pipeline: str
    queue: str  # the change queue's name
    event_id: str
    event_type: str
    connection: str
    project: str  # the tenant's name for the project
    ref: str
    branch: str | None = None
    oldrev: str | None = None
    newrev: str | None = None
    changed_files: list[str] | None = None
    event_timestamp: float | None = None
    enqueue_time: float = field(default_factory=time.time)
    state: ItemState = ItemState.PREPARING
    buildset_uuid: str = ""
    jobs: list[JobState] = field(default_factory=list)
    # project name -> its repository state; filled while PREPARING.
    repos: dict[str, ProjectRepo] = field(default_factory=dict)
    prepare_attempts: int = 0
    prepare_error: str | None = None
    prepare_retry_at: float | None = None
    result: BuildsetResult | None = None
    report_time: float | None = None
    layout_uuid: str | None = None
    # A change item (Gerrit, GitHub): the change under test, and every change
    # it is tested with in merge order (its dependencies, then itself).
    change: Change | None = None
    changes: list[Change] = field(default_factory=list)
    # The merger's answer for a change item: the branch heads it started
    # from (fixed at enqueue) and the resulting commits, project -> branch -> sha.
    merge_request: str | None = None
    # The steps asked of the merger (URLs left to the loop), which builds replay.
    merge_steps: list[MergeStep] = field(default_factory=list)
    repo_state: dict[str, dict[str, str]] = field(default_factory=dict)
    merge_commits: dict[str, dict[str, str]] = field(default_factory=dict)
    # Dependent pipelines (``lockgate.scheduler.manager.dependent``): the item
    # whose speculative state this one is tested on (None: the branch heads),
    # the changes of that state (merged before ``changes``), the items this
    # one needs (its git parents and Depends-On, enqueued ahead of it), how
    # many times it restarted (each restart is a new buildset), a failure
    # found while merging or freezing that is reported once the item reaches
    # the head (``held_result``/``held_message``/``held_comments``), and its
    # submit.
    item_ahead: str | None = None
    changes_ahead: list[Change] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    resets: int = 0
    held_result: BuildsetResult | None = None
    held_message: str = ""
    held_comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    submit: SubmitState | None = None
    submit_detail: str | None = None

    def __post_init__(self) -> None:
        self.state = ItemState(self.state)
        if isinstance(self.change, dict):
            self.change = Change.from_dict(self.change)
        self.changes = [c if isinstance(c, Change) else Change.from_dict(c) for c in self.changes]
        self.changes_ahead = [
            c if isinstance(c, Change) else Change.from_dict(c) for c in self.changes_ahead
        ]
        if self.submit is not None:
            self.submit = SubmitState(self.submit)
        if self.result is not None:
            self.result = BuildsetResult(self.result)
        if self.held_result is not None:
            self.held_result = BuildsetResult(self.held_result)
        self.merge_steps = [
            s if isinstance(s, MergeStep) else MergeStep.from_dict(s) for s in self.merge_steps
        ]
        self.jobs = [j if isinstance(j, JobState) else JobState.from_dict(j) for j in self.jobs]
        self.repos = {
            k: v if isinstance(v, ProjectRepo) else ProjectRepo.from_dict(v)
            for k, v in self.repos.items()
        }

    @property
    def speculative_changes(self) -> list[Change]:
        """Every change of the state the item is tested on, in merge order:
        those of the items ahead, then its own (the merge request's steps
        and ``zuul.items``)."""
        return [*self.changes_ahead, *self.changes]

    def job(self, name: str) -> JobState | None:
        for js in self.jobs:
            if js.name == name:
                return js
        return None

    @property
    def change_id(self) -> str:
        """How Zuul shows an item: ``12345,3`` for a change; a ref item's new
        revision (or the ref, for a timer item)."""
        if self.change is not None:
            return self.change.describe()
        return self.newrev or self.ref

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueueItem:
        return from_dict(cls, data)


@dataclass
class ChangeQueue:
    """An ordered queue of items.  An independent pipeline gives every item
    a queue of its own (``dynamic``), as Zuul does; shared queues come with
    dependent pipelines."""

    name: str
    items: list[str] = field(default_factory=list)  # item uuids, head first
    dynamic: bool = True
    window: int = 0


@dataclass
class PipelineState:
    tenant: str
    pipeline: str
    queues: list[ChangeQueue] = field(default_factory=list)
    # item uuid -> when it was enqueued: items created from events, so that
    # an event replayed after a crash (processed but not acknowledged) does
    # not create its item again.  Pruned after ``SEEN_TTL`` seconds.
    seen: dict[str, float] = field(default_factory=dict)
    layout_uuid: str | None = None
    # ``disable-after-consecutive-failures``: failures reported in a row (a
    # success resets it) and whether the pipeline reports to its
    # ``disabled`` reporters only (until the pipeline state is recreated).
    consecutive_failures: int = 0
    disabled: bool = False

    def __post_init__(self) -> None:
        self.queues = [q if isinstance(q, ChangeQueue) else ChangeQueue(**q) for q in self.queues]

    def item_uuids(self) -> list[str]:
        return [uuid for q in self.queues for uuid in q.items]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineState:
        return from_dict(cls, data)


# An event is processed again only if its scheduler died between saving its
# items and acknowledging it: a day is ample.
SEEN_TTL = 24 * 3600.0


# ---------------------------------------------------------------------------
# Zuul's /api/tenant/{t}/status


# Makes an item's entry in the status: (item, the uuids of the items behind it) -> entry.
ItemJson = Callable[[QueueItem, list[str]], Any]


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def _job_json(item: QueueItem, js: JobState, now: float) -> dict[str, Any]:
    elapsed = None
    remaining = None
    if js.start_time is not None:
        end = js.end_time if js.end_time is not None else now
        elapsed = int((end - js.start_time) * 1000)
        if js.end_time is not None:
            remaining = 0
    has_build = js.build_uuid is not None
    return {
        "name": js.name,
        "dependencies": list(js.dependencies),
        "elapsed_time": elapsed,
        "remaining_time": remaining,
        "url": f"stream/{js.build_uuid}?logfile=console.log"
        if has_build and js.result is None
        else None,
        "finger_url": None,
        "report_url": js.log_url,
        "result": js.result,
        "voting": js.job.voting,
        "uuid": js.build_uuid,
        "execute_time": js.requested_time,
        "start_time": js.start_time,
        "end_time": js.end_time,
        "estimated_time": None,
        "pipeline": item.pipeline,
        "canceled": js.result == BuildResult.CANCELED,
        "retry": None,
        "tries": js.tries,
        "queued": js.status is JobStatus.BUILD_REQUESTED and js.start_time is None,
        "waiting_status": _waiting_status(js),
        "node_labels": [list(n.name) for n in js.job.nodes],
        "node_name": None,
        "worker": {"name": js.worker, "hostname": js.worker} if js.worker else None,
        "tags": list(js.job.tags),
        "paused": js.paused,
    }


def _waiting_status(js: JobState) -> str | None:
    if js.waiting_for is not None and js.status is not JobStatus.COMPLETED:
        return js.waiting_for
    if js.status is JobStatus.WAITING:
        if js.dependencies:
            return "dependencies: " + ", ".join(js.dependencies)
        if js.job.requires:
            return "requirements: " + ", ".join(js.job.requires)
        return "waiting"
    if js.status is JobStatus.NODES_REQUESTED:
        return f"node request: {js.node_request_id}" if js.node_request_id else "node request"
    if js.status is JobStatus.BUILD_REQUESTED and js.start_time is None:
        return "executor"
    return None


def item_status_json(item: QueueItem, now: float | None = None) -> dict[str, Any]:
    """One item in Zuul's status shape (with its ref in ``refs``, as Zuul 10
    has it, and the older top-level ``id``/``project``/``ref`` too)."""
    now = time.time() if now is None else now
    repo = item.repos.get(item.project)
    canonical = repo.canonical_name if repo else item.project
    ref = {
        "id": item.change_id,
        "ref": item.ref,
        "project": item.project,
        "project_canonical": canonical,
        "url": item.change.url if item.change else None,
        "owner": item.change.owner.to_dict() if item.change else None,
        "branch": item.branch,
        "oldrev": item.oldrev,
        "newrev": item.newrev,
    }
    jobs = [_job_json(item, js, now) for js in item.jobs]
    started = all(j.start_time is not None for j in item.jobs)
    remaining = [j["remaining_time"] for j in jobs if j["remaining_time"] is not None]
    return {
        "id": item.uuid,
        "refs": [ref],
        "project": item.project,
        "project_canonical": canonical,
        "ref": item.ref,
        "url": ref["url"],
        "owner": ref["owner"],
        "live": True,
        "active": item.state is not ItemState.PREPARING,
        # Dependent pipelines: the item whose speculative state this one is
        # tested on (set below: ``items_behind`` too).
        "item_ahead": item.item_ahead,
        "items_behind": [],
        "failing_reasons": [
            j.name
            for j in item.jobs
            if j.done
            and j.job.voting
            and j.result not in (BuildResult.SUCCESS, BuildResult.SKIPPED)
        ],
        "zuul_ref": f"Z{item.buildset_uuid}",
        "enqueue_time": _ms(item.enqueue_time),
        "remaining_time": max(remaining, default=0) if started and item.jobs else None,
        "jobs": jobs,
        "event_id": item.event_id,
        "state": item.state.value,
    }


def pipeline_status_json(
    name: str,
    state: PipelineState | None,
    items: Mapping[str, QueueItem],
    info: Mapping[str, Any] | None = None,
    now: float | None = None,
    item_json: ItemJson | None = None,
) -> dict[str, Any]:
    """One entry of the status ``pipelines`` list: its change queues with
    their heads (a head is the list of items that depend on each other).
    ``item_json(item, items_behind)`` makes an item's entry (by default
    ``item_status_json`` with ``items_behind`` filled in)."""
    info = dict(info or {})
    queues = []
    for q in state.queues if state else []:
        present = [items[u] for u in q.items if u in items]
        if not present:
            continue
        behind: dict[str, list[str]] = {}
        for item in present:
            if item.item_ahead:
                behind.setdefault(item.item_ahead, []).append(item.uuid)
        if item_json is None:
            heads = [[item_status_json(i, now) for i in present]]
            for shown in heads[0]:
                shown["items_behind"] = behind.get(shown["id"], [])
        else:
            heads = [[item_json(i, behind.get(i.uuid, [])) for i in present]]
        queues.append({"name": q.name, "heads": heads, "window": q.window})
    entry: dict[str, Any] = {
        "name": name,
        "description": info.pop("description", None) or "",
        "manager": info.pop("manager", None),
        "triggers": info.pop("triggers", []),
        "change_queues": queues,
        "trigger_events": 0,
        "result_events": 0,
        "management_events": 0,
    }
    for key, value in info.items():
        entry.setdefault(key, value)
    return entry


def status_json(
    layout: TenantLayoutState | None,
    pipelines: Mapping[str, tuple[PipelineState | None, Mapping[str, QueueItem]]],
    *,
    event_queue_lengths: Mapping[str, int] | None = None,
    now: float | None = None,
    version: str = "",
    item_json: ItemJson | None = None,
) -> dict[str, Any]:
    """Zuul's ``/api/tenant/{t}/status`` body.

    ``pipelines`` maps a pipeline name to its state and items as read from
    ZooKeeper (``lockgate.zk.pipelines.read_pipelines``); every pipeline of
    ``layout`` is listed, those without state with empty queues.
    ``item_json``: see ``pipeline_status_json`` (the web's status cache
    puts each item's entry in itself, encoded once per change of the item).
    """
    names: list[str] = list(layout.pipelines) if layout else []
    for name in pipelines:
        if name not in names:
            names.append(name)
    info = layout.pipeline_info if layout else {}
    lengths = dict(event_queue_lengths or {})
    return {
        "zuul_version": version,
        "last_reconfigured": _ms(layout.loaded_at) if layout else None,
        "trigger_event_queue": {"length": lengths.get("trigger", 0)},
        "management_event_queue": {"length": lengths.get("management", 0)},
        "result_event_queue": {"length": lengths.get("result", 0)},
        "pipelines": [
            pipeline_status_json(
                n, *pipelines.get(n, (None, {})), info=info.get(n), now=now, item_json=item_json
            )
            for n in names
        ],
    }


def ordered_items(state: PipelineState, items: Mapping[str, QueueItem]) -> Iterable[QueueItem]:
    """The items of ``state`` in queue order (those present in ``items``)."""
    for uuid in state.item_uuids():
        item = items.get(uuid)
        if item is not None:
            yield item
