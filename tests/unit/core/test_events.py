"""Result events (``lockgate.model.events.ResultEvent``): each kind's
``result`` comes back from its JSON as the enum of its own vocabulary, the
JSON holds the strings it always held, and a value outside the vocabulary
fails naming the kind and the value."""

from __future__ import annotations

import json

import pytest
from lockgate.model.builds import BuildResult
from lockgate.model.events import ResultEvent, ResultKind
from lockgate.model.merges import MergeStatus
from lockgate.model.nodes import NodeRequestState


def event(kind: ResultKind | str, result: object = None) -> ResultEvent:
    return ResultEvent(
        kind=kind,  # a string too: what records written before the enums hold
        tenant="demo",
        pipeline="check",
        buildset_uuid="bs",
        request_id="r1",
        result=result,
        event_id="e1",
        timestamp=1.0,
    )


@pytest.mark.parametrize(
    ("kind", "result", "wire"),
    [
        (ResultKind.BUILD_STARTED, None, None),
        (ResultKind.BUILD_PAUSED, None, None),
        (ResultKind.BUILD_COMPLETED, BuildResult.POST_FAILURE, "POST_FAILURE"),
        (ResultKind.MERGE_COMPLETED, MergeStatus.CONFLICT, "conflict"),
        (ResultKind.NODES_PROVISIONED, NodeRequestState.FAILED, "failed"),
    ],
)
def test_each_kind_round_trips_through_json(
    kind: ResultKind, result: object, wire: str | None
) -> None:
    sent = event(kind, result)
    data = json.loads(json.dumps(sent.to_dict()))
    # The wire format is the strings the queue held before the enums.
    assert data["kind"] == kind.value and type(data["kind"]) is str
    assert data["result"] == wire and (wire is None or type(data["result"]) is str)
    back = ResultEvent.from_dict(data)
    assert back == sent
    assert type(back.kind) is ResultKind
    assert back.result is result  # the enum member itself, not an equal string


def test_a_record_written_with_strings_reads_back_as_enums() -> None:
    """What executors and launchers wrote before the fields were typed."""
    old = {
        "kind": "merge-completed",
        "tenant": "demo",
        "pipeline": "check",
        "buildset_uuid": "",
        "request_id": "m1",
        "result": "merged",
        "event_id": "e1",
        "timestamp": 1.0,
    }
    back = ResultEvent.from_dict(old)
    assert back.kind is ResultKind.MERGE_COMPLETED
    assert back.result is MergeStatus.MERGED
    assert back.to_dict() == old


def test_same_string_decodes_by_kind() -> None:
    """``error`` is a merge status; a build's error is ``ERROR``: the kind
    picks the vocabulary, so one never passes for the other."""
    assert event("merge-completed", "error").result is MergeStatus.ERROR
    with pytest.raises(ValueError, match="'error' for a build-completed"):
        event("build-completed", "error")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("build-completed", "GREAT"),
        ("merge-completed", "SUCCESS"),
        ("nodes-provisioned", "merged"),
    ],
)
def test_an_unknown_result_names_the_kind_and_the_value(kind: str, value: str) -> None:
    data = event(kind).to_dict() | {"result": value}
    with pytest.raises(ValueError) as raised:
        ResultEvent.from_dict(data)
    message = str(raised.value)
    assert f"{value!r}" in message and kind in message, message


def test_a_kind_without_a_result_refuses_one() -> None:
    with pytest.raises(ValueError, match="build-started result event carries no result"):
        ResultEvent.from_dict(event("build-started").to_dict() | {"result": "SUCCESS"})


def test_an_unknown_kind_names_it() -> None:
    with pytest.raises(ValueError, match="unknown result event kind 'build-exploded'"):
        ResultEvent.from_dict(event("build-started").to_dict() | {"kind": "build-exploded"})
