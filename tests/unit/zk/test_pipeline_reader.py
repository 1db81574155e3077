"""The web's pipeline reader (``lockgate.zk.pipeline_reader``): it follows a
tenant's pipeline and item records by watches, decodes only the records that
changed, and hands back the same objects for the rest."""

from __future__ import annotations

from lockgate.model.queue import ChangeQueue, PipelineState, QueueItem
from lockgate.zk.client import ZKClient
from lockgate.zk.pipeline_reader import PipelineReader
from lockgate.zk.pipelines import LoadedPipeline, PipelineStore


def _item(uuid: str, pipeline: str = "gate", ref: str = "refs/heads/master") -> QueueItem:
    return QueueItem(
        uuid=uuid,
        tenant="t",
        pipeline=pipeline,
        queue="q",
        event_id=f"ev-{uuid}",
        event_type="ref-updated",
        connection="git",
        project="org/a",
        ref=ref,
    )


def _write(store: PipelineStore, pipeline: str, uuids: list[str]) -> None:
    state = PipelineState(tenant="t", pipeline=pipeline)
    state.queues.append(ChangeQueue(name="q", items=list(uuids)))
    loaded = LoadedPipeline(state=state, items={u: _item(u, pipeline) for u in uuids})
    store.save_items(loaded, set(uuids))
    store.save_state(loaded)


def test_a_quiet_tenant_is_not_read_again(zk_client: ZKClient) -> None:
    store = PipelineStore(zk_client, "t")
    _write(store, "gate", ["a", "b"])
    _write(store, "check", ["c"])
    reader = PipelineReader(zk_client, "t")
    first = reader.read()
    assert reader.decoded == 5  # two states, three items
    assert sorted(first.pipelines) == ["check", "gate"]
    assert sorted(first.pipelines["gate"][1]) == ["a", "b"]
    second = reader.read()
    assert reader.decoded == 5
    assert second is first  # nothing moved: the very snapshot
    reader.close()


def test_a_changed_item_is_read_alone_and_the_rest_kept(zk_client: ZKClient) -> None:
    store = PipelineStore(zk_client, "t")
    _write(store, "gate", ["a", "b"])
    _write(store, "check", ["c"])
    reader = PipelineReader(zk_client, "t")
    first = reader.read()
    loaded = store.load("gate")
    loaded.items["b"].ref = "refs/heads/stable"
    store.save_items(loaded, {"b"})
    second = reader.read()
    assert reader.decoded == 6  # b alone
    assert second.fingerprint != first.fingerprint
    gate_state, gate_items = second.pipelines["gate"]
    assert gate_items["b"].ref == "refs/heads/stable"
    assert gate_items["a"] is first.pipelines["gate"][1]["a"]
    assert gate_state is first.pipelines["gate"][0]
    # A pipeline none of whose records moved is the same objects.
    assert second.pipelines["check"] is first.pipelines["check"]
    reader.close()


def test_items_and_pipelines_that_come_and_go(zk_client: ZKClient) -> None:
    store = PipelineStore(zk_client, "t")
    _write(store, "gate", ["a", "b"])
    reader = PipelineReader(zk_client, "t")
    reader.read()
    # b leaves the queue (unlisted, then deleted), d joins it.
    loaded = store.load("gate")
    loaded.state.queues[0].items = ["a", "d"]
    loaded.items["d"] = _item("d")
    store.save_items(loaded, {"d"})
    store.save_state(loaded)
    store.delete_items(loaded, {"b"})
    _write(store, "post", ["p"])
    snapshot = reader.read()
    assert sorted(snapshot.pipelines) == ["gate", "post"]
    assert sorted(snapshot.pipelines["gate"][1]) == ["a", "d"]
    assert [q.items for q in snapshot.pipelines["gate"][0].queues] == [["a", "d"]]
    store.delete_items(store.load("post"), {"p"})
    store.delete_pipeline("post")
    snapshot = reader.read()
    assert sorted(snapshot.pipelines) == ["gate"]
    reader.close()


def test_a_listed_item_without_a_record_is_left_out(zk_client: ZKClient) -> None:
    """A state may list an item whose record is not there (yet): skipped, as
    ``read_pipelines`` skips it."""
    store = PipelineStore(zk_client, "t")
    state = PipelineState(tenant="t", pipeline="gate")
    state.queues.append(ChangeQueue(name="q", items=["a", "ghost"]))
    loaded = LoadedPipeline(state=state, items={"a": _item("a")})
    store.save_items(loaded, {"a"})
    store.save_state(loaded)
    reader = PipelineReader(zk_client, "t")
    assert sorted(reader.read().pipelines["gate"][1]) == ["a"]
    loaded = store.load("gate")
    loaded.items["ghost"] = _item("ghost")
    store.save_items(loaded, {"ghost"})
    assert sorted(reader.read().pipelines["gate"][1]) == ["a", "ghost"]
    reader.close()


def test_a_tenant_without_pipelines(zk_client: ZKClient) -> None:
    reader = PipelineReader(zk_client, "nobody")
    assert reader.read().pipelines == {}
    store = PipelineStore(zk_client, "nobody")
    state = PipelineState(tenant="nobody", pipeline="gate")
    store.save_state(LoadedPipeline(state=state, items={}))
    assert list(reader.read().pipelines) == ["gate"]
    reader.close()


def test_a_tombstone_is_left_out_and_not_read_again(zk_client: ZKClient) -> None:
    """A deleter that died between its tombstone and the delete leaves one."""
    import json

    from lockgate.zk import paths

    store = PipelineStore(zk_client, "t")
    _write(store, "gate", ["a", "b"])
    reader = PipelineReader(zk_client, "t")
    reader.read()
    tombstone = json.dumps({"schema": 1, "deleted": True}).encode()
    zk_client.kazoo.set(paths.pipeline_item("t", "gate", "b"), tombstone)
    snapshot = reader.read()
    assert sorted(snapshot.pipelines["gate"][1]) == ["a"]
    decoded = reader.decoded
    assert reader.read() is snapshot
    assert reader.decoded == decoded
    reader.close()
