"""The ZooKeeper layer when things die: a claimer killed with SIGKILL, a
ZooKeeper server restarted mid-use, a session that expires."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from lockgate.model.builds import BuildState
from lockgate.model.nodes import NodeRequest
from lockgate.zk.client import ZKClient
from lockgate.zk.components import list_components, register
from lockgate.zk.errors import ZKConnectionError
from lockgate.zk.locks import SessionAwareLock
from lockgate.zk.pipelines import PipelineStore, read_pipelines
from lockgate.zk.queues import trigger_queue
from lockgate.zk.requests import BuildRequestStore, NodeRequestStore
from lockgate.zk.state import pipeline_state

from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import ZKEnv, expire_session
from tests.unit.zk.test_requests import build_request

HOLDER = textwrap.dedent(
    """
    import sys
    from lockgate.zk.client import ZKClient
    from lockgate.zk.requests import BuildRequestStore
    hosts, chroot, ca, cert, key, uuid = sys.argv[1:7]
    client = ZKClient(hosts, tls_ca=ca, tls_cert=cert, tls_key=key, chroot=chroot,
                      session_timeout=2.0)
    client.connect(timeout=15)
    store = BuildRequestStore(client)
    lock = store.lock(uuid)
    got = store.get(uuid)
    got.record.state = "running"
    store.update(got.record, got.version)
    print("locked" if lock else "busy", flush=True)
    sys.stdin.read()
    """
)


def test_killed_claimer_releases_its_claim(zk_server, zk_client, zk_chroot):
    scheduler = BuildRequestStore(zk_client)
    request = build_request()
    scheduler.submit(request)
    tls = zk_server.tls.client
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLDER,
            zk_server.server.hosts,
            zk_chroot,
            str(tls.ca),
            str(tls.cert),
            str(tls.key),
            request.uuid,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        assert scheduler.is_locked(request.uuid)
        assert scheduler.lock(request.uuid) is None
        assert scheduler.orphaned() == []
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        # ZooKeeper expires the dead executor's session (2 s) and its lock.
        wait_for(lambda: not scheduler.is_locked(request.uuid), 20, "claim released")
        orphans = scheduler.orphaned()
        assert [v.record.uuid for v in orphans] == [request.uuid]
        assert orphans[0].record.state == BuildState.RUNNING
        lock = scheduler.lock(request.uuid)
        assert lock is not None and lock.held
        lock.release()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_zookeeper_restart_mid_use_loses_nothing(own_zk_server):
    env = own_zk_server
    producer = env.client("/restart")
    consumer = env.client("/restart")
    producer.connect()
    consumer.connect()
    try:
        registration = register(consumer, "scheduler", {"n": 1}, hostname="s1")
        reconnected = threading.Event()
        consumer.on_reconnect(reconnected.set)
        queue = trigger_queue(producer, "t")
        before = [queue.put({"n": i}) for i in range(20)]
        rid = NodeRequestStore(producer).submit(
            NodeRequest(
                labels=["l"],
                tenant="t",
                pipeline="p",
                buildset_uuid="b",
                job_name="j",
                event_id="e",
            )
        )
        state = pipeline_state(producer, "t", "gate")
        state.save({"items": ["a"]})

        # Puts keep going in another thread while the server goes down and
        # comes back: they block and retry, and none is lost or doubled.
        put_ids: list[str | None] = []
        done = threading.Event()

        def keep_putting() -> None:
            for i in range(20, 40):
                put_ids.append(queue.put({"n": i}))
            done.set()

        env.server.kill()  # as a crash: no clean shutdown
        thread = threading.Thread(target=keep_putting)
        thread.start()
        env.server.start()
        wait_for(reconnected.is_set, 30, "consumer reconnected")
        wait_for(done.is_set, 60, "puts finished after restart")
        thread.join()

        consumer_queue = trigger_queue(consumer, "t")
        entries = consumer_queue.list()
        assert [d["n"] for _, d in entries] == list(range(40))
        assert [i for i, _ in entries][:20] == before
        assert NodeRequestStore(consumer).get(rid) is not None
        assert pipeline_state(consumer, "t", "gate").load() == {"items": ["a"]}
        wait_for(
            lambda: [c.name for c in list_components(producer, "scheduler")] == [registration.name],
            30,
            "registration present after restart",
        )
        for entry_id, _ in entries:
            assert consumer_queue.ack(entry_id)
        assert consumer_queue.list() == []
    finally:
        producer.disconnect()
        consumer.disconnect()


def test_session_expiry_drops_locks_and_restores_registrations(zk_server, zk_client, zk_connect):
    peer = zk_connect()
    component = register(zk_client, "executor", {"accepting": True}, hostname="e1")
    store = NodeRequestStore(zk_client)
    rid = store.submit(
        NodeRequest(
            labels=["l"], tenant="t", pipeline="p", buildset_uuid="b", job_name="j", event_id="e"
        )
    )
    lost = threading.Event()
    claim = store.lock(rid, on_lost=lost.set)
    assert claim is not None
    queue = trigger_queue(zk_client, "t")
    queue.put({"n": 1})
    woken: list[int] = []
    queue.watch(lambda: woken.append(len(queue.ids())))
    wait_for(lambda: woken, 10, "initial watch call")
    expire_session(zk_server, zk_client)
    wait_for(lost.is_set, 20, "lock holder told")
    assert claim.lost
    peer_claim = NodeRequestStore(peer).lock(rid, blocking=True, timeout=20)
    assert peer_claim is not None
    wait_for(
        lambda: [c.name for c in list_components(peer, "executor")] == [component.name],
        20,
        "registration restored",
    )
    # Persistent data is untouched by the session loss.
    assert [d for _, d in trigger_queue(peer, "t").list()] == [{"n": 1}]
    # The consumer's watch still wakes it in the new session.
    wait_for(lambda: zk_client.connected, 20, "reconnected")
    trigger_queue(peer, "t").put({"n": 2})
    wait_for(lambda: 2 in woken, 20, "watch fired for an entry put after the session loss")
    assert not SessionAwareLock(zk_client, claim.path).acquire(blocking=False)
    peer_claim.release()


def test_puts_interrupted_by_a_hung_server_are_neither_lost_nor_doubled(own_zk_server):
    env = own_zk_server
    producer = env.client("/hang", session_timeout=2.0)
    producer.connect()
    try:
        queue = trigger_queue(producer, "t")
        stop = threading.Event()
        sent: list[int] = []

        def keep_putting() -> None:
            n = 0
            while not stop.is_set():
                queue.put({"n": n})
                sent.append(n)
                n += 1

        thread = threading.Thread(target=keep_putting)
        thread.start()
        wait_for(lambda: len(sent) > 20, 20, "puts flowing")
        env.server.pause()
        try:
            wait_for(lambda: not producer.connected, 20, "client noticed the hung server")
        finally:
            env.server.resume()
        wait_for(lambda: queue.interrupted >= 1, 30, "an in-flight put was interrupted")
        count = len(sent)
        wait_for(lambda: len(sent) > count + 20, 30, "puts flowing again")
        stop.set()
        thread.join(timeout=30)
        numbers = [d["n"] for _, d in queue.list()]
        assert numbers == sent == list(range(len(sent)))
    finally:
        stop.set()
        producer.disconnect()


@contextmanager
def _client_with_a_short_deadline(env: ZKEnv) -> Iterator[ZKClient]:
    """A connected client that gives up on an unavailable ZooKeeper after 1 s."""
    client = env.client("/down", session_timeout=2.0)
    client.retry_deadline = 1.0
    client.connect()
    try:
        yield client
    finally:
        client.disconnect()


def _stop_server(env: ZKEnv, client: ZKClient) -> None:
    env.server.stop()
    wait_for(lambda: not client.connected, 20, "client noticed")


def test_operations_while_zookeeper_is_down_fail_clearly_after_the_deadline(own_zk_server):
    from lockgate.zk import paths
    from lockgate.zk.records import RecordStore

    env = own_zk_server
    with _client_with_a_short_deadline(env) as client:
        store = RecordStore(client)
        store.save(paths.tenant_layout("t"), {"a": 1})
        _stop_server(env, client)
        with pytest.raises(
            ZKConnectionError,
            match=re.escape(f"cannot get {paths.tenant_layout('t')}: ") + ".*unavailable for 1.0s",
        ):
            store.load(paths.tenant_layout("t"))
        with pytest.raises(ZKConnectionError, match="unavailable for 1.0s"):
            trigger_queue(client, "t").put({"n": 1})
        with pytest.raises(ZKConnectionError, match="unavailable for 1.0s"):
            NodeRequestStore(client).submit(
                NodeRequest(
                    labels=["l"],
                    tenant="t",
                    pipeline="p",
                    buildset_uuid="b",
                    job_name="j",
                    event_id="e",
                )
            )
        env.server.start()
        assert client.wait_connected(30)
        assert store.load(paths.tenant_layout("t")).data == {"a": 1}


@pytest.mark.timeout(120)  # an unbounded wait (the bug this guards against) fails, not hangs
def test_pipeline_store_fails_clearly_after_the_deadline_while_zookeeper_is_down(own_zk_server):
    env = own_zk_server
    with _client_with_a_short_deadline(env) as client:
        store = PipelineStore(client, "t")
        store.save_state(store.load("check"))
        _stop_server(env, client)
        with pytest.raises(ZKConnectionError, match="cannot get_children .*unavailable for 1.0s"):
            store.pipeline_names()
        with pytest.raises(ZKConnectionError, match="unavailable for 1.0s"):
            store.load("check")
        with pytest.raises(ZKConnectionError, match="unavailable for 1.0s"):
            read_pipelines(client, "t")
        env.server.start()
        assert client.wait_connected(30)
        assert store.pipeline_names() == ["check"]
