"""Node requests, build requests and nodes: submit, get, update, claim."""

from __future__ import annotations

import threading
import uuid

import pytest
from lockgate.model.builds import BuildRequest, BuildState, RepoState
from lockgate.model.jobs import FrozenJob
from lockgate.model.nodes import Node, NodeRequest, NodeRequestState, NodeState
from lockgate.zk.errors import RecordConflict, RecordNotFound
from lockgate.zk.requests import (
    BuildRequestStore,
    NodeRequestStore,
    NodeStore,
    build_request_zones,
    build_zone_view,
)

from tests.fixtures.waiting import wait_for


def node_request(job: str = "tox") -> NodeRequest:
    return NodeRequest(
        labels=["debian"],
        tenant="t",
        pipeline="check",
        buildset_uuid="bs1",
        job_name=job,
        event_id="e1",
    )


def build_request(zone: str = "default") -> BuildRequest:
    repo = RepoState(
        connection="git",
        project="demo/app",
        canonical_name="example.org/demo/app",
        url="file:///tmp/demo",
        branch="main",
        ref="refs/heads/main",
        commit="0" * 40,
    )
    return BuildRequest(
        uuid=uuid.uuid4().hex,
        tenant="t",
        pipeline="check",
        buildset_uuid="bs1",
        event_id="e1",
        job=FrozenJob.from_dict({"name": "tox"}),
        project=repo,
        repos=[repo],
        zone=zone,
    )


def test_node_requests_get_sequential_ids_in_submission_order(zk_client):
    store = NodeRequestStore(zk_client)
    submitted = [node_request(f"job{i}") for i in range(5)]
    ids = [store.submit(r) for r in submitted]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [r.id for r in submitted] == ids
    listed = store.list()
    assert [v.record.job_name for v in listed] == [f"job{i}" for i in range(5)]
    assert listed[0].record == submitted[0]
    assert [v.record.id for v in store.pending()] == ids


def test_update_with_stale_version_conflicts(zk_client, zk_connect):
    store = NodeRequestStore(zk_client)
    rid = store.submit(node_request())
    mine = store.get(rid)
    theirs = NodeRequestStore(zk_connect()).get(rid)
    theirs.record.state = NodeRequestState.FAILED
    NodeRequestStore(zk_connect()).update(theirs.record, theirs.version)
    mine.record.state = NodeRequestState.FULFILLED
    with pytest.raises(RecordConflict, match="re-read it and retry"):
        store.update(mine.record, mine.version)
    fresh = store.get(rid)
    assert fresh.record.state == NodeRequestState.FAILED
    fresh.record.state = NodeRequestState.FULFILLED
    fresh.record.node_ids = ["0000000001"]
    new_version = store.update(fresh.record, fresh.version)
    assert new_version == fresh.version + 1
    assert store.get(rid).record.node_ids == ["0000000001"]


def test_update_of_deleted_record_is_an_error(zk_client):
    store = NodeRequestStore(zk_client)
    rid = store.submit(node_request())
    got = store.get(rid)
    assert store.delete(rid) is True
    assert store.delete(rid) is False
    assert store.get(rid) is None
    with pytest.raises(RecordConflict):
        store.update(got.record, got.version)
    with pytest.raises(RecordNotFound):
        store.update(got.record, None)


def test_two_launchers_never_both_claim_a_request(zk_client, zk_connect):
    rid = NodeRequestStore(zk_client).submit(node_request())
    stores = [NodeRequestStore(zk_connect()) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    claims: list = []

    def claim(store: NodeRequestStore) -> None:
        barrier.wait()
        lock = store.lock(rid)
        claims.append(lock)

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    held = [lock for lock in claims if lock is not None]
    assert len(held) == 1
    assert NodeRequestStore(zk_client).is_locked(rid)
    held[0].release()
    assert not NodeRequestStore(zk_client).is_locked(rid)
    again = stores[0].lock(rid)
    assert again is not None and again.held
    again.release()


def test_blocking_lock_with_timeout_returns_none(zk_client, zk_connect):
    rid = NodeRequestStore(zk_client).submit(node_request())
    holder = NodeRequestStore(zk_client).lock(rid)
    assert holder is not None
    assert NodeRequestStore(zk_connect()).lock(rid, blocking=True, timeout=0.5) is None
    holder.release()


def test_build_requests_by_zone_and_state(zk_client):
    default = BuildRequestStore(zk_client)
    east = BuildRequestStore(zk_client, "east")
    a, b = build_request(), build_request()
    default.submit(a)
    default.submit(b)
    east.submit(build_request("east"))
    with pytest.raises(ValueError, match="zone"):
        default.submit(build_request("east"))
    with pytest.raises(RecordConflict):
        default.submit(a)
    assert {v.record.uuid for v in default.list()} == {a.uuid, b.uuid}
    assert len(east.list()) == 1
    got = default.get(a.uuid)
    assert got.record == a
    got.record.state = BuildState.RUNNING
    default.update(got.record, got.version)
    assert [v.record.uuid for v in default.by_state(BuildState.RUNNING)] == [a.uuid]
    assert [v.record.uuid for v in default.by_state(BuildState.REQUESTED)] == [b.uuid]


def test_the_zones_of_build_requests_are_listed_and_watched(zk_client):
    """A reader of every zone (the scheduler) finds a zone's folder the
    moment its first request is submitted, without knowing its name."""
    assert build_request_zones(zk_client) == []
    view = build_zone_view(zk_client)
    assert view.refresh() == {}
    BuildRequestStore(zk_client).submit(build_request())
    assert sorted(view.refresh().values()) == ["default"]
    BuildRequestStore(zk_client, "east/1").submit(build_request("east/1"))
    assert sorted(view.refresh().values()) == ["default", "east/1"]
    assert build_request_zones(zk_client) == ["default", "east/1"]


def test_running_build_without_lock_is_orphaned(zk_client, zk_connect):
    scheduler = BuildRequestStore(zk_client)
    request = build_request()
    scheduler.submit(request)
    executor_client = zk_connect()
    executor = BuildRequestStore(executor_client)
    lock = executor.lock(request.uuid)
    got = executor.get(request.uuid)
    got.record.state = BuildState.RUNNING
    executor.update(got.record, got.version)
    assert scheduler.is_locked(request.uuid)
    assert scheduler.orphaned() == []
    executor_client.disconnect()  # the executor goes away; its lock with it
    assert lock.held  # it cannot know without a session: tests the scheduler side
    wait_for(lambda: not scheduler.is_locked(request.uuid), 10, "lock gone")
    assert [v.record.uuid for v in scheduler.orphaned()] == [request.uuid]


def test_nodes_create_lock_and_list_by_state(zk_client):
    store = NodeStore(zk_client)
    n1 = Node(label="debian", provider="local")
    n2 = Node(label="debian", provider="local", state=NodeState.READY)
    id1, id2 = store.create(n1), store.create(n2)
    assert n1.id == id1 and id1 < id2
    assert [v.record.id for v in store.by_state(NodeState.READY)] == [id2]
    lock = store.lock(id2)
    assert lock is not None and store.is_locked(id2)
    assert store.lock(id2) is None
    lock.release()
    assert store.delete(id2)
    assert [v.record.id for v in store.list()] == [id1]


def test_watch_reports_new_requests(zk_client, zk_connect):
    store = NodeRequestStore(zk_client)
    seen: list[list[str]] = []
    stop = store.watch(seen.append)
    wait_for(lambda: seen, 10, "initial call")
    rid = NodeRequestStore(zk_connect()).submit(node_request())
    wait_for(lambda: any(rid in ids for ids in seen), 10, "new request seen")
    stop()


def test_watch_record_reports_changes_and_deletion(zk_client, zk_connect):
    store = NodeRequestStore(zk_client)
    rid = store.submit(node_request())
    states: list = []
    store.watch_record(rid, lambda v: states.append(v.record.state if v else None))
    wait_for(lambda: states == [NodeRequestState.REQUESTED], 10, "initial state")
    other = NodeRequestStore(zk_connect())
    got = other.get(rid)
    got.record.state = NodeRequestState.FULFILLED
    other.update(got.record, got.version)
    wait_for(lambda: NodeRequestState.FULFILLED in states, 10, "fulfilled seen")
    other.delete(rid)
    wait_for(lambda: states[-1] is None, 10, "deletion seen")


def test_locked_checks_many_locks_at_once(zk_client, zk_connect):
    scheduler = BuildRequestStore(zk_client)
    held, free, never_locked = build_request(), build_request(), build_request()
    for request in (held, free, never_locked):
        scheduler.submit(request)
    executor = BuildRequestStore(zk_connect())
    lock = executor.lock(held.uuid)
    released = executor.lock(free.uuid)
    released.release()
    assert lock is not None
    assert scheduler.locked([held.uuid, free.uuid, never_locked.uuid, "no-such-id"]) == {
        held.uuid: True,
        free.uuid: False,
        never_locked.uuid: False,
        "no-such-id": False,
    }
    lock.release()
    assert scheduler.locked([held.uuid]) == {held.uuid: False}
