"""Merge requests: the contract between the scheduler and the mergers.

The scheduler never runs git.  To test an item *as it will merge* it submits
a ``MergeRequest``: the changes to apply (``steps``, the item's dependencies
and the items ahead of it first), the repositories its builds use, and --
once known -- the branch heads it was enqueued against (``repo_state``).  A
merger (an executor's merge thread, or a ``lockgate merger`` process) locks
the request (the lock is the claim: a dead merger's ephemeral lock vanishes
and another merger serves it), sets RUNNING, applies the steps with
``lockgate.git.merger`` and stores a ``MergeResult``, sets COMPLETED and puts
a ``merge-completed`` result event.

The result lets the scheduler build speculative layouts (``config``), match
file matchers (``files``, ``step_files``) and give each build the exact
speculative state (``lockgate.model.builds.speculative_repo_state``): merges
are deterministic, so an executor replaying the same steps from the same
heads makes the same commits, and checks that it did.

States: REQUESTED -> RUNNING -> COMPLETED.  A RUNNING request nobody holds a
lock on is served again by the next merger that sees it (merging is
idempotent).  The scheduler deletes a request once it has read the result.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.serial import from_dict, to_dict

# Zuul's merge modes (a project's ``merge-mode``), with what each runs:
# merge: ``git merge --no-ff``; merge-resolve: the same with ``-s resolve``;
# cherry-pick: ``git cherry-pick``; squash-merge: ``git merge --squash`` and a
# commit with the change's message and author; rebase: the change rebased
# onto the branch, then fast-forwarded.
MERGE_MODES: tuple[str, ...] = ("merge", "merge-resolve", "cherry-pick", "squash-merge", "rebase")
DEFAULT_MERGE_MODE = "merge-resolve"

# What a merger reads when the scheduler does not say: the configuration
# roots of ``lockgate.config.discovery.CONFIG_ROOTS`` (kept equal by a test;
# not imported, so the model does not depend on the configuration language).
DEFAULT_CONFIG_FILES: tuple[str, ...] = ("zuul.yaml", "zuul.d/", ".zuul.yaml", ".zuul.d/")


class MergeState(str, enum.Enum):
    REQUESTED = "requested"
    RUNNING = "running"
    COMPLETED = "completed"


class MergeStatus(enum.StrEnum):
    """How a completed merge ended (the ``result`` of its ``merge-completed``
    result event).  A ``StrEnum`` like ``BuildResult``: in JSON and messages
    it is its value."""

    MERGED = "merged"
    CONFLICT = "conflict"
    ERROR = "error"


@dataclass
class MergeStep:
    """One change to merge, in order (its dependencies come first)."""

    connection: str
    project: str  # the tenant's project name
    branch: str
    ref: str  # e.g. refs/changes/45/12345/3, fetched from ``url``
    commit: str  # the patchset's sha: the fetched ref must be this commit
    url: str  # the project's clone URL (the driver's; may carry credentials)
    merge_mode: str = DEFAULT_MERGE_MODE
    number: int | None = None
    patchset: int | None = None

    def describe(self) -> str:
        """How messages name the step: ``12345,3`` (Zuul's form), else the commit."""
        if self.number is not None and self.patchset is not None:
            return f"{self.number},{self.patchset}"
        if self.number is not None:
            return str(self.number)
        return self.commit[:12]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MergeStep:
        return from_dict(cls, data)


@dataclass
class RepoSpec:
    """A repository whose branch heads the item's builds use."""

    connection: str
    project: str
    url: str

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RepoSpec:
        return from_dict(cls, data)


@dataclass
class MergeResult:
    """What a merger found.  Every map is keyed by the tenant's project name."""

    ok: bool
    # "merge conflict" detail: which change, which project-branch, which files.
    conflict: str | None = None
    # Anything else (an unreachable repository, a missing ref, a bad step).
    error: str | None = None
    # project -> {branch: sha}: every branch head of every repository, as the
    # merge started from them (the request's ``repo_state`` when it had one).
    repo_state: dict[str, dict[str, str]] = field(default_factory=dict)
    # project -> {branch: sha} after applying the steps (untouched branches:
    # their head).  Empty when not ``ok``.
    commits: dict[str, dict[str, str]] = field(default_factory=dict)
    # project -> files the steps changed (vs the branch heads), sorted.
    files: dict[str, list[str]] = field(default_factory=dict)
    # project -> branch -> {path: text}: the ``config_files`` at the merged
    # state of every project-branch a step touched.
    config: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    # Per step (same order as the request's): the files that step changed on
    # top of the steps before it (empty for a skipped step).
    step_files: list[list[str]] = field(default_factory=list)
    # Indices of steps already contained in their branch (not applied).
    skipped: list[int] = field(default_factory=list)
    # Index of the step that conflicted, when one did.
    conflict_step: int | None = None

    @property
    def status(self) -> MergeStatus:
        if self.ok:
            return MergeStatus.MERGED
        if self.conflict:
            return MergeStatus.CONFLICT
        return MergeStatus.ERROR

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MergeResult:
        return from_dict(cls, data)


@dataclass
class MergeRequest:
    uuid: str
    tenant: str
    pipeline: str
    item_uuid: str
    event_id: str
    # May be empty: a ref item only needs its repositories' heads.
    steps: list[MergeStep] = field(default_factory=list)
    # Every project the item's builds use (the steps' projects included).
    repos: list[RepoSpec] = field(default_factory=list)
    # project -> {branch: sha}.  Given: the merge starts from exactly these
    # heads (fixed when the item was enqueued; a branch that moved since does
    # not change what the item tests).  None, or a project missing from it:
    # the merger reads the heads now.
    repo_state: dict[str, dict[str, str]] | None = None
    # Paths to read at the merged state (files; directories end with "/").
    config_files: list[str] = field(default_factory=lambda: list(DEFAULT_CONFIG_FILES))
    state: MergeState = MergeState.REQUESTED
    result: MergeResult | None = None
    created: float = field(default_factory=time.time)
    worker: str | None = None
    start_time: float | None = None
    end_time: float | None = None

    def __post_init__(self) -> None:
        self.state = MergeState(self.state)
        self.steps = [s if isinstance(s, MergeStep) else MergeStep.from_dict(s) for s in self.steps]
        self.repos = [r if isinstance(r, RepoSpec) else RepoSpec.from_dict(r) for r in self.repos]
        if isinstance(self.result, dict):
            self.result = MergeResult.from_dict(self.result)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MergeRequest:
        return from_dict(cls, data)


def steps_for(steps: list[MergeStep], project: str, branch: str) -> list[MergeStep]:
    """The steps of one project-branch, in order: what a build replays there."""
    return [s for s in steps if s.project == project and s.branch == branch]
