"""Which autohold request a finished build matches (Zuul's rules)."""

from __future__ import annotations

import pytest
from lockgate.model.holds import (
    HoldRequest,
    HoldScope,
    change_ref_filter,
    select_hold,
    validate_ref_filter,
)


def hold(ref_filter: str = ".*", **kw: object) -> HoldRequest:
    fields: dict[str, object] = {
        "tenant": "demo",
        "project": "org/app",
        "job": "unit",
        "reason": "debug",
        "ref_filter": ref_filter,
    }
    fields.update(kw)
    return HoldRequest(**fields)  # type: ignore[arg-type]


def pick(
    requests: list[HoldRequest],
    ref: str = "refs/changes/01/1/1",
    result: str = "FAILURE",
    **kw: str,
):  # noqa: ANN201
    args = {"tenant": "demo", "projects": ["org/app", "review.example.com/org/app"], "job": "unit"}
    args.update(kw)
    return select_hold(requests, ref=ref, result=result, **args)  # type: ignore[arg-type]


def test_only_failing_results_hold():
    requests = [hold()]
    for result in ("FAILURE", "POST_FAILURE", "TIMED_OUT", "RETRY_LIMIT"):
        assert pick(requests, result=result) is requests[0]
    for result in ("SUCCESS", "CANCELED", "ABORTED", "NODE_FAILURE", "SKIPPED"):
        assert pick(requests, result=result) is None


def test_tenant_project_job_must_match():
    requests = [hold()]
    assert pick(requests, tenant="other") is None
    assert pick(requests, job="lint") is None
    assert pick(requests, projects=["org/lib"]) is None  # type: ignore[arg-type]


def test_the_most_specific_request_wins():
    any_ref = hold(".*", id="1")
    change = hold(change_ref_filter(1), id="2")
    ref = hold("refs/changes/01/1/1", id="3")
    assert any_ref.scope is HoldScope.JOB and change.scope is HoldScope.CHANGE
    assert ref.scope is HoldScope.REF
    assert pick([any_ref, ref, change]) is ref
    assert pick([any_ref, change]) is change
    assert pick([any_ref, change], ref="refs/changes/02/2/1") is any_ref
    # GitHub heads match the change filter too.
    assert pick([hold(change_ref_filter(7))], ref="refs/pull/7/head") is not None


def test_a_used_up_request_holds_no_more():
    request = hold(max_count=2)
    request.record_hold("b1", ["n1"], 100.0)
    assert pick([request]) is request and request.expired is None
    request.record_hold("b2", ["n2"], 200.0)
    assert pick([request]) is None
    assert request.expired == 200.0
    assert request.to_api()["nodes"] == [
        {"build": "b1", "nodes": ["n1"]},
        {"build": "b2", "nodes": ["n2"]},
    ]


@pytest.mark.parametrize(("text", "ok"), [(".*", True), ("refs/heads/(main", False)])
def test_ref_filters_are_checked(text, ok):
    assert (validate_ref_filter(text) is None) is ok


def test_a_held_node_shows_its_hold_in_zuuls_node_json():
    from lockgate.model.nodes import Node, NodeState

    node = Node(
        label="debian",
        provider="local",
        id="0000000007",
        state=NodeState.HOLD,
        comment="flaky",
        hold_job="demo org/app unit .*",
        held_at=1000.0,
        hold_expiration=60,
    )
    shown = node.to_api()
    assert shown["state"] == "hold" and shown["comment"] == "flaky"
    assert shown["type"] == ["debian"] and shown["hold_job"] == "demo org/app unit .*"
    assert shown["hold_expiration"] == 60 and shown["hold_until"] == 1060.0
