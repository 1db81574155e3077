"""Tenants' ``manage-events`` states in ZooKeeper (``lockgate.zk.event_state``):
stored by one session, seen from memory by another's watch."""

from __future__ import annotations

import threading

from lockgate.model.event_state import TenantEventState
from lockgate.zk.event_state import EventStateWatch, load_event_state, save_event_state
from lockgate.zk.views import sync_watches

from tests.fixtures.waiting import wait_for


def paused(reason: str = "upgrade") -> TenantEventState:
    return TenantEventState(tenant="demo", trigger_queue_paused=True, reason=reason)


def test_no_record_is_normal_and_a_save_replaces_the_state(zk_client, zk_connect) -> None:
    assert load_event_state(zk_client, "demo") == TenantEventState(tenant="demo")
    save_event_state(zk_client, paused())
    assert load_event_state(zk_connect(), "demo") == paused()
    save_event_state(zk_client, TenantEventState(tenant="demo"))
    assert load_event_state(zk_client, "demo").normal
    assert load_event_state(zk_client, "other").normal  # tenants apart


def test_watch_answers_from_memory_and_tells_of_changes(zk_client, zk_connect) -> None:
    admin = zk_connect()
    changed: list[str] = []
    seen = threading.Event()

    def on_change(tenant: str) -> None:
        changed.append(tenant)
        seen.set()

    watch = EventStateWatch(zk_client, on_change=on_change)
    try:
        assert watch.get("demo").normal  # first look: read, and watched from now on
        save_event_state(admin, paused())
        assert seen.wait(10), "no change seen"
        assert watch.get("demo") == paused()
        assert changed == ["demo"]
        # After the barrier every change made before it has been seen.
        save_event_state(admin, paused("still upgrading"))
        sync_watches(zk_client)
        assert watch.get("demo").reason == "still upgrading"
        save_event_state(admin, TenantEventState(tenant="demo"))
        wait_for(lambda: watch.get("demo").normal, 10, "the resume to be seen")
        assert changed == ["demo"] * 3
    finally:
        watch.close()
