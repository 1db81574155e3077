"""When a held node goes (``planning.deletion_reason``)."""

from __future__ import annotations

from lockgate.launcher.planning import deletion_reason
from lockgate.model.nodes import Node, NodeState


def held(expiration: int | None = None) -> Node:
    return Node(
        label="debian",
        provider="p",
        id="7",
        state=NodeState.HOLD,
        allocated_to="gone",
        hold_request="0000000001",
        held_at=100.0,
        hold_expiration=expiration,
    )


def test_a_held_node_stays_while_its_request_exists_even_without_its_node_request():
    assert deletion_reason(held(), set(), {"0000000001"}, now=10_000.0) is None
    # Hold requests not readable: keep it rather than delete by mistake.
    assert deletion_reason(held(), set(), None, now=10_000.0) is None


def test_a_held_node_goes_when_its_request_is_deleted_or_its_hold_expires():
    assert "was deleted" in (deletion_reason(held(), set(), set(), now=200.0) or "")
    assert deletion_reason(held(60), set(), {"0000000001"}, now=159.0) is None
    assert "expired" in (deletion_reason(held(60), set(), {"0000000001"}, now=160.0) or "")
