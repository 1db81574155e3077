"""Console stream registrations: one ephemeral node per running build."""

from __future__ import annotations

from collections.abc import Callable

from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.streams import StreamLocation, find_stream, register_stream, unregister_stream

from tests.fixtures.waiting import wait_for

LOCATION = StreamLocation(
    uuid="b1", tenant="org/tenant", host="127.0.0.1", port=7901, executor="ze01-abc"
)


def test_registered_found_and_removed(zk_client: ZKClient) -> None:
    assert find_stream(zk_client, "b1") is None
    register_stream(zk_client, LOCATION)
    assert find_stream(zk_client, "b1") == LOCATION
    unregister_stream(zk_client, "b1")
    assert find_stream(zk_client, "b1") is None
    unregister_stream(zk_client, "b1")  # twice is harmless


def test_gone_with_the_executor_session(
    zk_client: ZKClient, zk_connect: Callable[..., ZKClient]
) -> None:
    executor = zk_connect()
    register_stream(executor, LOCATION)
    assert find_stream(zk_client, "b1") == LOCATION
    executor.disconnect()
    wait_for(lambda: find_stream(zk_client, "b1") is None, what="the registration to vanish")


def test_a_foreign_node_is_no_registration(zk_client: ZKClient) -> None:
    zk_client.kazoo.create(paths.console_stream("b2"), b"not json", makepath=True)
    assert find_stream(zk_client, "b2") is None
