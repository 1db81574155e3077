"""The admin endpoints, served for real against the test's ZooKeeper: who
may act (401/403, each saying why), what is stored for the scheduler, and
autohold requests, in Zuul's paths and shapes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from lockgate.auth.rules import TenantAuth
from lockgate.model.management import ManagementEvent, ManagementKind
from lockgate.web.zkstate import ZKClusterState
from lockgate.zk.holds import HoldRequestStore
from lockgate.zk.queues import management_queue

from tests.fixtures.auth import HS256Realm
from tests.fixtures.web import WebHarness, served, with_admin

OPERATOR = HS256Realm(
    "operator", "lockgate.example.com", "lockgate-admin", "admin-tests-secret-long-enough-for-hs256"
)
SCHEDULER = """
[scheduler]
tenant_config = /nonexistent.yaml
default_hold_expiration = 600
max_hold_expiration = 3600
"""
AUTH = OPERATOR.section() + SCHEDULER
ADMINS = TenantAuth(
    realm="lockgate.example.com",
    admin_rules=["admins"],
    rules={"admins": [{"groups": "{tenant.name}-admins"}]},
)


def harness(sqlite_db, zk_client, text: str) -> Iterator[WebHarness]:  # noqa: ANN001
    """The app with its admin endpoints configured by ``text``, as the web
    service does."""
    state = ZKClusterState(zk_client)
    yield from served(WebHarness(sqlite_db, state, configure=with_admin(text, zk_client)))


@pytest.fixture
def admin_web(sqlite_db, zk_client, publish) -> Iterator[WebHarness]:  # noqa: ANN001
    publish(
        "demo",
        projects=["org/app", "org/lib"],
        pipelines=["check", "gate"],
        auth=ADMINS.to_dict(),
    )
    publish("other", projects=["org/other"], pipelines=["check"])
    yield from harness(sqlite_db, zk_client, AUTH)


# Made at import (parameters, ADMIN): valid for a day (the realm's
# default), so that a long suite does not reach these tests with expired
# tokens.
token = OPERATOR.token


ADMIN = token(groups=["demo-admins"])


def call(h: WebHarness, method: str, path: str, tok: str | None = ADMIN, **kw: Any):  # noqa: ANN201
    headers = dict(kw.pop("headers", {}))
    if tok is not None:
        headers["Authorization"] = f"Bearer {tok}"
    return requests.request(method, h.url + path, headers=headers, timeout=30, **kw)


def queued(zk_client, tenant: str = "demo") -> list[ManagementEvent]:  # noqa: ANN001
    return [ManagementEvent.from_dict(d) for _, d in management_queue(zk_client, tenant).list()]


ENQUEUE = "/api/tenant/demo/project/org/app/enqueue"


@pytest.mark.parametrize(
    ("tok", "status", "error", "words"),
    [
        (None, 401, "MissingAuthError", "Authorization: Bearer"),
        (
            token(secret="not-the-secret-but-long-enough-anyway!!"),
            401,
            "AuthTokenInvalidSignatureException",
            "signature",
        ),
        (token(exp=int(time.time()) - 5), 401, "TokenExpiredError", "expired"),
        (token(iss="https://elsewhere"), 401, "IssuerUnknownError", "elsewhere"),
        ("garbage", 401, "AuthTokenUndecodedException", "not a JSON Web Token"),
        (
            token(groups=["other-admins"]),
            403,
            "AuthTokenForbiddenException",
            "'alice' is not an admin of tenant 'demo'",
        ),
    ],
)
def test_who_may_act_each_refusal_says_why(admin_web, zk_client, tok, status, error, words):
    reply = call(admin_web, "POST", ENQUEUE, tok, json={"pipeline": "check", "change": "1,1"})
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["error"] == error
    assert words in body["description"]
    assert body["realm"] == "lockgate.example.com"
    if status == 401:
        assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="lockgate.example.com"')
    assert queued(zk_client) == []


def test_a_bad_authorization_header_and_an_unknown_tenant(admin_web):
    reply = call(admin_web, "POST", ENQUEUE, None, headers={"Authorization": "Basic abc"}, json={})
    assert reply.status_code == 401 and reply.json()["error"] == "InvalidAuthFormat"
    reply = call(admin_web, "POST", "/api/tenant/nope/promote", json={})
    assert reply.status_code == 404 and "nope" in reply.json()["description"]


def test_enqueue_a_change_and_a_ref(admin_web, zk_client):
    reply = call(admin_web, "POST", ENQUEUE, json={"pipeline": "gate", "change": "12,3"})
    assert reply.status_code == 200 and reply.json() is True
    reply = call(
        admin_web,
        "POST",
        "/api/tenant/demo/project/review.example.com/org/lib/enqueue",
        json={
            "pipeline": "check",
            "ref": "refs/heads/main",
            "oldrev": "a" * 40,
            "newrev": "b" * 40,
        },
    )
    assert reply.status_code == 200, reply.text
    first, second = queued(zk_client)
    assert (first.kind, first.pipeline, first.project, first.change) == (
        ManagementKind.ENQUEUE,
        "gate",
        "org/app",
        "12,3",
    )
    assert first.requested_by == "alice" and first.realm == "lockgate.example.com"
    # A canonical project name is the tenant's project.
    assert (second.kind, second.project, second.ref, second.newrev) == (
        ManagementKind.ENQUEUE_REF,
        "org/lib",
        "refs/heads/main",
        "b" * 40,
    )


def test_dequeue_and_promote(admin_web, zk_client):
    dequeue = "/api/tenant/demo/project/org/app/dequeue"
    assert call(admin_web, "POST", dequeue, json={"pipeline": "gate", "change": "5,1"}).ok
    assert call(admin_web, "POST", dequeue, json={"pipeline": "check", "ref": "refs/heads/main"}).ok
    reply = call(
        admin_web,
        "POST",
        "/api/tenant/demo/promote",
        json={"pipeline": "gate", "changes": ["7,1", "6,2"]},
    )
    assert reply.status_code == 200 and reply.json() is True
    kinds = [(e.kind, e.change, e.ref, e.changes) for e in queued(zk_client)]
    assert kinds == [
        (ManagementKind.DEQUEUE, "5,1", "", []),
        (ManagementKind.DEQUEUE, "", "refs/heads/main", []),
        (ManagementKind.PROMOTE, "", "", ["7,1", "6,2"]),
    ]


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        (ENQUEUE, {"change": "1,1"}, 400, "needs 'pipeline'"),
        (ENQUEUE, {"pipeline": "nope", "change": "1,1"}, 400, "Unknown pipeline 'nope'"),
        (ENQUEUE, {"pipeline": "check"}, 400, "needs 'change', or 'ref'"),
        (ENQUEUE, {"pipeline": "check", "change": "abc"}, 400, "'<number>,<patchset>'"),
        (
            "/api/tenant/demo/project/org/nope/enqueue",
            {"pipeline": "check", "change": "1,1"},
            404,
            "org/nope",
        ),
        (
            "/api/tenant/demo/project/org/app/dequeue",
            {"pipeline": "check", "change": "1,1", "ref": "x"},
            400,
            "either",
        ),
        (
            "/api/tenant/demo/promote",
            {"pipeline": "gate", "changes": []},
            400,
            "list of change ids",
        ),
        ("/api/tenant/demo/promote", {"pipeline": "gate", "changes": [12]}, 400, "list of strings"),
        (
            "/api/tenant/demo/project/org/app/autohold",
            {"job": "unit", "reason": "x", "count": 0},
            400,
            "'count'",
        ),
        ("/api/tenant/demo/project/org/app/autohold", {"reason": "x"}, 400, "needs 'job'"),
        (
            "/api/tenant/demo/project/org/app/autohold",
            {"job": "u", "reason": "x", "change": "1,1", "ref": "r"},
            400,
            "mutually exclusive",
        ),
        (
            "/api/tenant/demo/project/org/app/autohold",
            {"job": "u", "reason": "x", "ref": "(bad"},
            400,
            "not a valid regular expression",
        ),
    ],
)
def test_bad_bodies_are_400_saying_what(admin_web, zk_client, path, body, status, words):
    reply = call(admin_web, "POST", path, json=body)
    assert reply.status_code == status, reply.text
    assert words in reply.json()["description"]
    assert queued(zk_client) == []


def test_not_json_is_400(admin_web):
    reply = call(
        admin_web, "POST", ENQUEUE, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 400 and "not JSON" in reply.json()["description"]


def test_a_repeated_request_id_is_stored_once(admin_web, zk_client):
    headers = {"X-Lockgate-Request-Id": "req-123"}
    for _ in range(3):
        reply = call(
            admin_web, "POST", ENQUEUE, json={"pipeline": "gate", "change": "1,1"}, headers=headers
        )
        assert reply.status_code == 200
    [event] = queued(zk_client)
    assert event.event_id == "req-123"


def test_autohold_create_list_info_delete(admin_web, zk_client):
    path = "/api/tenant/demo/project/org/app/autohold"
    reply = call(
        admin_web,
        "POST",
        path,
        json={
            "job": "unit",
            "reason": "flaky",
            "count": 2,
            "change": "42",
            "ref": "",
            "node_hold_expiration": None,
        },
    )
    assert reply.status_code == 200 and reply.json() is True
    call(
        admin_web, "POST", path, json={"job": "lint", "reason": "x", "node_hold_expiration": 99999}
    )
    listed = call(admin_web, "GET", "/api/tenant/demo/autohold", None).json()
    assert [h["job"] for h in listed] == ["unit", "lint"]
    first = listed[0]
    assert first["tenant"] == "demo" and first["project"] == "org/app"
    assert first["max_count"] == 2 and first["current_count"] == 0 and first["nodes"] == []
    assert first["ref_filter"].endswith(".*") and "42" in first["ref_filter"]
    # Defaults and the ceiling from [scheduler].
    assert first["node_expiration"] == 600 and listed[1]["node_expiration"] == 3600
    assert call(admin_web, "GET", path, None).json() == listed
    assert call(admin_web, "GET", "/api/tenant/demo/autohold?project=org/lib", None).json() == []
    info = call(admin_web, "GET", f"/api/tenant/demo/autohold/{first['id']}", None)
    assert info.status_code == 200 and info.json() == first
    # Another tenant does not see it; deleting needs an admin of the tenant.
    assert (
        call(admin_web, "GET", f"/api/tenant/other/autohold/{first['id']}", None).status_code == 404
    )
    assert (
        call(admin_web, "DELETE", f"/api/tenant/demo/autohold/{first['id']}", None).status_code
        == 401
    )
    assert (
        call(admin_web, "DELETE", f"/api/tenant/demo/autohold/{first['id']}", token()).status_code
        == 403
    )
    reply = call(admin_web, "DELETE", f"/api/tenant/demo/autohold/{first['id']}")
    assert reply.status_code == 204
    assert [h.job for h in HoldRequestStore(zk_client).for_tenant("demo")] == ["lint"]
    assert (
        call(admin_web, "GET", f"/api/tenant/demo/autohold/{first['id']}", None).status_code == 404
    )
    assert call(admin_web, "GET", "/api/tenant/demo/autohold/not-a-number", None).status_code == 404


def test_info_advertises_the_realms_and_authorizations_answer(admin_web):
    info = call(admin_web, "GET", "/api/info", None).json()["info"]
    auth = info["capabilities"]["auth"]
    assert auth["default_realm"] == "lockgate.example.com"
    assert auth["realms"]["lockgate.example.com"] == {
        "authority": "lockgate-admin",
        "client_id": "lockgate",
        "type": "JWT",
        "driver": "HS256",
    }
    tenant = call(admin_web, "GET", "/api/tenant/demo/info", None).json()["info"]
    assert tenant["tenant"] == "demo"
    assert tenant["capabilities"]["auth"]["default_realm"] == "lockgate.example.com"
    assert call(admin_web, "GET", "/api/tenant/demo/authorizations").json() == {
        "zuul": {"admin": True, "scope": ["demo"]}
    }
    assert call(admin_web, "GET", "/api/tenant/other/authorizations").json() == {
        "zuul": {"admin": False, "scope": ["other"]}
    }
    assert call(admin_web, "GET", "/api/tenant/demo/authorizations", None).status_code == 401
    assert call(admin_web, "GET", "/api/authorizations").json() == {
        "zuul": {"admin": False, "scope": ["*"]}
    }


def test_without_auth_sections_admin_actions_say_auth_is_not_configured(
    sqlite_db, zk_client, publish
):
    publish("demo", projects=["org/app"], pipelines=["check"])
    for h in harness(sqlite_db, zk_client, "[scheduler]\ntenant_config = /x.yaml\n"):
        reply = call(h, "POST", ENQUEUE, json={"pipeline": "check", "change": "1,1"})
        assert reply.status_code == 401
        assert "not configured" in reply.json()["description"]
        info = call(h, "GET", "/api/info", None).json()["info"]
        assert info["capabilities"]["auth"] == {
            "realms": {},
            "default_realm": None,
            "read_protected": False,
        }


def test_the_nodes_endpoint_lists_a_held_node_with_its_hold(admin_web, zk_client):
    """A held node stays listed after its node request is gone, with the
    hold's reason (Zuul's ``comment``), what it was for and its expiry."""
    from lockgate.model.holds import HoldRequest
    from lockgate.model.nodes import Node, NodeState
    from lockgate.zk import NodeStore
    from lockgate.zk.holds import hold_build_nodes

    HoldRequestStore(zk_client).create(
        HoldRequest("demo", "org/app", "unit", "why?", node_expiration=60)
    )
    node = Node("debian", "local", state=NodeState.IN_USE, allocated_to="gone-request")
    NodeStore(zk_client).create(node)
    hold_build_nodes(
        zk_client,
        tenant="demo",
        projects=["org/app"],
        job="unit",
        ref="refs/heads/master",
        result="FAILURE",
        build="b1",
        nodes=[node],
        now=1000.0,
    )
    [shown] = call(admin_web, "GET", "/api/tenant/demo/nodes", None).json()
    assert shown["id"] == node.id and shown["state"] == "hold"
    assert shown["comment"] == "why?" and shown["hold_job"] == "demo org/app unit .*"
    assert shown["hold_expiration"] == 60 and shown["hold_until"] == 1060.0
    assert call(admin_web, "GET", "/api/tenant/other/nodes", None).json() == []
