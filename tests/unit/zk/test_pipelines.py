"""The scheduler's item cache (``lockgate.zk.pipelines.ItemCache``): what
it keeps between passes, and what makes it read a record again."""

from __future__ import annotations

import json

from lockgate.model.builds import BuildsetResult
from lockgate.model.queue import ChangeQueue, PipelineState, QueueItem
from lockgate.zk import paths
from lockgate.zk.pipelines import ItemCache, LoadedPipeline, PipelineStore


def _item(uuid: str, ref: str = "refs/heads/master") -> QueueItem:
    return QueueItem(
        uuid=uuid,
        tenant="t",
        pipeline="gate",
        queue="q",
        event_id=f"ev-{uuid}",
        event_type="ref-updated",
        connection="git",
        project="org/a",
        ref=ref,
    )


def _write(store: PipelineStore, uuids: list[str]) -> None:
    state = PipelineState(tenant="t", pipeline="gate")
    state.queues.append(ChangeQueue(name="q", items=list(uuids)))
    loaded = LoadedPipeline(state=state, items={u: _item(u) for u in uuids})
    store.save_items(loaded, set(uuids))
    store.save_state(loaded)


def test_unchanged_items_come_from_the_cache(zk_client):
    store = PipelineStore(zk_client, "t")
    _write(store, ["a", "b"])
    cache = ItemCache()
    first = store.load("gate", cache=cache)
    store.remember(first, cache)
    assert len(cache) == 2
    second = store.load("gate", cache=cache)
    # The very objects of the completed pass, with the versions read.
    assert second.items["a"] is first.items["a"]
    assert second.item_versions == first.item_versions


def test_a_write_by_anyone_else_is_read_again(zk_client):
    store = PipelineStore(zk_client, "t")
    _write(store, ["a", "b"])
    cache = ItemCache()
    first = store.load("gate", cache=cache)
    store.remember(first, cache)
    # A peer scheduler (another store, no cache) changes item b.
    peer = PipelineStore(zk_client, "t")
    theirs = peer.load("gate")
    theirs.items["b"].ref = "refs/heads/stable"
    peer.save_items(theirs, {"b"})
    second = store.load("gate", cache=cache)
    assert second.items["a"] is first.items["a"]
    assert second.items["b"] is not first.items["b"]
    assert second.items["b"].ref == "refs/heads/stable"
    assert second.item_versions["b"] == theirs.item_versions["b"]


def test_a_pass_that_did_not_complete_leaves_nothing_behind(zk_client):
    store = PipelineStore(zk_client, "t")
    _write(store, ["a"])
    cache = ItemCache()
    first = store.load("gate", cache=cache)
    store.remember(first, cache)
    failed = store.load("gate", cache=cache)
    failed.items["a"].ref = "refs/heads/changed-in-memory-only"  # then the pass dies
    again = store.load("gate", cache=cache)
    assert again.items["a"] is not failed.items["a"]
    assert again.items["a"].ref == "refs/heads/master"


def test_items_written_by_the_pass_are_kept_with_their_new_versions(zk_client):
    store = PipelineStore(zk_client, "t")
    _write(store, ["a"])
    cache = ItemCache()
    loaded = store.load("gate", cache=cache)
    loaded.items["a"].ref = "refs/heads/next"
    store.save_items(loaded, {"a"})
    store.remember(loaded, cache)
    again = store.load("gate", cache=cache)
    assert again.items["a"] is loaded.items["a"]
    store.remember(again, cache)
    # A record deleted and written again under the same uuid, up to the same
    # version, is not mistaken for the cached one (its creation differs).
    peer = PipelineStore(zk_client, "t")
    theirs = peer.load("gate")
    peer.delete_items(theirs, {"a"})
    rewritten = LoadedPipeline(state=theirs.state, items={"a": _item("a")})
    peer.save_items(rewritten, {"a"})  # created: version 0
    rewritten.items["a"].ref = "refs/heads/rewritten"
    peer.save_items(rewritten, {"a"})  # version 1, as the cached one
    assert rewritten.item_versions["a"] == again.item_versions["a"]
    fresh = store.load("gate", cache=cache)
    assert fresh.items["a"].ref == "refs/heads/rewritten"


def test_items_that_come_and_go_between_passes(zk_client):
    """The item folder is listed from a view kept by watches: an item
    record written or deleted since the last pass is seen by the next."""
    store = PipelineStore(zk_client, "t")
    _write(store, ["a", "b"])
    cache = ItemCache()
    store.remember(store.load("gate", cache=cache), cache)
    peer = PipelineStore(zk_client, "t")
    theirs = peer.load("gate")
    peer.delete_items(theirs, {"b"})
    # Written but not (yet) listed by the pipeline record: an orphan.
    peer.save_items(LoadedPipeline(state=theirs.state, items={"c": _item("c")}), {"c"})
    second = store.load("gate", cache=cache)
    assert set(second.items) == {"a"} and second.orphans == {"c"}
    store.remember(second, cache)
    listed = peer.load("gate")
    listed.state.queues[0].items = ["a", "c"]
    peer.save_state(listed)
    third = store.load("gate", cache=cache)
    assert set(third.items) == {"a", "c"} and not third.orphans
    assert third.items["a"] is second.items["a"]


def test_item_results_are_the_same_strings_on_the_wire(zk_client):
    """An item's results are enums in memory and the strings they always
    were in ZooKeeper: a record written before they were typed (plain
    strings) reads back as the enums, and encoding it again gives the same
    JSON."""
    store = PipelineStore(zk_client, "t")
    _write(store, ["a"])
    path = paths.pipeline_item("t", "gate", "a")
    older = store.records.load(path)
    assert older is not None
    data = dict(older.data)
    data["result"], data["held_result"] = "MERGE_CONFLICT", "CONFIG_ERROR"
    data["jobs"] = []
    store.records.save(path, data)
    item = store.load("gate").items["a"]
    assert item.result is BuildsetResult.MERGE_CONFLICT
    assert item.held_result is BuildsetResult.CONFIG_ERROR
    assert json.dumps(item.to_dict(), sort_keys=True) == json.dumps(data, sort_keys=True)
