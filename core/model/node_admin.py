"""What an admin may do to a node or a node request, decided without I/O.

Who calls it: ``lockgate.zk.node_admin``, which reads the records, asks
these functions for the new record (or why not), and writes it back with a
versioned write; that module serves the web's admin endpoints
``PUT /api/tenant/{t}/nodes/{id}`` (zuul-client ``node-set-state``) and
``DELETE /api/tenant/{t}/nodeset-requests/{id}`` (``nodeset-request-delete``).

The rules:

- **hold**: a ready, in-use or held node becomes an *admin hold*: state
  HOLD, no autohold request, no expiry.  The launcher keeps it until an
  admin sets it ``used`` (``lockgate.launcher.planning.deletion_reason``).
  A ready node was already handed to a request (Lockgate makes nodes for
  requests, not ahead of them): the build that was to use it does not get
  it, and ends NODE_FAILURE naming the held node.  An in-use node stays
  with its build, which ends normally; the node is then kept instead of
  given back.  A node an autohold keeps becomes an admin hold: it no
  longer goes with its autohold request.
- **used**: a ready, in-use, held or used node becomes USED; the launcher
  deletes it as soon as nobody uses it (an in-use one when its build ends).
- Nodes being built, deleted, or failed are the launcher's: refused.
- **cancel** a node request: only a pending one (REQUESTED).  It becomes
  FAILED with the admin's reason; the scheduler then ends the job that
  waited for it with NODE_FAILURE and that reason (as when no provider can
  give the nodes), and deletes the request.  A launcher fulfilling it at
  that moment loses its versioned write and gives its nodes back.  A
  fulfilled request's nodes belong to a build: refused (dequeue the item,
  or set its nodes ``used``).
"""

from __future__ import annotations

import enum
from dataclasses import replace

from lockgate.model.nodes import Node, NodeRequest, NodeRequestState, NodeState


class AdminNodeState(str, enum.Enum):
    """The states ``node-set-state`` may ask for (Zuul's words)."""

    HOLD = "hold"
    USED = "used"


class AdminRefused(Exception):
    """The node or request is not in a state the action applies to;
    ``str()`` says which state and what would work."""


HOLDABLE = (NodeState.READY, NodeState.IN_USE, NodeState.HOLD)
USABLE_UP = (NodeState.READY, NodeState.IN_USE, NodeState.HOLD, NodeState.USED)


def parse_admin_state(value: object) -> AdminNodeState:
    """``ValueError`` naming the states allowed."""
    try:
        return AdminNodeState(value)
    except ValueError:
        allowed = ", ".join(s.value for s in AdminNodeState)
        raise ValueError(f"'state' must be one of: {allowed} (got {value!r})") from None


def set_node_state(
    node: Node,
    wanted: AdminNodeState,
    *,
    tenant: str,
    by: str,
    now: float,
    job: str | None = None,
) -> Node:
    """``node`` as it should be written after the admin's action."""
    if wanted is AdminNodeState.HOLD:
        if node.state not in HOLDABLE:
            raise AdminRefused(
                f"node {node.id} is {node.state.value}: only a ready, in-use or held node "
                "can be held"
            )
        return replace(
            node,
            state=NodeState.HOLD,
            hold_request=None,
            hold_tenant=tenant,
            hold_job=node.hold_job or job,
            comment=f"held by {by}",
            held_at=now,
            hold_expiration=None,
        )
    if node.state not in USABLE_UP:
        raise AdminRefused(
            f"node {node.id} is {node.state.value}: the launcher is already dealing with it"
        )
    return replace(
        node,
        state=NodeState.USED,
        hold_request=None,
        held_at=None,
        hold_expiration=None,
    )


def cancel_request(request: NodeRequest, *, by: str) -> NodeRequest:
    """``request`` cancelled: FAILED, saying who cancelled it."""
    if request.state is not NodeRequestState.REQUESTED:
        raise AdminRefused(
            f"nodeset request {request.id} is {request.state.value}: only a pending "
            "(requested) one can be deleted; a fulfilled request's nodes are its build's "
            "(dequeue the item, or set its nodes 'used')"
        )
    return replace(
        request,
        state=NodeRequestState.FAILED,
        failure_reason=f"nodeset request {request.id} deleted by {by}",
    )
