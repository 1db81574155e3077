"""Autohold requests in ZooKeeper and holding a finished build's nodes."""

from __future__ import annotations

import threading

from lockgate.model.holds import HoldRequest
from lockgate.model.nodes import Node, NodeState
from lockgate.zk import NodeStore
from lockgate.zk.holds import HoldRequestStore, hold_build_nodes


def make_nodes(client, count: int = 2) -> list[Node]:  # noqa: ANN001
    store = NodeStore(client)
    nodes = []
    for _ in range(count):
        node = Node(label="debian", provider="p", state=NodeState.IN_USE)
        store.create(node)
        nodes.append(node)
    return nodes


def finish(client, nodes, result="FAILURE", build="b1", ref="refs/changes/01/1/1"):  # noqa: ANN001, ANN201
    return hold_build_nodes(
        client,
        tenant="demo",
        projects=["org/app"],
        job="unit",
        ref=ref,
        result=result,
        build=build,
        nodes=nodes,
        now=1000.0,
    )


def test_a_failing_build_holds_its_nodes_and_counts(zk_client):
    holds = HoldRequestStore(zk_client)
    request = HoldRequest("demo", "org/app", "unit", "look at it", node_expiration=3600)
    hold_id = holds.create(request)
    assert hold_id and holds.get(hold_id).record.reason == "look at it"
    nodes = make_nodes(zk_client)
    assert finish(zk_client, nodes, result="SUCCESS") is None
    held = finish(zk_client, nodes)
    assert held is not None and held.id == hold_id
    stored = holds.get(hold_id).record
    assert stored.current_count == 1 and stored.expired == 1000.0
    assert stored.nodes == [{"build": "b1", "nodes": [n.id for n in nodes]}]
    for node in nodes:
        record = NodeStore(zk_client).get(node.id).record
        assert record.state is NodeState.HOLD
        assert record.hold_request == hold_id and record.comment == "look at it"
        assert record.held_at == 1000.0 and record.hold_expiration == 3600
        assert record.hold_expires_at() == 4600.0
        assert record.hold_job == "demo org/app unit .*"
    # Used up: the next failing build's nodes go back as usual.
    assert finish(zk_client, make_nodes(zk_client, 1), build="b2") is None


def test_two_builds_finishing_at_once_never_exceed_the_count(zk_client):
    HoldRequestStore(zk_client).create(HoldRequest("demo", "org/app", "unit", "once"))
    results: list[object] = []
    sets = [make_nodes(zk_client, 1) for _ in range(4)]
    threads = [
        threading.Thread(
            target=lambda s=s, i=i: results.append(finish(zk_client, s, build=f"b{i}"))
        )
        for i, s in enumerate(sets)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(r is not None for r in results) == 1
    held = [
        n for s in sets for n in s if NodeStore(zk_client).get(n.id).record.state is NodeState.HOLD
    ]
    assert len(held) == 1
    [request] = HoldRequestStore(zk_client).for_tenant("demo")
    assert request.current_count == 1 and len(request.nodes) == 1


def test_list_and_delete(zk_client):
    holds = HoldRequestStore(zk_client)
    a = holds.create(HoldRequest("demo", "org/app", "unit", "a"))
    b = holds.create(HoldRequest("other", "org/app", "unit", "b"))
    assert [r.id for r in holds.for_tenant("demo")] == [a]
    assert holds.delete(a) and holds.get(a) is None
    assert holds.ids() == [b]
