"""Build requests: the contract between scheduler and executor.

The scheduler submits a ``BuildRequest`` (state REQUESTED) once the job's
nodes are provisioned.  An executor locks it (the lock is the claim: a dead
executor's ephemeral lock vanishes and the scheduler re-submits, which counts
as a retry), sets RUNNING, runs the job and writes the result, sets COMPLETED
and puts a ``build-completed`` result event.  Setting ``cancel_requested`` on a
REQUESTED or RUNNING request asks its executor to abort.

What the playbooks returned (``zuul_return``) comes back with the result:
``result_data`` (stored with the build; child jobs get it as variables),
``secret_result_data`` (child jobs only) and ``warnings``.  A job that
returns ``zuul.pause`` stays RUNNING with ``paused`` set (and its data
already written, put with a ``build-paused`` event) while its child jobs
run; the scheduler sets ``resume_requested`` once they are done, and the
executor clears ``paused`` and runs the post-run playbooks.

The scheduler gives a build what its parent jobs returned:
``parent_data`` (variables, below the job's own ``vars``) and
``secret_parent_data`` (given like secrets, below every other variable);
their artifacts and those of required ``provides`` are in
``zuul_vars["artifacts"]``.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.jobs import FrozenJob
from lockgate.model.merges import MergeResult, MergeStep
from lockgate.model.serial import from_dict, to_dict


class BuildState(str, enum.Enum):
    REQUESTED = "requested"
    RUNNING = "running"
    COMPLETED = "completed"


class BuildResult(enum.StrEnum):
    """A build's result, as Zuul names them.  A ``StrEnum``: in JSON, SQL and
    messages it is its value, and it equals the string (records written
    before it was typed read back the same)."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    POST_FAILURE = "POST_FAILURE"
    TIMED_OUT = "TIMED_OUT"
    RETRY_LIMIT = "RETRY_LIMIT"
    NODE_FAILURE = "NODE_FAILURE"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    CANCELED = "CANCELED"
    SKIPPED = "SKIPPED"
    # The executor asks for another attempt (pre-run failure, lost node).
    RETRY = "RETRY"


class BuildsetResult(enum.StrEnum):
    """A queue item's (its buildset's) reported result, as Zuul names them:
    besides success and failure, what stopped it before or instead of its
    jobs.  A vocabulary of its own (a buildset is never TIMED_OUT, a build
    never NO_JOBS); a ``StrEnum`` like ``BuildResult``, so the records in
    ZooKeeper and the SQL rows hold the same strings as before it was typed."""

    SUCCESS = "SUCCESS"
    # A voting job did not succeed, or the item was refused or left with
    # (or because of) a change that failed.
    FAILURE = "FAILURE"
    # The repositories could not be prepared (the merger kept failing).
    ERROR = "ERROR"
    CONFIG_ERROR = "CONFIG_ERROR"
    NO_JOBS = "NO_JOBS"
    DEQUEUED = "DEQUEUED"
    MERGE_CONFLICT = "MERGE_CONFLICT"
    # A gate item that passed but that the review system refused to merge.
    MERGE_FAILURE = "MERGE_FAILURE"


@dataclass
class RepoState:
    """One repository the job needs, at the commit it must be checked out at.

    A speculative state (changes merged onto the branch, by a merger) is
    carried as ``base`` (the branch head the merge started from) and
    ``steps`` (the changes to apply there, in order): the executor checks
    out ``base``, replays the steps with the merger's own code
    (``lockgate.git.merger.replay``) and requires the result to be
    ``commit``.  Without steps, ``commit`` is checked out as it is.
    """

    connection: str
    project: str  # as in the tenant config, e.g. "demo/app"
    canonical_name: str  # hostname/project, as in zuul.projects keys
    url: str  # where an executor clones it from
    branch: str | None
    ref: str
    commit: str
    base: str | None = None
    steps: list[MergeStep] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.steps = [s if isinstance(s, MergeStep) else MergeStep.from_dict(s) for s in self.steps]


def speculative_repo_state(
    repo: RepoState, result: MergeResult, steps: list[MergeStep]
) -> RepoState:
    """``repo`` (a project at its branch) at the merged state of ``result``.

    ``steps`` are the merge request's steps (the result's indices refer to
    them).  The copy's ``commit`` is the merger's commit for the branch;
    when steps of that project-branch were applied, ``base`` and ``steps``
    say how to rebuild it (steps the merger skipped as already merged are
    left out).  A project or branch the result does not know raises
    ``KeyError`` naming it.
    """
    if not repo.branch:
        return dataclasses.replace(repo, base=None, steps=[])
    try:
        commit = result.commits[repo.project][repo.branch]
        base = result.repo_state[repo.project][repo.branch]
    except KeyError:
        raise KeyError(f"{repo.project} branch {repo.branch}") from None
    skipped = set(result.skipped)
    mine = [
        s
        for i, s in enumerate(steps)
        if i not in skipped and s.project == repo.project and s.branch == repo.branch
    ]
    if not mine:
        return dataclasses.replace(repo, commit=commit, base=None, steps=[])
    return dataclasses.replace(repo, commit=commit, base=base, steps=mine)


@dataclass
class BuildRequest:
    uuid: str
    tenant: str
    pipeline: str
    buildset_uuid: str
    event_id: str
    job: FrozenJob
    # The project and ref that triggered the item.
    project: RepoState
    # Every repository the job needs (the triggering one included).
    repos: list[RepoState] = field(default_factory=list)
    node_ids: list[str] = field(default_factory=list)
    node_request_id: str | None = None
    zone: str = "default"
    attempt: int = 1
    # Partial ``zuul`` variables computed by the scheduler; the executor adds
    # ``executor.*`` and per-project checkout paths.
    zuul_vars: dict[str, Any] = field(default_factory=dict)
    state: BuildState = BuildState.REQUESTED
    result: BuildResult | None = None
    error_detail: str | None = None
    worker: str | None = None
    log_url: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    cancel_requested: bool = False
    created: float = field(default_factory=time.time)
    parent_data: dict[str, Any] = field(default_factory=dict)
    secret_parent_data: dict[str, Any] = field(default_factory=dict)
    result_data: dict[str, Any] = field(default_factory=dict)
    secret_result_data: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    paused: bool = False
    resume_requested: bool = False

    def __post_init__(self) -> None:
        self.state = BuildState(self.state)
        if self.result is not None:
            self.result = BuildResult(self.result)
        if isinstance(self.job, dict):
            self.job = FrozenJob.from_dict(self.job)
        if isinstance(self.project, dict):
            self.project = RepoState(**self.project)
        self.repos = [r if isinstance(r, RepoState) else RepoState(**r) for r in self.repos]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuildRequest:
        return from_dict(cls, data)
