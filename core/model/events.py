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
    event_id: str = field(default_factory=new_event_id)
    timestamp: float = field(default_factory=time.time)

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
    - ``nodes-provisioned``: a node request reached a final state.

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
