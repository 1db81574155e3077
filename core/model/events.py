"""Events: what drivers put on a tenant's trigger queue, and what executors and
launchers put on its result queue.

Every event carries an ``event_id`` given where it entered the system (a ref
poll, a timer tick, a webhook); it travels into every record derived from the
event and every log line about it (see ``lockgate.logs``).
"""

from __future__ import annotations

import enum
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.builds import BuildResult
from lockgate.model.merges import MergeStatus
from lockgate.model.nodes import NodeRequestState
from lockgate.model.serial import from_dict, to_dict


def new_event_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class TriggerEvent:
    """A normalized trigger event, as in Zuul's ``TriggerEvent``.

    ``type`` is the driver's event type (``ref-updated`` for git, ``timer``
    for the timer driver).  ``project`` is the project's name as the tenant
    config spells it; ``connection`` names the ``[connection NAME]`` section.
    """

    type: str
    connection: str
    project: str
    ref: str = ""
    branch: str | None = None
    oldrev: str | None = None
    newrev: str | None = None
    # The timer driver targets one pipeline; other drivers leave this empty.
    pipeline: str | None = None
    timespec: str | None = None
    # Review systems (Gerrit, GitHub): the change and patchset the event is
    # about, who caused it (``lockgate.model.change.Account`` as a dict), a
    # review comment, the votes it carries (``{"label", "value",
    # "old_value"}``; ``old_value`` set when the vote changed) and anything
    # else the driver's trigger filters read (``extra``: topic, hashtags,
    # reason, the Change-Id...).
    change_number: int | None = None
    patchset: int | None = None
    # The patchset's name where it is not a number (GitHub: the head sha);
    # see ``Change.patchset_id``.
    patchset_id: str | None = None
    change_url: str | None = None
    account: dict[str, Any] | None = None
    comment: str | None = None
    approvals: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # What makes this event the same as another one (a redelivery, an event
    # found again by a catch-up query): the trigger queue keeps one.  Empty:
    # the scheduler derives one from the ref move.
    dedup_key: str = ""
    event_id: str = field(default_factory=new_event_id)
    timestamp: float = field(default_factory=time.time)

    @property
    def is_change_event(self) -> bool:
        return self.change_number is not None

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TriggerEvent:
        return from_dict(cls, data)


class ResultKind(enum.StrEnum):
    """What a result event says happened.  A ``StrEnum``: in JSON it is its
    value, the strings the queue always held."""

    BUILD_STARTED = "build-started"
    BUILD_PAUSED = "build-paused"
    BUILD_COMPLETED = "build-completed"
    NODES_PROVISIONED = "nodes-provisioned"
    MERGE_COMPLETED = "merge-completed"


# What ``result`` holds: one vocabulary per kind, each an enum of the record
# the event points at (the build's result, the merge's status, the node
# request's final state).
Result = BuildResult | MergeStatus | NodeRequestState

# The enum of each kind's ``result``; a kind not listed carries none.
RESULT_TYPES: dict[ResultKind, type[Result]] = {
    ResultKind.BUILD_COMPLETED: BuildResult,
    ResultKind.MERGE_COMPLETED: MergeStatus,
    ResultKind.NODES_PROVISIONED: NodeRequestState,
}


def decode_result(kind: ResultKind, value: str | None) -> Result | None:
    """``value`` as the enum of ``kind``'s vocabulary (a string read from
    ZooKeeper, or already the enum).  A value outside it is a writer's bug,
    not something to guess at: ``ValueError`` naming the kind and the value."""
    if value is None:
        return None
    vocabulary = RESULT_TYPES.get(kind)
    if vocabulary is None:
        raise ValueError(f"a {kind} result event carries no result, got {value!r}")
    try:
        return vocabulary(value)
    except ValueError:
        known = ", ".join(member.value for member in vocabulary)
        raise ValueError(
            f"unknown result {value!r} for a {kind} result event (one of: {known})"
        ) from None


@dataclass(frozen=True)
class ResultEvent:
    """A result for the scheduler: ``kind`` is one of

    - ``build-started``: an executor locked a build request and began;
    - ``build-paused``: the build's job paused (its returned data is written);
    - ``build-completed``: ``result`` holds the build's ``BuildResult``;
    - ``nodes-provisioned``: a node request reached a final state
      (``result``: its ``NodeRequestState``, fulfilled or failed);
    - ``merge-completed``: a merger answered a merge request (``result``:
      its ``MergeStatus``, merged, conflict or error; ``buildset_uuid`` empty).

    The authoritative data lives in the request record named by
    ``request_id``; the event only says "look there".  ``kind`` and
    ``result`` are decoded into their enums on construction (``from_dict``
    gives the strings of the JSON), so an unknown kind, or a result outside
    its kind's vocabulary, fails there with a ``ValueError`` naming both.
    Strict on purpose: a writer that sends another word has a bug, and the
    scheduler reads the request records (it only acknowledges these
    events), so a newer writer's word cannot stop it in a rolling upgrade.
    """

    kind: ResultKind
    tenant: str
    pipeline: str
    buildset_uuid: str
    request_id: str
    result: Result | None = None
    event_id: str = field(default_factory=new_event_id)
    timestamp: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        try:
            kind = ResultKind(self.kind)
        except ValueError:
            known = ", ".join(member.value for member in ResultKind)
            raise ValueError(f"unknown result event kind {self.kind!r} (one of: {known})") from None
        # Frozen: the decoded values replace the strings once, here.
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "result", decode_result(kind, self.result))

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultEvent:
        return from_dict(cls, data)
