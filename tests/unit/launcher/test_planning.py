"""Which provider takes a request, and which nodes go: the rules, no I/O."""

from __future__ import annotations

import pytest
from lockgate.launcher.planning import Action, deletion_reason, plan_request
from lockgate.launcher.providers import Fit, StaticProvider
from lockgate.model.nodes import Node, NodeState
from lockgate.service_config import Section


def static(name: str, nodes: str, **values: str) -> StaticProvider:
    return StaticProvider(
        Section("/etc/lockgate/lockgate.conf", f"provider {name}",
                {"driver": "static", "nodes": nodes, **values})
    )  # fmt: skip


def occupy(provider: StaticProvider, external_id: str) -> None:
    """Mark a host in use the way a restart does (no SSH needed)."""
    provider.cleanup_leaked(set(provider.in_use()) | {external_id})


def test_first_provider_that_fits_now_wins():
    a = static("a", "h1 labels=debian")
    b = static("b", "h2 labels=debian\nh3 labels=debian")
    assert plan_request(["debian"], [a, b]).provider is a
    occupy(a, "h1")
    assert plan_request(["debian"], [a, b]).provider is b
    assert plan_request(["debian", "debian"], [a, b]).provider is b


def test_busy_everywhere_waits():
    a = static("a", "h1 labels=debian")
    occupy(a, "h1")
    plan = plan_request(["debian"], [a])
    assert plan.action is Action.WAIT and plan.provider is None


def test_unknown_label_fails_naming_it():
    a = static("a", "h1 labels=debian")
    plan = plan_request(["debian", "fedora"], [a])
    assert plan.action is Action.FAIL
    assert plan.reason == "no provider offers label 'fedora' (offered: debian)"


def test_more_nodes_than_any_provider_can_ever_have_fails():
    a = static("a", "h1 labels=debian")
    b = static("b", "h2 labels=debian")
    plan = plan_request(["debian", "debian"], [a, b])
    assert plan.action is Action.FAIL
    assert "no single provider can ever give 2 nodes" in (plan.reason or "")


def test_no_providers_fails():
    assert plan_request(["debian"], []).reason == "this launcher has no providers"


def test_empty_request_is_fulfilled_without_nodes():
    plan = plan_request([], [])
    assert plan.action is Action.FULFIL and plan.provider is None


def test_static_matching_uses_distinct_hosts_and_backtracks():
    # h1 has both labels, h2 only "big": "debian"+"big" needs h1 for debian.
    p = static("p", "h2 labels=big\nh1 labels=debian,big")
    assert p.fits(["big", "debian"]) is Fit.NOW
    assert p.fits(["big", "big"]) is Fit.NOW
    assert p.fits(["debian", "debian"]) is Fit.NEVER
    occupy(p, "h1")
    assert p.fits(["debian"]) is Fit.LATER
    assert p.fits(["big"]) is Fit.NOW


def node(state: NodeState, allocated_to: str | None = "100") -> Node:
    return Node(label="debian", provider="p", state=state, allocated_to=allocated_to)


@pytest.mark.parametrize(
    ("state", "allocated_to", "requests", "reason"),
    [
        (NodeState.USED, "100", {"100"}, "used"),
        (NodeState.FAILED, "100", {"100"}, "failed"),
        (NodeState.DELETING, "100", {"100"}, "deletion not finished"),
        (NodeState.READY, "100", {"100"}, None),
        (NodeState.IN_USE, "100", {"100"}, None),
        (NodeState.READY, "100", set(), "request 100 is gone"),
        (NodeState.IN_USE, "100", set(), "request 100 is gone"),
        (NodeState.READY, None, {"100"}, "not allocated to any request"),
    ],
)
def test_deletion_reason(state, allocated_to, requests, reason):
    assert deletion_reason(node(state, allocated_to), requests) == reason
