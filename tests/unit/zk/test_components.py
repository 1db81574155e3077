"""The component registry."""

from __future__ import annotations

from lockgate.zk.components import list_components, register, watch_components

from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import expire_session


def test_register_update_list_unregister(zk_client, zk_connect):
    other = zk_connect()
    executor = register(zk_client, "executor", {"accepting": True}, hostname="ex1")
    register(other, "scheduler", hostname="sch1")
    found = list_components(zk_client, "executor")
    assert [(c.kind, c.hostname, c.state) for c in found] == [
        ("executor", "ex1", {"accepting": True})
    ]
    assert found[0].name == executor.name and executor.name.startswith("ex1-")
    executor.update_state(accepting=False, load=3)
    assert list_components(other, "executor")[0].state == {"accepting": False, "load": 3}
    assert {c.kind for c in list_components(zk_client)} == {"executor", "scheduler"}
    executor.unregister()
    assert list_components(zk_client, "executor") == []


def test_registration_vanishes_with_the_process(zk_client, zk_connect):
    other = zk_connect()
    register(other, "launcher", hostname="l1")
    assert len(list_components(zk_client, "launcher")) == 1
    other.disconnect()
    assert list_components(zk_client, "launcher") == []


def test_registration_comes_back_after_session_loss(zk_server, zk_client, zk_connect):
    observer = zk_connect()
    component = register(zk_client, "web", {"port": 9000}, hostname="w1")
    old_session = zk_client.session_id
    expire_session(zk_server, zk_client)
    # State changed while the session was gone is what comes back.
    component.update_state(port=9001)
    wait_for(lambda: zk_client.session_id not in (None, old_session), 20, "new session")
    wait_for(
        lambda: [c.state for c in list_components(observer, "web")] == [{"port": 9001}],
        20,
        "registration restored",
    )


def test_watch_tells_when_a_component_comes_and_goes(zk_client, zk_connect):
    seen: list[list[str]] = []
    stop = watch_components(zk_client, "executor", seen.append)
    try:
        wait_for(lambda: seen == [[]], 10, "the first call")
        other = zk_connect()
        executor = register(other, "executor", hostname="ex1")
        wait_for(lambda: seen[-1] == [executor.name], 10, "the registration seen")
        other.disconnect()  # the process ends: its session with it
        wait_for(lambda: seen[-1] == [], 10, "the end seen")
        register(zk_client, "scheduler", hostname="s1")  # another kind: not told
        assert list_components(zk_client, "scheduler")
        assert seen[-1] == [] and len(seen) == 3
    finally:
        stop()
