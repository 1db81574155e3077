"""What an admin may do to a node or a node request
(``lockgate.model.node_admin``), and what the launcher then does with an
admin's hold (``lockgate.launcher.planning.deletion_reason``)."""

from __future__ import annotations

import pytest
from lockgate.launcher.planning import deletion_reason
from lockgate.model.node_admin import (
    AdminNodeState,
    AdminRefused,
    cancel_request,
    parse_admin_state,
    set_node_state,
)
from lockgate.model.nodes import Node, NodeRequest, NodeRequestState, NodeState


def node(state: NodeState, **kw: object) -> Node:
    return Node(label="debian", provider="p", id="0000000007", state=state, allocated_to="12", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("start", [NodeState.READY, NodeState.IN_USE, NodeState.HOLD])
def test_hold_makes_an_admin_hold_the_launcher_keeps(start: NodeState) -> None:
    autoheld = {"hold_request": "0000000003", "held_at": 1.0, "hold_expiration": 60}
    held = set_node_state(
        node(start, **(autoheld if start is NodeState.HOLD else {})),
        AdminNodeState.HOLD,
        tenant="demo",
        by="ops",
        now=500.0,
        job="build",
    )
    assert held.state is NodeState.HOLD
    assert (held.hold_request, held.hold_tenant, held.hold_job) == (None, "demo", "build")
    assert (held.comment, held.held_at, held.hold_expiration) == ("held by ops", 500.0, None)
    # Kept without a node request or an autohold request, however long.
    assert deletion_reason(held, set(), set(), now=10**9) is None
    # An autohold's node still goes with its request.
    assert deletion_reason(node(NodeState.HOLD, hold_request="3"), set(), set(), now=1.0)


@pytest.mark.parametrize(
    "start", [NodeState.READY, NodeState.IN_USE, NodeState.HOLD, NodeState.USED]
)
def test_used_makes_the_launcher_delete_it(start: NodeState) -> None:
    used = set_node_state(
        node(start, hold_request=None, held_at=5.0),
        AdminNodeState.USED,
        tenant="demo",
        by="ops",
        now=9.0,
    )
    assert used.state is NodeState.USED and used.held_at is None
    assert deletion_reason(used, {"12"}, set(), now=9.0) == "used"


@pytest.mark.parametrize("start", [NodeState.BUILDING, NodeState.DELETING, NodeState.FAILED])
@pytest.mark.parametrize("wanted", list(AdminNodeState))
def test_the_launchers_own_states_are_refused(start: NodeState, wanted: AdminNodeState) -> None:
    with pytest.raises(AdminRefused) as e:
        set_node_state(node(start), wanted, tenant="demo", by="ops", now=1.0)
    assert f"node 0000000007 is {start.value}" in str(e.value)


def test_parse_admin_state_names_the_choices() -> None:
    assert parse_admin_state("hold") is AdminNodeState.HOLD
    with pytest.raises(ValueError, match="must be one of: hold, used"):
        parse_admin_state("ready")


def request(state: NodeRequestState) -> NodeRequest:
    return NodeRequest(
        labels=["debian"],
        tenant="demo",
        pipeline="check",
        buildset_uuid="bs",
        job_name="build",
        event_id="e1",
        id="0000000012",
        state=state,
    )


def test_a_pending_request_is_cancelled_as_failed_saying_who() -> None:
    cancelled = cancel_request(request(NodeRequestState.REQUESTED), by="ops")
    assert cancelled.state is NodeRequestState.FAILED
    assert cancelled.failure_reason == "nodeset request 0000000012 deleted by ops"


@pytest.mark.parametrize("state", [NodeRequestState.FULFILLED, NodeRequestState.FAILED])
def test_a_finished_request_is_refused(state: NodeRequestState) -> None:
    with pytest.raises(AdminRefused, match=f"is {state.value}: only a pending"):
        cancel_request(request(state), by="ops")
