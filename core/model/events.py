"""Events: what drivers put on a tenant's trigger queue, and what executors and
launchers put on its result queue.

Every event carries an ``event_id`` given where it entered the system (a ref
poll, a timer tick, a webhook); it travels into every record derived from the
event and every log line about it (see ``lockgate.logs``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class ResultEvent:
    """A result for the scheduler: ``kind`` is one of

    - ``build-started``: an executor locked a build request and began;
    - ``build-completed``: ``result`` holds the build's result;
    - ``nodes-provisioned``: a node request reached a final state;
    - ``merge-completed``: a merger answered a merge request (``result``:
      merged, conflict or error; ``buildset_uuid`` empty).

    The authoritative data lives in the request record at ``request_path``;
    the event only says "look there".
    """

    kind: str
    tenant: str
    pipeline: str
    buildset_uuid: str
    request_id: str
    result: str | None = None
    event_id: str = field(default_factory=new_event_id)
    timestamp: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultEvent:
        return from_dict(cls, data)
