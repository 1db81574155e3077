# ruff: noqa: F811  (the launcher fixture is imported by name and used as a parameter)
"""Held nodes on a real launcher with real local nodes: kept (and reachable
over SSH) while their autohold request exists and the hold has not
expired; deleted when the request is deleted or the hold runs out.  The
executor's side is played with ``hold_build_nodes``, as the executor calls
it when a build fails."""

from __future__ import annotations

from lockgate.model.holds import HoldRequest
from lockgate.model.nodes import NodeState
from lockgate.zk import NodeRequestStore, NodeStore
from lockgate.zk.holds import HoldRequestStore, hold_build_nodes

from tests.fixtures.launcher import ssh_run
from tests.fixtures.waiting import wait_for
from tests.integration.launcher.test_server import (  # noqa: F401
    final,
    make_launcher,
    namespace_exists,
    submit,
    use_node,
)


def fail_build_and_hold(client, node_ids):  # noqa: ANN001, ANN201
    """What the executor does at the end of a failing build: hold the nodes
    (under its locks), then let go of them."""
    nodes = NodeStore(client)
    locks = [use_node(client, node_id) for node_id in node_ids]
    held = hold_build_nodes(
        client,
        tenant="demo",
        projects=["org/app"],
        job="hello",
        ref="refs/heads/master",
        result="FAILURE",
        build="build-1",
        nodes=[nodes.get(n).record for n in node_ids],
    )
    for lock in locks:
        lock.release()
    return held


def test_a_held_node_stays_reachable_until_its_request_is_deleted(
    make_launcher, zk_client, ssh_keypair
):
    launcher = make_launcher()
    holds = HoldRequestStore(zk_client)
    hold_id = holds.create(HoldRequest("demo", "org/app", "hello", "flaky test"))
    request = submit(zk_client, "debian")
    node_id = final(zk_client, request.id).node_ids[0]
    assert fail_build_and_hold(zk_client, [node_id]) is not None
    # The scheduler is done with the request: a node not held would go now.
    NodeRequestStore(zk_client).delete(request.id)
    launcher.run_once()
    launcher.run_once()
    node = NodeStore(zk_client).get(node_id).record
    assert node.state is NodeState.HOLD and node.comment == "flaky test"
    result = ssh_run(node, ssh_keypair, "hostname")
    assert result.returncode == 0, result.stderr
    namespace = node.provider_data["namespace"]
    assert namespace_exists(namespace)
    holds.delete(hold_id)
    wait_for(lambda: NodeStore(zk_client).get(node_id) is None, 30, "the released node to go")
    wait_for(lambda: not namespace_exists(namespace), 10, "its namespace to go")
    assert launcher.providers[0].nodes() == []


def test_a_held_node_goes_when_its_hold_expires(make_launcher, zk_client):
    launcher = make_launcher()
    HoldRequestStore(zk_client).create(
        HoldRequest("demo", "org/app", "hello", "short look", node_expiration=2)
    )
    request = submit(zk_client, "debian")
    node_id = final(zk_client, request.id).node_ids[0]
    assert fail_build_and_hold(zk_client, [node_id]) is not None
    NodeRequestStore(zk_client).delete(request.id)
    launcher.run_once()
    held = NodeStore(zk_client).get(node_id)
    assert held is not None and held.record.state is NodeState.HOLD
    # The launcher wakes itself when the hold runs out (no event says so).
    wait_for(lambda: NodeStore(zk_client).get(node_id) is None, 30, "the expired hold's node")
    assert launcher.providers[0].nodes() == []
