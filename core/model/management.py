"""Management events: what an admin asks of the scheduler through the web.

Who writes them: the web's admin endpoints (``lockgate.web.api_admin``),
after authorizing the caller, on the tenant's management queue
(``lockgate.zk.queues.management_queue``).  Who reads them: the scheduler
holding the tenant's lock (``lockgate.scheduler.management``), which turns
each into what its pipelines understand — an item to enqueue, a dequeue, a
promote — and acknowledges it once the pipeline state is saved.

Idempotence: ``event_id`` is given once, by the web; every item made from
the event derives its id from it, so an event processed twice (a scheduler
that died before acknowledging) enqueues once.  A client retrying a POST
may send ``X-Lockgate-Request-Id``: the web then puts the event with that
as its dedup key and id, and the repeat is dropped.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.events import new_event_id
from lockgate.model.serial import from_dict, to_dict


class ManagementKind(str, enum.Enum):
    ENQUEUE = "enqueue"  # a change ("number,patchset") into a pipeline
    ENQUEUE_REF = "enqueue-ref"  # a ref (with old and new revisions) into a pipeline
    DEQUEUE = "dequeue"  # a change's or a ref's item out of a pipeline
    PROMOTE = "promote"  # changes to the head of their dependent queue


@dataclass(frozen=True)
class ManagementEvent:
    kind: ManagementKind
    tenant: str
    pipeline: str
    # The project as the caller named it (the tenant's name, or canonical).
    project: str = ""
    # Zuul's change id: "<number>,<patchset>" (GitHub: "<number>,<head sha>").
    change: str = ""
    ref: str = ""
    oldrev: str = ""
    newrev: str = ""
    # Promote: change ids, in the order they go to the head.
    changes: list[str] = field(default_factory=list)
    # Who asked (the token's user id) and through which realm.
    requested_by: str = ""
    realm: str = ""
    event_id: str = field(default_factory=new_event_id)
    timestamp: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ManagementKind(self.kind))

    def describe(self) -> str:
        what = {
            ManagementKind.ENQUEUE: f"enqueue of change {self.change} of {self.project}",
            ManagementKind.ENQUEUE_REF: f"enqueue of {self.project} {self.ref}",
            ManagementKind.DEQUEUE: f"dequeue of {self.project} {self.change or self.ref}",
            ManagementKind.PROMOTE: f"promote of {', '.join(self.changes)}",
        }[self.kind]
        by = f" by {self.requested_by}" if self.requested_by else ""
        return f"{what} in {self.tenant}/{self.pipeline}{by}"

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManagementEvent:
        return from_dict(cls, data)


def parse_change_id(text: str) -> tuple[int, str | None]:
    """Zuul's ``"<number>,<patchset>"`` (or a bare number): the number and
    the patchset as given (None when absent).  ``ValueError`` naming it."""
    number, _, patchset = str(text).strip().partition(",")
    try:
        value = int(number)
    except ValueError:
        raise ValueError(f"change {text!r} is not '<number>,<patchset>' (e.g. '1234,2')") from None
    if value <= 0 or value > 2**31:
        raise ValueError(f"change {text!r}: the number is out of range")
    patchset = patchset.strip()
    return value, patchset or None
