"""A tenant's event processing state: whether trigger events are taken,
left queued or thrown away, and whether results are taken (Zuul's
``zuul-client manage-events``).

Who writes it: the web (``POST /api/tenant/{t}/state``, an admin action),
stored at ``lockgate.zk.paths.tenant_event_state``.  Who reads it: the
scheduler at the start of each pass over the tenant
(``lockgate.scheduler.processor``), which asks :meth:`TenantEventState.triggers`
what to do with the trigger queue and :attr:`result_queue_paused` whether to
process the tenant's pipelines at all; the web shows it in the status answer
and the tenant info (:meth:`TenantEventState.to_api`).

No record means ``normal``: every event is processed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from lockgate.model.serial import from_dict, to_dict

# The body keys of ``POST /api/tenant/{t}/state`` (Zuul's), all booleans.
FLAGS = ("trigger_queue_discarding", "trigger_queue_paused", "result_queue_paused")
MAX_REASON = 1000


class TriggerHandling(enum.Enum):
    """What a pass does with the tenant's trigger events."""

    PROCESS = "process"  # match them to pipelines (normal)
    LEAVE = "leave"  # leave them queued, in order, for when processing resumes
    DISCARD = "discard"  # take them off the queue and drop them (each logged)


@dataclass
class TenantEventState:
    tenant: str
    trigger_queue_discarding: bool = False
    trigger_queue_paused: bool = False
    result_queue_paused: bool = False
    # Why, for the people looking at the status page.
    reason: str | None = None
    # When and by whom (the token's ``sub``) it was last set.
    last_modified: float | None = None
    set_by: str | None = None

    @property
    def normal(self) -> bool:
        return not (
            self.trigger_queue_discarding or self.trigger_queue_paused or self.result_queue_paused
        )

    def triggers(self) -> TriggerHandling:
        """Pausing wins over discarding (a paused queue is not read at all,
        as in Zuul); paused results leave trigger events queued too, since
        the pass that would match them does not run."""
        if self.trigger_queue_paused or self.result_queue_paused:
            return TriggerHandling.LEAVE
        if self.trigger_queue_discarding:
            return TriggerHandling.DISCARD
        return TriggerHandling.PROCESS

    def describe(self) -> str:
        """One line for logs: what is not normal, and why."""
        if self.normal:
            return "events processed normally"
        parts = []
        if self.trigger_queue_discarding and not self.trigger_queue_paused:
            parts.append("trigger events discarded")
        paused = [
            name
            for name, flag in (
                ("trigger", self.trigger_queue_paused or self.result_queue_paused),
                ("result", self.result_queue_paused),
            )
            if flag
        ]
        if paused:
            parts.append(f"{' and '.join(paused)} events paused")
        return f"{', '.join(parts)}: {self.reason or 'no reason given'}"

    def to_api(self) -> dict[str, Any]:
        """The ``state`` object of Zuul's status answer (what its dashboard's
        banner reads), with when it was set."""
        return {
            "trigger_queue_discarding": self.trigger_queue_discarding,
            "trigger_queue_paused": self.trigger_queue_paused,
            "result_queue_paused": self.result_queue_paused,
            "reason": self.reason,
            "last_modified": self.last_modified,
        }

    @classmethod
    def from_request(
        cls, tenant: str, body: dict[str, Any], *, set_by: str | None, now: float
    ) -> TenantEventState:
        """The state an admin's request body asks for; ``ValueError`` naming
        the key that is wrong.  Missing flags are false (zuul-client always
        sends all three); ``reason`` may be null."""
        unknown = sorted(set(body) - {*FLAGS, "reason"})
        if unknown:
            raise ValueError(
                f"unknown key(s) {', '.join(repr(k) for k in unknown)}; "
                f"expected {', '.join(FLAGS)}, reason"
            )
        flags: dict[str, bool] = {}
        for key in FLAGS:
            value = body.get(key, False)
            if value is None:
                value = False
            if not isinstance(value, bool):
                raise ValueError(f"'{key}' must be true or false")
            flags[key] = value
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ValueError("'reason' must be a string")
        if reason is not None and len(reason) > MAX_REASON:
            raise ValueError(f"'reason' is longer than {MAX_REASON} characters")
        return cls(tenant=tenant, reason=reason or None, last_modified=now, set_by=set_by, **flags)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TenantEventState:
        return from_dict(cls, data)
