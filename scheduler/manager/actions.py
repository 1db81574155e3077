"""What the decision core asks the loop to do, and when.

``decide`` never performs I/O; it returns a ``Decision``: the new pipeline
state and items, plus a list of actions.  The loop (or the simulation)
applies them in three steps, and that order is what makes a scheduler
killed at any instant safe to restart (see doc/scheduler.md):

1. ``BEFORE_SAVE`` actions: log lines and SQL writes.  Each is idempotent
   (SQL upserts by uuid), and describes a state change the save below makes
   durable: if the process dies before the save, the next scheduler decides
   the same change again and writes the same rows again.
2. The save: changed items, then the pipeline state, then removed items'
   records are deleted.  Every id a later action uses (build uuid, item
   uuid) is in the saved state *before* the action runs.
3. ``AFTER_SAVE`` actions: ZooKeeper requests (submit, cancel, delete) and
   item preparation.  A submission that never happened (killed before it)
   is found missing by the next decision and made again, under the same
   uuid; a node request submitted but not yet recorded is *adopted* by its
   buildset and job name; a request nobody references is deleted.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.builds import BuildRequest, BuildResult, BuildsetResult
from lockgate.model.nodes import NodeRequest
from lockgate.model.queue import QueueItem


class Phase(enum.Enum):
    BEFORE_SAVE = "before-save"
    AFTER_SAVE = "after-save"


@dataclass(frozen=True)
class Action:
    phase = Phase.AFTER_SAVE


# --- before the save ---------------------------------------------------------------


@dataclass(frozen=True)
class Log(Action):
    """A log line; ``tags`` become ``[key: value]`` after the event id."""

    phase = Phase.BEFORE_SAVE
    level: int
    message: str
    event_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BuildsetStarted(Action):
    """Record the item's buildset in SQL (its ref, event, pipeline)."""

    phase = Phase.BEFORE_SAVE
    item: QueueItem


@dataclass(frozen=True)
class BuildChanged(Action):
    """Record a build (one attempt of a job) in SQL: created when first
    requested (``create``), then what became known (start, result...)."""

    phase = Phase.BEFORE_SAVE
    item: QueueItem
    job_name: str
    uuid: str
    create: bool = False
    voting: bool = True
    nodeset: str | None = None
    result: BuildResult | None = None
    start_time: float | None = None
    end_time: float | None = None
    log_url: str | None = None
    error_detail: str | None = None
    final: bool | None = None
    # At the end: what it returned (``zuul.artifacts``) and what its job
    # provides; ``event``: a build event to record (``PAUSED``, ``RESUMED``).
    artifacts: tuple[dict[str, Any], ...] | None = None
    provides: tuple[str, ...] | None = None
    event: str | None = None
    event_time: float | None = None


@dataclass(frozen=True)
class ItemReported(Action):
    """The item is done: record the buildset's result in SQL, log the report
    and send it to the pipeline's reporters for ``action`` (``success``,
    ``failure``, ``merge-conflict``, ``config-error``, ``no-jobs``,
    ``dequeue``): ``reporters`` maps a connection to its reporter config
    (``{"Verified": 1, "submit": True}``), ``comments`` are file comments
    (config errors at file:line).

    Before the save: a report sent and then lost to a crash is sent again
    (a vote twice is harmless; a vote never sent is not)."""

    phase = Phase.BEFORE_SAVE
    item: QueueItem
    result: BuildsetResult
    message: str
    # (job name, its result: None if it never ran) for the log line.
    jobs: tuple[tuple[str, BuildResult | None], ...] = ()
    action: str = ""
    reporters: dict[str, Any] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemStarted(Action):
    """Jobs are about to run for the item: the pipeline's ``start`` reporters
    are told (``Starting check jobs.``)."""

    phase = Phase.BEFORE_SAVE
    item: QueueItem
    message: str
    reporters: dict[str, Any] = field(default_factory=dict)


# --- after the save ------------------------------------------------------------------


@dataclass(frozen=True)
class PrepareItem(Action):
    """Resolve the repositories an item's builds use (branches, heads, URLs);
    the result comes back in the next snapshot's ``prepared``."""

    item_uuid: str
    event_id: str
    projects: tuple[tuple[str, str], ...]  # (connection, project)


@dataclass(frozen=True)
class LookupProvides(Action):
    """Find in the build history of ``pipeline`` the newest builds of
    ``changes`` (the first that has any) whose jobs provide one of
    ``requires``; the answer (``ProvidedArtifacts``) comes back in the next
    snapshot's ``provided`` under (item uuid, job name)."""

    item_uuid: str
    job_name: str
    tenant: str
    pipeline: str
    requires: tuple[str, ...]
    changes: tuple[Any, ...]  # lockgate.model.change.Change


@dataclass(frozen=True)
class SubmitMergeRequest(Action):
    """Ask the mergers for a change item's speculative state; the answer
    comes back in a later snapshot's ``merges``."""

    request: Any  # lockgate.model.merges.MergeRequest


@dataclass(frozen=True)
class SubmitItem(Action):
    """Merge a gate item's changes: post ``message`` with the votes of
    ``reporters`` (the pipeline's ``success`` reporters, ``submit: true``),
    then submit each of ``changes`` in order.  The outcome comes back in the
    next snapshot's ``submits`` (``SubmitOutcome``).

    After the save (the item is recorded PENDING first).  Idempotent: a
    change already merged is not submitted again, so a scheduler killed
    after the submit and before learning its outcome submits nothing twice
    when it asks again."""

    item: QueueItem
    changes: tuple[Any, ...]  # lockgate.model.change.Change, merge order
    message: str
    reporters: dict[str, Any] = field(default_factory=dict)
    # File comments the item's builds returned (``zuul.file_comments``).
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class DeleteMergeRequest(Action):
    uuid: str
    event_id: str | None = None


@dataclass(frozen=True)
class SubmitNodeRequest(Action):
    request: NodeRequest


@dataclass(frozen=True)
class SubmitBuildRequest(Action):
    request: BuildRequest


@dataclass(frozen=True)
class CancelBuildRequest(Action):
    zone: str
    uuid: str
    event_id: str | None = None


@dataclass(frozen=True)
class ResumeBuildRequest(Action):
    """A paused build may go on (every job depending on it is done): set
    ``resume_requested`` on its request."""

    zone: str
    uuid: str
    event_id: str | None = None


@dataclass(frozen=True)
class DeleteBuildRequest(Action):
    zone: str
    uuid: str
    event_id: str | None = None


@dataclass(frozen=True)
class DeleteNodeRequest(Action):
    request_id: str
    event_id: str | None = None


@dataclass(frozen=True)
class AcquireSemaphore(Action):
    """Take a slot of the tenant's semaphore ``name`` for ``holder`` (a
    job of an item: ``lockgate.scheduler.manager.semaphores.holder``).
    Idempotent: a holder that already has a slot keeps it.  Emitted before
    the job's node or build request, so a crash in between finds the slot
    held by the job that is about to use it."""

    name: str
    holder: str
    max: int
    event_id: str | None = None


@dataclass(frozen=True)
class ReleaseSemaphore(Action):
    """Free ``holder``'s slot of semaphore ``name`` (no-op if it has none)."""

    name: str
    holder: str
    event_id: str | None = None


@dataclass
class Decision:
    """The outcome of one ``decide``: the new state and what to do.

    ``changed`` items are saved, ``removed`` items deleted; ``state_changed``
    says whether the pipeline record itself must be written.
    """

    state: object  # lockgate.model.queue.PipelineState
    items: dict[str, QueueItem]
    changed: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    state_changed: bool = False
    actions: list[Action] = field(default_factory=list)

    def before_save(self) -> list[Action]:
        return [a for a in self.actions if a.phase is Phase.BEFORE_SAVE]

    def after_save(self) -> list[Action]:
        return [a for a in self.actions if a.phase is Phase.AFTER_SAVE]

    @property
    def dirty(self) -> bool:
        return bool(self.changed or self.removed or self.state_changed)

    @property
    def has_work(self) -> bool:
        """Whether applying this decision may change what the next one sees."""
        return self.dirty or bool(self.after_save())

    def logs(self, level: int = logging.DEBUG) -> list[str]:
        """Log messages at ``level`` or above (tests read these)."""
        return [a.message for a in self.actions if isinstance(a, Log) and a.level >= level]
