"""What the decision core sees: one pipeline's state and the world around it.

The scheduler's loop (``lockgate.scheduler.processor``) loads a
``PipelineSnapshot`` from ZooKeeper — the pipeline's state and items, the
trigger events matched to it, the node and build requests of its buildsets —
and hands it to ``lockgate.scheduler.manager.decide``.  Tests and the
simulation build snapshots by hand.  Nothing here does I/O; ``now`` is given
so that decisions are reproducible (a fake clock), and every id the core
makes is derived from ids it was given (event, item, buildset, attempt), so
a decision made again after a crash names the same things.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lockgate.config.layout_model import Layout
from lockgate.config.model import Pipeline
from lockgate.model.builds import BuildRequest
from lockgate.model.change import Change, ChangeKey
from lockgate.model.events import TriggerEvent
from lockgate.model.nodes import NodeRequest
from lockgate.model.queue import PipelineState, ProjectRepo, QueueItem


@dataclass(frozen=True)
class Target:
    """One item an event asks for: a project at a ref, in one pipeline.

    ``matching.match_event`` produces these; ``project`` is the tenant's name
    for the project.  A timer tick has no revisions (``newrev`` None): the
    branch head is resolved when the item is prepared.
    """

    pipeline: str
    project: str
    connection: str
    ref: str
    branch: str | None = None
    oldrev: str | None = None
    newrev: str | None = None


@dataclass(frozen=True)
class PipelineEvent:
    """A trigger event matched to this pipeline, with what the loop learnt
    about it: the files it changes (None when unknown); for a change, every
    change it is tested with in merge order (itself last), and why it cannot
    be enqueued (a needed change abandoned or unknown, a query failed)."""

    event: TriggerEvent
    target: Target
    changed_files: tuple[str, ...] | None = None
    changes: tuple[Change, ...] = ()
    not_ready: str | None = None
    # Dependency cycles among ``changes`` (each a tuple of change keys): a
    # dependent pipeline enqueues each cycle as one item.
    cycles: tuple[tuple[ChangeKey, ...], ...] = ()
    # Needed changes that do not meet the pipeline's requirements, with why
    # (a dependent pipeline enqueues a change only behind needed changes
    # that could be enqueued themselves).
    unmet: tuple[tuple[ChangeKey, str], ...] = ()

    @property
    def change(self) -> Change | None:
        return self.changes[-1] if self.changes else None


@dataclass(frozen=True)
class ChangeDequeue:
    """Something happened to a change that removes its items from
    pipelines, whatever their triggers:

    - a new patchset: items of older patchsets leave (``new_patchset``,
      ``below_patchset``), if the pipeline dequeues on new patchsets;
    - an abandon: every item the change is in leaves;
    - the change at ``patchset``, as just learnt, no longer meets a
      pipeline's requirements, or entered a pipeline that ``supercedes``
      this one: only the items *of* that change at that patchset leave (a
      dependent pipeline's cycle item with it), not items merely tested
      with it.

    ``pipelines`` names the pipelines it is for (empty: every pipeline);
    ``report`` False: the items leave without a report to the review
    system (superseded: another pipeline has the change now)."""

    key: ChangeKey
    reason: str
    below_patchset: int | None = None  # None: every patchset
    new_patchset: bool = False
    event_id: str = ""
    pipelines: tuple[str, ...] = ()
    patchset: int | None = None
    report: bool = True
    # A pull request's new head sha: its other heads leave, even one whose
    # ``patchset`` (the head commit's time, whole seconds) is the same.
    patchset_id: str = ""
    # An admin's dequeue of a ref (not a change): the items of ``project``
    # at ``ref`` leave (``key`` is then unused).
    ref: str = ""
    project: str = ""

    def applies_to(self, pipeline: str) -> bool:
        return not self.pipelines or pipeline in self.pipelines


@dataclass(frozen=True)
class ObservedBuild:
    """A build request as read, and whether an executor holds its lock.

    ``lost`` is the loop's double-checked verdict that the request is
    RUNNING but nobody holds its lock: its executor died mid-build.
    """

    request: BuildRequest
    locked: bool = False
    lost: bool = False


@dataclass(frozen=True)
class PrepareResult:
    """What preparing an item produced: its repositories' state, or an error."""

    repos: dict[str, ProjectRepo] | None = None
    error: str | None = None


@dataclass(frozen=True)
class ProvidedArtifacts:
    """What the build history holds for a job's ``requires``: the artifacts of
    the providing builds (marked with project, change, patchset and job), or
    ``error`` when a providing build did not succeed."""

    artifacts: tuple[dict[str, Any], ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class MergeOutcome:
    """A change item's merge request as the loop read it.  ``done`` once the
    merger answered; then ``ok``, or a ``conflict`` or ``error`` message.
    ``repos`` are the item's repositories as the loop knows them (URL,
    canonical names; heads empty): the answer's heads go into them."""

    uuid: str
    item_uuid: str = ""
    done: bool = False
    ok: bool = False
    conflict: str | None = None
    error: str | None = None
    repo_state: dict[str, dict[str, str]] = field(default_factory=dict)
    commits: dict[str, dict[str, str]] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    repos: dict[str, ProjectRepo] = field(default_factory=dict)
    # Per step of the request: the files it changed (``MergeResult.step_files``);
    # a gate item's file matchers see only its own steps' files.
    step_files: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class SubmitOutcome:
    """What became of a gate item's submit (``SubmitItem``): ``merged`` when
    every change of the item is merged (by this submit or an earlier one),
    else ``detail`` says what the review system refused."""

    item_uuid: str
    merged: bool
    detail: str = ""


@dataclass(frozen=True)
class SemaphoreState:
    """One of the tenant's semaphores as ZooKeeper holds it: who has a slot
    (holders from every pipeline of the tenant) and how many slots there are."""

    max: int = 1
    holders: tuple[str, ...] = ()


@dataclass(frozen=True)
class Promote:
    """An admin's promote (Zuul's ``zuul-client promote``): the items of
    ``changes`` move to the head of their dependent queue, in this order;
    everything behind restarts."""

    changes: tuple[ChangeKey, ...]
    event_id: str = ""


@dataclass(frozen=True)
class Speculation:
    """A change item's configuration, as the loop built it from the merged
    files: ``layout`` to freeze its jobs with (None: the tenant's), the
    layout before the change (for ``match-on-config-updates``), and the
    errors it introduces — formatted, and as file comments."""

    layout: Layout | None = None
    previous_layout: Layout | None = None
    errors: tuple[str, ...] = ()
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class PipelineSnapshot:
    """Everything ``decide`` needs for one pipeline of one tenant.

    ``pipeline`` and ``layout`` are None when the pipeline is gone from the
    tenant's layout (its items are then dequeued).  ``node_requests`` and
    ``builds`` hold only this pipeline's requests (by their ``tenant`` and
    ``pipeline`` fields).  ``decide`` takes ownership of ``state`` and
    ``items`` and changes them in place.
    """

    tenant: str
    pipeline_name: str
    pipeline: Pipeline | None
    layout: Layout | None
    state: PipelineState
    items: dict[str, QueueItem] = field(default_factory=dict)
    events: list[PipelineEvent] = field(default_factory=list)
    node_requests: dict[str, NodeRequest] = field(default_factory=dict)
    builds: dict[str, ObservedBuild] = field(default_factory=dict)
    prepared: dict[str, PrepareResult] = field(default_factory=dict)
    # Answers to ``LookupProvides``, by (item uuid, job name).
    provided: dict[tuple[str, str], ProvidedArtifacts] = field(default_factory=dict)
    # Merge requests of this pipeline's items, by request uuid.
    merges: dict[str, MergeOutcome] = field(default_factory=dict)
    # Items whose merged state changes configuration: the layout they run
    # with, or the errors they introduce (``Speculation``), by item uuid.
    speculative: dict[str, Speculation] = field(default_factory=dict)
    dequeues: list[ChangeDequeue] = field(default_factory=list)
    # Gate items' submits done since the last decision, by item uuid.
    submits: dict[str, SubmitOutcome] = field(default_factory=dict)
    promotes: list[Promote] = field(default_factory=list)
    # The tenant's semaphores that have holders or that the layout defines.
    semaphores: dict[str, SemaphoreState] = field(default_factory=dict)
    # The zones the registered executors serve ("default" for unzoned ones
    # and zoned ones with ``allow_unzoned``: ``lockgate.model.zones``);
    # None: not known, a node request's zone is trusted (``zones.py``).
    executor_zones: frozenset[str] | None = None
    layout_uuid: str | None = None
    now: float = 0.0
