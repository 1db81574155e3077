"""The admin endpoints zuul-client 14's ``manage-events``, ``node-set-state``
and ``nodeset-request-delete`` call, served for real against the test's
ZooKeeper: who may (401/403/404, as the other admin actions), what is
written for the scheduler and the launcher, and what the status, tenant
info and node list then show."""

# ruff: noqa: F401, F811  (fixtures imported by name and used as parameters)
from __future__ import annotations

import pytest
from lockgate.model.events import ResultEvent
from lockgate.model.nodes import Node, NodeRequest, NodeRequestState, NodeState
from lockgate.zk.client import ZKClient
from lockgate.zk.event_state import load_event_state
from lockgate.zk.queues import result_queue
from lockgate.zk.requests import NodeRequestStore, NodeStore

from tests.fixtures.web import WebHarness
from tests.unit.web.test_admin_client import run, site
from tests.unit.web.test_api_admin import ADMINS, admin_web, call, token

PAUSE_RESULT = {
    "trigger_queue_discarding": False,
    "trigger_queue_paused": True,
    "result_queue_paused": True,
    "reason": "zookeeper upgrade",
}
NORMAL = {
    "trigger_queue_discarding": False,
    "trigger_queue_paused": False,
    "result_queue_paused": False,
    "reason": None,
}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/tenant/demo/state", PAUSE_RESULT),
        ("PUT", "/api/tenant/demo/nodes/0000000001", {"state": "hold"}),
        ("DELETE", "/api/tenant/demo/nodeset-requests/0000000001", None),
    ],
)
def test_each_needs_an_admin_of_the_tenant(
    admin_web: WebHarness, zk_client: ZKClient, method: str, path: str, body: dict | None
) -> None:
    reply = call(admin_web, method, path, None, json=body)
    assert reply.status_code == 401 and reply.json()["error"] == "MissingAuthError"
    reply = call(admin_web, method, path, token(groups=["other-admins"]), json=body)
    assert reply.status_code == 403
    assert "not an admin of tenant 'demo'" in reply.json()["description"]
    reply = call(admin_web, method, path.replace("/demo/", "/nope/"), json=body)
    assert reply.status_code == 404 and reply.json()["description"] == "Unknown tenant: nope"
    assert load_event_state(zk_client, "demo").normal  # nothing was done


def test_manage_events_is_stored_and_shown_in_status_and_info(
    admin_web: WebHarness, zk_client: ZKClient
) -> None:
    reply = call(admin_web, "POST", "/api/tenant/demo/state", json=PAUSE_RESULT)
    assert reply.status_code == 200
    answered = reply.json()
    assert {k: answered[k] for k in PAUSE_RESULT} == PAUSE_RESULT
    stored = load_event_state(zk_client, "demo")
    assert stored.result_queue_paused and stored.set_by == "alice"
    assert stored.reason == "zookeeper upgrade"
    status = admin_web.get_json("/api/tenant/demo/status")
    assert {k: status["state"][k] for k in PAUSE_RESULT} == PAUSE_RESULT
    assert status["pipelines"]  # the rest of the answer as it was
    info = admin_web.get_json("/api/tenant/demo/info")["info"]
    assert info["state"]["result_queue_paused"] is True
    assert admin_web.get_json("/api/tenant/other/info")["info"]["state"]["reason"] is None

    reply = call(admin_web, "POST", "/api/tenant/demo/state", json=NORMAL)
    assert reply.status_code == 200 and load_event_state(zk_client, "demo").normal
    assert "state" not in admin_web.get_json("/api/tenant/demo/status")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"trigger_queue_paused": "yes"}, "'trigger_queue_paused' must be true or false"),
        ({"paused": True}, "unknown key(s) 'paused'"),
    ],
)
def test_manage_events_refuses_a_bad_body(
    admin_web: WebHarness, zk_client: ZKClient, body: dict, words: str
) -> None:
    reply = call(admin_web, "POST", "/api/tenant/demo/state", json=body)
    assert reply.status_code == 400 and words in reply.json()["description"]
    assert load_event_state(zk_client, "demo").normal


def node_of(zk_client: ZKClient, tenant: str, state: NodeState = NodeState.READY) -> Node:
    request = NodeRequest(["debian"], tenant, "check", "bs", "build", "e1")
    NodeRequestStore(zk_client).submit(request)
    node = Node("debian", "local", state=state, allocated_to=request.id)
    NodeStore(zk_client).create(node)
    return node


def stored_node(zk_client: ZKClient, node_id: str) -> Node:
    found = NodeStore(zk_client).get(node_id)
    assert found is not None
    return found.record


def test_node_set_state_hold_then_used(admin_web: WebHarness, zk_client: ZKClient) -> None:
    node = node_of(zk_client, "demo")
    path = f"/api/tenant/demo/nodes/{node.id}"
    reply = call(admin_web, "PUT", path, json={"state": "hold"})
    assert reply.status_code == 200 and reply.json() == {}  # zuul-client: falsy is success
    held = stored_node(zk_client, node.id)
    assert held.state is NodeState.HOLD and held.hold_request is None
    assert (held.hold_tenant, held.hold_job, held.comment) == ("demo", "build", "held by alice")
    [listed] = admin_web.get_json("/api/tenant/demo/nodes")
    assert (listed["id"], listed["state"], listed["comment"]) == (node.id, "hold", "held by alice")

    assert call(admin_web, "PUT", path, json={"state": "used"}).status_code == 200
    assert stored_node(zk_client, node.id).state is NodeState.USED


def test_node_set_state_refusals(admin_web: WebHarness, zk_client: ZKClient) -> None:
    theirs = node_of(zk_client, "other")
    building = node_of(zk_client, "demo", NodeState.BUILDING)
    cases = [
        (theirs.id, {"state": "hold"}, 404, f"Node {theirs.id} not found in tenant demo"),
        ("0000099999", {"state": "hold"}, 404, "Node 0000099999 not found in tenant demo"),
        (building.id, {"state": "ready"}, 400, "'state' must be one of: hold, used"),
        (building.id, {"state": "hold"}, 409, f"node {building.id} is building"),
    ]
    for node_id, body, status, words in cases:
        reply = call(admin_web, "PUT", f"/api/tenant/demo/nodes/{node_id}", json=body)
        assert reply.status_code == status, (node_id, body, reply.text)
        assert words in reply.json()["description"]
    assert stored_node(zk_client, theirs.id).state is NodeState.READY
    assert stored_node(zk_client, building.id).state is NodeState.BUILDING


def test_nodeset_request_delete_cancels_a_pending_request(
    admin_web: WebHarness, zk_client: ZKClient
) -> None:
    requests = NodeRequestStore(zk_client)
    pending = NodeRequest(["debian"], "demo", "check", "bs1", "build", "e1")
    theirs = NodeRequest(["debian"], "other", "check", "bs2", "build", "e2")
    requests.submit(pending)
    requests.submit(theirs)
    path = f"/api/tenant/demo/nodeset-requests/{pending.id}"
    reply = call(admin_web, "DELETE", path)
    assert reply.status_code == 204
    found = requests.get(pending.id)
    assert found is not None and found.record.state is NodeRequestState.FAILED
    assert found.record.failure_reason == f"nodeset request {pending.id} deleted by alice"
    # The scheduler is told, as a launcher tells it of a failed request.
    [(_, event)] = result_queue(zk_client, "demo").list()
    told = ResultEvent.from_dict(event)
    assert (told.kind, told.request_id, told.result) == ("nodes-provisioned", pending.id, "failed")

    again = call(admin_web, "DELETE", path)
    assert again.status_code == 409 and "only a pending" in again.json()["description"]
    for other in (theirs.id, "0000099999"):
        reply = call(admin_web, "DELETE", f"/api/tenant/demo/nodeset-requests/{other}")
        assert reply.status_code == 404
        assert f"Nodeset request {other} not found in tenant demo" in reply.json()["description"]
    assert requests.get(theirs.id).record.state is NodeRequestState.REQUESTED  # type: ignore[union-attr]


def test_lockgate_client_has_the_three_verbs(site, zk_client, publish, monkeypatch) -> None:
    _, conf = site
    publish("other", projects=["org/other"], pipelines=["check"], auth=ADMINS.to_dict())
    monkeypatch.setenv("LOCKGATE_AUTH_TOKEN", token(groups=["demo-admins", "other-admins"]))
    monkeypatch.delenv("LOCKGATE_URL", raising=False)
    t = ["--tenant", "demo"]
    status, _, err = run(conf, "client", "manage-events", *t, "pause-result", "--reason", "r")
    assert status == 0, err
    stored = load_event_state(zk_client, "demo")
    assert stored.trigger_queue_paused and stored.result_queue_paused and stored.reason == "r"
    assert run(conf, "client", "manage-events", "--all-tenants", "discard-trigger")[0] == 0
    for tenant in ("demo", "other"):
        stored = load_event_state(zk_client, tenant)
        assert stored.trigger_queue_discarding and not stored.trigger_queue_paused

    node = node_of(zk_client, "demo")
    assert run(conf, "client", "node-set-state", *t, node.id, "hold")[0] == 0
    assert stored_node(zk_client, node.id).state is NodeState.HOLD
    request = NodeRequest(["debian"], "demo", "check", "bs", "build", "e1")
    NodeRequestStore(zk_client).submit(request)
    assert run(conf, "client", "nodeset-request-delete", *t, request.id)[0] == 0
    status, _, err = run(conf, "client", "nodeset-request-delete", *t, request.id)
    assert status == 1 and "Conflict: nodeset request" in err and "only a pending" in err
