"""Folders mirrored by watches (``lockgate.zk.views``), through the stores
that hand them out (``record_view``, ``lock_view``): what a view shows after
writes by this client and by others, after a lost session, when a refresh
fails half way, and what it keeps in memory."""

from __future__ import annotations

import os
import threading

import pytest
from lockgate.model.builds import BuildState
from lockgate.zk import paths
from lockgate.zk.errors import ZKError
from lockgate.zk.records import RecordStore
from lockgate.zk.requests import BuildRequestStore, NodeRequestStore
from lockgate.zk.views import ChildRead, FolderView, sync_watches

from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import expire_session
from tests.unit.zk.test_requests import build_request, node_request


def set_state(store: BuildRequestStore, uuid: str, state: BuildState) -> None:
    got = store.get(uuid)
    assert got is not None
    got.record.state = state
    store.update(got.record, got.version)


def test_a_view_reads_only_what_changed(zk_client, zk_connect):
    scheduler = BuildRequestStore(zk_client)
    a, b, c = build_request(), build_request(), build_request()
    for request in (a, b, c):
        scheduler.submit(request)
    view = scheduler.record_view()
    first = view.refresh()
    assert set(first) == {a.uuid, b.uuid, c.uuid} and view.reads == 3
    assert first[a.uuid].record == a

    executor = BuildRequestStore(zk_connect())
    set_state(executor, a.uuid, BuildState.RUNNING)
    executor.delete(b.uuid)
    recreated = build_request()
    recreated.uuid = c.uuid
    recreated.buildset_uuid = "bs2"
    executor.delete(c.uuid)
    executor.submit(recreated)  # the same id again, at version 0, other contents
    d = build_request()
    executor.submit(d)

    second = view.refresh()
    assert set(second) == {a.uuid, c.uuid, d.uuid}
    assert second[a.uuid].record.state is BuildState.RUNNING
    assert second[a.uuid].version == 1
    assert second[c.uuid].record.buildset_uuid == "bs2"
    assert {u: v for u, v in second.items()} == {v.record.uuid: v for v in scheduler.list()}
    assert view.reads == 3 + 3  # a, c and d read again; nothing else
    third = view.refresh()
    assert view.reads == 6 and all(third[u] is second[u] for u in third)


def test_a_write_that_returned_is_in_the_next_refresh(zk_client, zk_connect):
    """The barrier: no waiting for watch events, for this client's own
    writes and for another session's."""
    scheduler = BuildRequestStore(zk_client)
    view = scheduler.record_view()
    assert view.refresh() == {}
    executor = BuildRequestStore(zk_connect())
    for attempt in range(30):
        own = build_request()
        scheduler.submit(own)
        assert own.uuid in view.refresh(), f"own submit {attempt} not seen"
        set_state(executor, own.uuid, BuildState.RUNNING)
        assert view.refresh()[own.uuid].record.state is BuildState.RUNNING
        set_state(executor, own.uuid, BuildState.COMPLETED)
        assert view.refresh()[own.uuid].record.state is BuildState.COMPLETED
        scheduler.delete(own.uuid)
        assert own.uuid not in view.refresh()


def test_one_barrier_for_several_views(zk_client, zk_connect):
    nodes = NodeRequestStore(zk_client)
    builds = BuildRequestStore(zk_client)
    launcher = NodeRequestStore(zk_connect())
    executor = BuildRequestStore(zk_connect())
    nodes.record_view().refresh()
    builds.record_view().refresh()
    request_id = launcher.submit(node_request())
    build = build_request()
    executor.submit(build)
    sync_watches(zk_client)
    assert request_id in nodes.record_view().refresh(synced=True)
    assert build.uuid in builds.record_view().refresh(synced=True)


def test_lock_view_follows_claims_releases_and_dead_holders(zk_server, zk_client, zk_connect):
    scheduler = BuildRequestStore(zk_client)
    held, free = build_request(), build_request()
    scheduler.submit(held)
    scheduler.submit(free)
    locks = scheduler.lock_view()
    assert locks.refresh() == {}  # nothing ever locked: no lock folder yet

    executor_client = zk_connect(session_timeout=2.0)
    executor = BuildRequestStore(executor_client)
    claim = executor.lock(held.uuid)
    assert claim is not None
    other = executor.lock(free.uuid)
    assert other is not None
    assert locks.refresh() == {held.uuid: True, free.uuid: True}
    other.release()
    assert locks.refresh() == {held.uuid: True}  # its lock folder stays, empty
    assert scheduler.locked([held.uuid, free.uuid]) == {held.uuid: True, free.uuid: False}

    # The executor dies: its session expires and its lock with it.
    expire_session(zk_server, executor_client)
    wait_for(lambda: not scheduler.is_locked(held.uuid), 10, "the dead executor's lock gone")
    assert locks.refresh() == {}

    # Deleting the records removes their lock folders: nothing is kept.
    scheduler.delete(held.uuid)
    scheduler.delete(free.uuid)
    assert locks.refresh() == {} and len(locks) == 0


def test_a_lost_session_reads_everything_again(zk_server, zk_client, zk_connect):
    scheduler = BuildRequestStore(zk_client)
    kept, changed, deleted = build_request(), build_request(), build_request()
    for request in (kept, changed, deleted):
        scheduler.submit(request)
    view = scheduler.record_view()
    assert set(view.refresh()) == {kept.uuid, changed.uuid, deleted.uuid}

    old_session = zk_client.session_id
    expire_session(zk_server, zk_client)
    # Meanwhile (the watches of the old session gone with it) others write.
    executor = BuildRequestStore(zk_connect())
    set_state(executor, changed.uuid, BuildState.RUNNING)
    executor.delete(deleted.uuid)
    added = build_request()
    executor.submit(added)
    wait_for(
        lambda: zk_client.connected and zk_client.session_id != old_session,
        20,
        "a new session",
    )
    after = view.refresh()
    assert set(after) == {kept.uuid, changed.uuid, added.uuid}
    assert after[changed.uuid].record.state is BuildState.RUNNING
    # The watches are set again in the new session.
    set_state(executor, kept.uuid, BuildState.RUNNING)
    assert view.refresh()[kept.uuid].record.state is BuildState.RUNNING


def test_a_folder_made_after_the_first_refresh(zk_client):
    store = RecordStore(zk_client)
    folder = paths.named_lock("views-test")  # any folder of the tree will do
    view = FolderView(zk_client, folder, ChildRead.DATA, lambda name, answer: answer[0])
    assert view.refresh() == {}
    store.create(f"{folder}/one", {"n": 1})
    assert set(view.refresh()) == {"one"}
    store.delete(f"{folder}/one")
    assert view.refresh() == {}


def test_a_failed_refresh_leaves_its_work_for_the_next(zk_client, zk_connect):
    scheduler = BuildRequestStore(zk_client)
    first = build_request()
    scheduler.submit(first)
    broken = threading.Event()
    decode = scheduler._from_answer

    def convert(name, answer):  # noqa: ANN001, ANN202
        if broken.is_set():
            raise ZKError("cannot decode (test)")
        return decode(name, answer)

    view = FolderView(zk_client, paths.build_requests("default"), ChildRead.DATA, convert)
    assert set(view.refresh()) == {first.uuid}
    executor = BuildRequestStore(zk_connect())
    set_state(executor, first.uuid, BuildState.RUNNING)
    second = build_request()
    executor.submit(second)
    broken.set()
    with pytest.raises(ZKError, match="cannot decode"):
        view.refresh()
    broken.clear()
    after = view.refresh()
    assert set(after) == {first.uuid, second.uuid}
    assert after[first.uuid].record.state is BuildState.RUNNING


def test_a_large_record_is_read_from_its_shards(zk_client, zk_connect):
    scheduler = BuildRequestStore(zk_client)
    view = scheduler.record_view()
    view.refresh()
    big = build_request()
    # Random text does not compress much: over a node's limit, so sharded.
    big.job.vars = {"blob": os.urandom(800 * 1024).hex()}
    BuildRequestStore(zk_connect()).submit(big)
    shown = view.refresh()[big.uuid].record
    assert shown.job.vars == big.job.vars


def test_a_closed_view_refuses_to_refresh(zk_client):
    view = BuildRequestStore(zk_client).record_view()
    view.refresh()
    view.close()
    with pytest.raises(ZKError, match="closed"):
        view.refresh()


def test_a_dropped_connection_reads_everything_again(own_zk_server):
    """kazoo drops every watch when the connection drops, even when the
    session survives: the next refresh must not trust the view."""
    env = own_zk_server
    scheduler_client = env.client("/views", session_timeout=20.0)
    executor_client = env.client("/views", session_timeout=20.0)
    scheduler_client.connect()
    executor_client.connect()
    try:
        scheduler = BuildRequestStore(scheduler_client)
        executor = BuildRequestStore(executor_client)
        request = build_request()
        scheduler.submit(request)
        view = scheduler.record_view()
        assert view.refresh()[request.uuid].record.state is BuildState.REQUESTED
        session = scheduler_client.session_id
        reconnected = threading.Event()
        scheduler_client.on_reconnect(reconnected.set)
        env.server.kill()
        env.server.start()
        wait_for(reconnected.is_set, 30, "the scheduler's client reconnected")
        assert scheduler_client.session_id == session  # the same session
        set_state(executor, request.uuid, BuildState.RUNNING)
        assert view.refresh()[request.uuid].record.state is BuildState.RUNNING
        # And watched again from then on.
        set_state(executor, request.uuid, BuildState.COMPLETED)
        assert view.refresh()[request.uuid].record.state is BuildState.COMPLETED
    finally:
        scheduler_client.disconnect()
        executor_client.disconnect()
