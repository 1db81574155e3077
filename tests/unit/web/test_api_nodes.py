"""Components, connections, nodes and nodeset requests, from ZooKeeper and the
service config, in the shapes zuul-client prints."""

from __future__ import annotations

from collections.abc import Callable

from lockgate.model.nodes import Node, NodeRequest, NodeRequestState, NodeState
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.service_config import ServiceConfig
from lockgate.web.api_nodes import connections_json
from lockgate.zk.client import ZKClient
from lockgate.zk.components import register
from lockgate.zk.requests import NodeRequestStore, NodeStore

from tests.fixtures.web import WebHarness


def test_components_by_kind(web: WebHarness, zk_client: ZKClient) -> None:
    a = register(zk_client, "executor", {"state": "running", "version": "1.0"}, hostname="h1")
    b = register(zk_client, "scheduler", {"state": "running"}, hostname="h2")
    try:
        found = web.get_json("/api/components")
        assert [c["hostname"] for c in found["executor"]] == ["h1"]
        assert found["executor"][0]["state"] == "running"
        assert found["executor"][0]["version"] == "1.0"
        assert [c["hostname"] for c in found["scheduler"]] == ["h2"]
    finally:
        a.unregister()
        b.unregister()


def test_connections_show_no_secret(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "lockgate.conf"
    path.write_text(
        "[connection gerrit]\ndriver = gerrit\nserver = review.example\n"
        "password = hunter2\nsshkey = /k\n"
        "[connection github]\ndriver = github\nwebhook_token = s3cret\napp_key = /x\n"
    )
    found = connections_json(ServiceConfig.load(str(path)))
    assert found == [
        {"name": "gerrit", "driver": "gerrit", "server": "review.example"},
        {"name": "github", "driver": "github"},
    ]
    assert "hunter2" not in str(found) and "s3cret" not in str(found)


def test_nodes_and_nodeset_requests_of_the_tenant(
    web: WebHarness, zk_client: ZKClient, publish: Callable[..., TenantLayoutState]
) -> None:
    publish("t")
    publish("u")
    requests, nodes = NodeRequestStore(zk_client), NodeStore(zk_client)
    mine = NodeRequest(["ubuntu"], "t", "check", "bs1", "unit", "ev1")
    other = NodeRequest(["ubuntu"], "u", "check", "bs2", "unit", "ev2")
    requests.submit(mine)
    requests.submit(other)
    node = Node("ubuntu", "local", state=NodeState.IN_USE, allocated_to=mine.id)
    nodes.create(node)
    nodes.create(Node("ubuntu", "local", state=NodeState.READY, allocated_to=other.id))
    listed = web.get_json("/api/tenant/t/nodes")
    assert [n["id"] for n in listed] == [node.id]
    assert listed[0]["type"] == ["ubuntu"] and listed[0]["state"] == "in-use"
    assert listed[0]["provider"] == "local" and listed[0]["job_name"] == "unit"
    reqs = web.get_json("/api/tenant/t/nodeset-requests")
    assert [(r["uuid"], r["labels"], r["state"], r["job_name"]) for r in reqs] == [
        (mine.id, ["ubuntu"], NodeRequestState.REQUESTED.value, "unit")
    ]
    assert reqs[0]["buildset_uuid"] == "bs1" and reqs[0]["pipeline_name"] == "check"
    web.get_json("/api/tenant/nope/nodes", status=404)
