"""Session-aware locks: mutual exclusion, timeouts, and loss with the session."""

from __future__ import annotations

import threading

import pytest
from lockgate.zk import paths
from lockgate.zk.errors import LockLost, LockTimeout
from lockgate.zk.locks import SessionAwareLock, is_locked, locked, pipeline_lock, tenant_lock

from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import expire_session


def test_tenant_lock_excludes_a_second_holder(zk_client, zk_connect):
    other = zk_connect()
    with tenant_lock(zk_client, "t", timeout=5) as lock:
        assert lock.held and not lock.lost
        assert is_locked(zk_client, paths.tenant_lock("t"))
        with pytest.raises(LockTimeout, match="could not acquire lock"):
            with tenant_lock(other, "t", timeout=0.3):
                pass
        # Another tenant's lock is independent.
        with tenant_lock(other, "u", timeout=5) as lock_u:
            assert lock_u.held
    assert not is_locked(zk_client, paths.tenant_lock("t"))
    with tenant_lock(other, "t", timeout=5) as again:
        assert again.held


def test_waiter_gets_the_lock_when_released(zk_client, zk_connect):
    other = zk_connect()
    first = pipeline_lock(zk_client, "t", "gate")
    first.acquire()
    got = threading.Event()

    def wait_for_it() -> None:
        with pipeline_lock(other, "t", "gate", timeout=20):
            got.set()

    thread = threading.Thread(target=wait_for_it)
    thread.start()
    wait_for(lambda: len(first.contenders()) == 2, 10, "waiter queued")
    assert not got.is_set()
    first.release()
    wait_for(got.is_set, 10, "waiter acquired")
    thread.join()


def test_non_blocking_acquire(zk_client, zk_connect):
    path = paths.named_lock("cleanup")
    a = SessionAwareLock(zk_client, path)
    b = SessionAwareLock(zk_connect(), path)
    assert a.acquire(blocking=False)
    assert not b.acquire(blocking=False)
    a.release()
    a.release()  # idempotent
    assert b.acquire(blocking=False)
    b.release()


def test_lock_lost_with_session_tells_the_holder(zk_server, zk_client, zk_connect):
    told = threading.Event()
    lock = SessionAwareLock(zk_client, paths.tenant_lock("t"), on_lost=told.set)
    lock.acquire(timeout=5)
    lock.check()
    expire_session(zk_server, zk_client)
    wait_for(told.is_set, 20, "on_lost called")
    assert lock.lost and not lock.held
    with pytest.raises(LockLost, match="lost with the ZooKeeper session"):
        lock.check()
    # A peer can take it at once; the old holder's release does no harm.
    peer_client = zk_connect()
    with locked(peer_client, paths.tenant_lock("t"), timeout=10) as peer:
        assert peer.held
        assert zk_client.wait_connected(20)
        lock.release()
        assert is_locked(peer_client, paths.tenant_lock("t"))
        assert not SessionAwareLock(zk_client, paths.tenant_lock("t")).acquire(blocking=False)


def test_fence_refuses_while_released_or_cut_off(own_zk_server):
    client = own_zk_server.client("/fence", session_timeout=6.0)
    client.connect(timeout=15)
    lock = tenant_lock(client, "t")
    try:
        with pytest.raises(LockLost, match="not held"):
            lock.fence()  # never acquired
        lock.acquire()
        lock.fence()  # held and connected: a report may go out
        own_zk_server.server.pause()
        try:
            wait_for(lambda: not client.connected, 15, "the client to notice the silence")
            lock.check()  # the session is not known to be lost yet...
            with pytest.raises(LockLost, match="not connected"):
                lock.fence()  # ...but a peer may hold the lock by now
        finally:
            own_zk_server.server.resume()
        lock.release()
        with pytest.raises(LockLost, match="not held"):
            lock.fence()
    finally:
        client.disconnect()
