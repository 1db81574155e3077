"""The status answer says which item each item of a dependent queue is tested on."""

from __future__ import annotations

from lockgate.model.queue import ChangeQueue, PipelineState, QueueItem, pipeline_status_json


def item(uuid: str, ahead: str | None) -> QueueItem:
    return QueueItem(
        uuid=uuid,
        tenant="t",
        pipeline="gate",
        queue="shared",
        event_id=f"ev-{uuid}",
        event_type="comment-added",
        connection="gerrit",
        project="org/app",
        ref="refs/heads/main",
        branch="main",
        item_ahead=ahead,
    )


def test_item_ahead_and_items_behind() -> None:
    # c was tested on a once b failed: b stays in the queue, built on a,
    # and nothing is built on b.
    items = {"a": item("a", None), "b": item("b", "a"), "c": item("c", "a")}
    state = PipelineState(
        tenant="t", pipeline="gate", queues=[ChangeQueue("shared", ["a", "b", "c"], False)]
    )
    entry = pipeline_status_json("gate", state, items, {"manager": "dependent"}, now=0.0)
    [[a, b, c]] = entry["change_queues"][0]["heads"]
    assert [(x["id"], x["item_ahead"]) for x in (a, b, c)] == [
        ("a", None),
        ("b", "a"),
        ("c", "a"),
    ]
    assert (a["items_behind"], b["items_behind"], c["items_behind"]) == (["b", "c"], [], [])
