"""What to do with a node request, and which nodes to delete: decisions
without I/O.

Who calls it: the launcher server (``server.py``) on every pass of its loop,
with the records it just read from ZooKeeper and its providers (whose
``fits`` answers from memory).  The server then acts on the answer.  Keeping
the rules here lets them be tested without ZooKeeper or a single node.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from lockgate.launcher.providers.base import Fit, Provider
from lockgate.model.nodes import Node, NodeState


class Action(enum.Enum):
    FULFIL = "fulfil"  # make the nodes now with ``provider``
    WAIT = "wait"  # a provider could, once some of its nodes are freed
    FAIL = "fail"  # no provider ever can: fail with ``reason``


@dataclass(frozen=True)
class Plan:
    action: Action
    provider: Provider | None = None
    reason: str | None = None


def plan_request(labels: Sequence[str], providers: Sequence[Provider]) -> Plan:
    """The first provider (in config order) that can give every label now;
    else wait if one could later; else fail, saying why."""
    if not labels:
        return Plan(Action.FULFIL, None)
    fits = [(provider, provider.fits(labels)) for provider in providers]
    for provider, fit in fits:
        if fit is Fit.NOW:
            return Plan(Action.FULFIL, provider)
    if any(fit is Fit.LATER for _, fit in fits):
        return Plan(Action.WAIT)
    return Plan(Action.FAIL, reason=_why_never(labels, providers))


def _why_never(labels: Sequence[str], providers: Sequence[Provider]) -> str:
    if not providers:
        return "this launcher has no providers"
    offered = set().union(*(p.labels for p in providers))
    missing = sorted(set(labels) - offered)
    if missing:
        return (
            f"no provider offers label {', '.join(repr(m) for m in missing)} "
            f"(offered: {', '.join(sorted(offered)) or 'none'})"
        )
    return (
        f"no single provider can ever give {len(labels)} nodes "
        f"({', '.join(labels)}): each is limited by max-servers or its hosts"
    )


def deletion_reason(
    node: Node,
    request_ids: Collection[str],
    hold_ids: Collection[str] | None = None,
    now: float = 0.0,
) -> str | None:
    """Why one of our nodes should go now, or None to keep it.

    Used nodes go; so do failed ones, ones a crash left half-deleted, and
    ones whose request was deleted (the scheduler is done with them, or gave
    up on them).  A held node (autohold) stays while its hold request exists
    (``hold_ids``; None: not known, keep it) and its hold has not expired at
    ``now``.  A node an admin held (``node-set-state hold``: no hold
    request) stays until an admin sets it used.  Whether an executor still
    holds the node's lock is checked by the caller, who only deletes what
    it can lock.
    """
    if node.state is NodeState.HOLD:
        expires = node.hold_expires_at()
        if expires is not None and now >= expires:
            return f"its hold expired ({node.hold_expiration} s)"
        if node.hold_request is None:
            return None  # an admin's hold
        if hold_ids is not None and node.hold_request not in hold_ids:
            return f"its autohold request {node.hold_request} was deleted"
        return None
    if node.state is NodeState.USED:
        return "used"
    if node.state is NodeState.DELETING:
        return "deletion not finished"
    if node.state is NodeState.FAILED:
        return "failed"
    if node.allocated_to is None:
        return "not allocated to any request"
    if node.allocated_to not in request_ids:
        return f"request {node.allocated_to} is gone"
    return None
