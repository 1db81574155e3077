"""A scheduler round after one that only deleted requests reuses the
observation (``processor._observed_after``) instead of reading every
request record again; after anything else it did to requests it reads."""

from __future__ import annotations

from lockgate.model.nodes import NodeRequest
from lockgate.model.queue import PipelineState
from lockgate.scheduler.manager.actions import (
    CancelBuildRequest,
    Decision,
    DeleteBuildRequest,
    DeleteNodeRequest,
    Log,
)
from lockgate.scheduler.processor import _observed_after


def node(request_id: str) -> NodeRequest:
    return NodeRequest(["debian"], "t", "gate", "bs1", "tox", "e1", id=request_id)


def decision(*actions) -> Decision:  # noqa: ANN002
    return Decision(
        state=PipelineState(tenant="t", pipeline="gate"), items={}, actions=list(actions)
    )


def test_deletes_are_applied_to_the_observation():
    builds = {"b1": object(), "b2": object()}
    observed = ({"1": node("1"), "2": node("2")}, builds)
    nodes_after, builds_after = _observed_after(
        observed,
        decision(
            Log(level=20, message="x"),
            DeleteNodeRequest(request_id="1"),
            DeleteBuildRequest("default", "b1"),
        ),
    )
    assert set(nodes_after) == {"2"} and set(builds_after) == {"b2"}
    assert builds_after["b2"] is builds["b2"]
    assert set(observed[0]) == {"1", "2"}  # what the last decision saw is untouched


def test_any_other_request_action_means_observe_again():
    observed = ({"1": node("1")}, {})
    assert _observed_after(observed, decision(CancelBuildRequest("default", "b1"))) is None
    assert _observed_after(observed, decision())[0] == observed[0]
