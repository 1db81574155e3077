"""Read access (``lockgate.web.access``): a tenant's access-rules and the
api-root's guard every read, served for real against the test's ZooKeeper
and database.  The route walks take the routes from the app itself, so an
endpoint added later is covered without being listed here."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from lockgate.auth.rules import TenantAuth
from lockgate.db import Database, RefInfo
from lockgate.web import access
from lockgate.web.zkstate import ZKClusterState
from lockgate.zk.client import ZKClient

from tests.fixtures.auth import HS256Realm
from tests.fixtures.web import WebHarness, served, with_auth

SSO = HS256Realm(
    "sso", "sso.example.com", "lockgate-sso", "access-tests-secret-long-enough-for-hs256"
)
AUTH = SSO.section(allow_authz_override="true")
RULES = {
    "readers": [{"groups": "{tenant.name}-readers"}],
    "admins": [{"groups": "ops"}],
    "staff": [{"groups": "staff"}],
}
SECRET_TENANT = TenantAuth(
    realm="sso.example.com", admin_rules=["admins"], access_rules=["readers"], rules=RULES
)
BUILD = "5ec12e7000000000000000000000b001"
OPEN_BUILD = "09e40000000000000000000000000b02"


token = SSO.token
READER = token("rita", groups=["secret-readers"])
ADMIN = token("oscar", groups=["ops"])  # an admin of "secret", no access-rule of it
STRANGER = token("sam", groups=["elsewhere"])
STAFF = token("stella", groups=["staff"])


def publish_world(publish: Any, root_rules: list[str] | None = None) -> None:
    root = {"api_root_access_rules": root_rules or [], "api_root_realm": "sso.example.com"}
    publish(
        "secret",
        projects=["org/app"],
        pipelines=["check"],
        project_connections={"org/app": "gerrit"},
        auth={**SECRET_TENANT.to_dict(), **root},
    )
    publish(
        "open",
        projects=["org/pub"],
        pipelines=["check"],
        auth={**TenantAuth(rules=RULES).to_dict(), **root},
    )


def record_builds(db: Database) -> None:
    ref = RefInfo(project="org/app", ref="refs/changes/1/1/1", change=1, patchset="1")
    db.create_buildset("bs-secret", "secret", "check", [ref])
    db.create_build(BUILD, "bs-secret", "unit")
    pub = RefInfo(project="org/pub", ref="refs/changes/2/2/1", change=2, patchset="1")
    db.create_buildset("bs-open", "open", "check", [pub])
    db.create_build(OPEN_BUILD, "bs-open", "unit")


@pytest.fixture
def logs(log_root: Path) -> Path:
    for uuid in (BUILD, OPEN_BUILD, "0000aaaa0000"):
        (log_root / uuid).mkdir()
        (log_root / uuid / "job-output.txt").write_text(f"the log of {uuid}\n")
    return log_root


def _harness(db: Database, zk: ZKClient, log_root: Path) -> Iterator[WebHarness]:
    """The app with ``[auth]`` sections read, as the web service does."""
    yield from served(WebHarness(db, ZKClusterState(zk), str(log_root), configure=with_auth(AUTH)))


@pytest.fixture
def site(
    sqlite_db: Database, zk_client: ZKClient, logs: Path, publish: Any
) -> Iterator[WebHarness]:
    """Tenant "secret" read-protected, tenant "open" not; no api-root rules."""
    publish_world(publish)
    record_builds(sqlite_db)
    yield from _harness(sqlite_db, zk_client, logs)


@pytest.fixture
def rooted(
    sqlite_db: Database, zk_client: ZKClient, logs: Path, publish: Any
) -> Iterator[WebHarness]:
    """As ``site``, and the api-root readable by "staff" only."""
    publish_world(publish, ["staff"])
    yield from _harness(sqlite_db, zk_client, logs)


def get(h: WebHarness, path: str, tok: str | None = None, **kw: Any) -> requests.Response:
    headers = dict(kw.pop("headers", {}))
    if tok is not None:
        headers["Authorization"] = f"Bearer {tok}"
    return requests.get(h.url + path, headers=headers, timeout=30, allow_redirects=False, **kw)


# Values for each path parameter of the routes the walks fill in.
PARAMS = {
    "project": "org/app",
    "uuid": BUILD,
    "job": "unit",
    "pipeline": "check",
    "branch": "master",
    "change": "1,1",
    "request_id": "0000000001",
    "page": "jobs",
    "path": "job-output.txt",
    "connection": "gerrit",
}


def routes(h: WebHarness, tenant: str) -> list[tuple[str, str]]:
    """(canonical, url) of every GET route of the app, filled in."""
    assert h.app is not None
    found = []
    for route in h.app.router.routes():
        if route.method != "GET" or route.resource is None:
            continue
        canonical = route.resource.canonical
        url = canonical
        for name in re.findall(r"\{(\w+)\}", canonical):
            url = url.replace("{" + name + "}", PARAMS.get(name, tenant))
        found.append((canonical, url))
    return found


def test_every_tenant_route_needs_a_token_to_read_a_protected_tenant(site: WebHarness) -> None:
    walked = [
        (c, u) for c, u in routes(site, "secret") if access.scope_of(c) is access.Scope.TENANT
    ]
    # The walk covers the API, the console stream and the dashboard's pages.
    assert len(walked) >= 30, walked
    assert {"/api/tenant/{tenant}/status", "/api/tenant/{tenant}/console-stream"} <= {
        c for c, _ in walked
    }
    assert any(c.startswith("/t/") for c, _ in walked)
    for canonical, url in walked:
        bare = get(site, url)
        assert bare.status_code == 401, (url, bare.status_code, bare.text[:300])
        if access.is_page(canonical):
            # The dashboard, without data, so that it can ask for a token.
            assert "/static/js/app.js" in bare.text and "org/app" not in bare.text, url
            continue
        body = bare.json()
        assert body["error"] == "MissingAuthError", (url, body)
        assert "tenant 'secret' is read-protected" in body["description"], (url, body)
        assert body["realm"] == "sso.example.com"
        assert bare.headers["WWW-Authenticate"].startswith('Bearer realm="sso.example.com"')
        stranger = get(site, url, STRANGER)
        assert stranger.status_code == 403, (url, stranger.status_code, stranger.text[:300])
        assert "user 'sam' may not read tenant 'secret'" in stranger.json()["description"]
        for tok in (READER, ADMIN):
            allowed = get(site, url, tok)
            assert allowed.status_code not in (401, 403), (url, allowed.status_code, allowed.text)


def test_the_same_routes_of_a_tenant_without_access_rules_need_no_token(site: WebHarness) -> None:
    walked = [(c, u) for c, u in routes(site, "open") if access.scope_of(c) is access.Scope.TENANT]
    for canonical, url in walked:
        reply = get(site, url)
        if canonical == "/api/tenant/{tenant}/authorizations":  # who am I: needs a token
            assert reply.status_code == 401
            continue
        assert reply.status_code not in (401, 403), (url, reply.status_code, reply.text[:300])
    # A bad token is ignored where none is needed, as Zuul does.
    assert get(site, "/api/tenant/open/status", token(secret="x" * 40)).status_code == 200


def test_every_global_route_needs_a_token_when_the_api_root_has_access_rules(
    rooted: WebHarness,
) -> None:
    walked = [
        (c, u) for c, u in routes(rooted, "secret") if access.scope_of(c) is access.Scope.ROOT
    ]
    assert {"/api/tenants", "/api/connections", "/api/components", "/"} <= {c for c, _ in walked}
    for canonical, url in walked:
        bare = get(rooted, url)
        assert bare.status_code == 401, (url, bare.status_code, bare.text[:300])
        if not access.is_page(canonical):
            assert "global endpoints are read-protected" in bare.json()["description"]
        assert get(rooted, url, READER).status_code == 403, url
        assert get(rooted, url, STAFF).status_code not in (401, 403), url
        wildcard = token("wanda", zuul={"admin": "*"})
        assert get(rooted, url, wildcard).status_code not in (401, 403), url
    # Tenants without access-rules stay open: the api-root guards only the root.
    assert get(rooted, "/api/tenant/open/status").status_code == 200


def test_public_routes_exist_and_answer_without_a_token(rooted: WebHarness) -> None:
    assert rooted.app is not None
    canonicals = {r.resource.canonical for r in rooted.app.router.routes() if r.resource}
    # A stale entry would hide nothing today and a future route tomorrow.
    assert access.PUBLIC_ROUTES <= canonicals
    # Pinned: a route made public is a decision, not a side effect.
    assert access.PUBLIC_ROUTES == {
        "/api/info",
        "/api/tenant/{tenant}/info",
        "/health/live",
        "/health/ready",
        "/static/{path}",
        "/api/connection/{connection}/payload",
    }
    for path in ("/api/info", "/api/tenant/secret/info", "/health/live", "/static/js/app.js"):
        assert get(rooted, path).status_code == 200, path


def test_info_says_whether_reading_needs_a_login(rooted: WebHarness) -> None:
    secret = get(rooted, "/api/tenant/secret/info").json()["info"]["capabilities"]["auth"]
    assert secret["read_protected"] is True
    assert secret["default_realm"] == "sso.example.com"
    assert secret["realms"]["sso.example.com"]["driver"] == "HS256"
    assert (
        get(rooted, "/api/tenant/open/info").json()["info"]["capabilities"]["auth"][
            "read_protected"
        ]
        is False
    )
    root = get(rooted, "/api/info").json()["info"]["capabilities"]["auth"]
    assert root["read_protected"] is True and root["default_realm"] == "sso.example.com"


def test_the_tenant_list_tells_nothing_of_a_tenant_the_caller_cannot_read(
    site: WebHarness,
) -> None:
    def listing(tok: str | None) -> dict[str, dict[str, Any]]:
        reply = get(site, "/api/tenants", tok)
        assert reply.status_code == 200
        return {t["name"]: t for t in reply.json()}

    anonymous = listing(None)
    assert anonymous["secret"] == {"name": "secret", "projects": None, "queue": None}
    assert anonymous["open"]["projects"] == 1
    assert listing(READER)["secret"]["projects"] == 1
    assert listing(ADMIN)["secret"]["projects"] == 1
    assert listing(STRANGER)["secret"]["projects"] is None


def test_token_errors_name_what_failed(site: WebHarness) -> None:
    expired = get(site, "/api/tenant/secret/status", token(exp=int(time.time()) - 60))
    assert expired.status_code == 401 and expired.json()["error"] == "TokenExpiredError"
    forged = get(site, "/api/tenant/secret/status", token(secret="not-the-secret-" * 3))
    assert forged.status_code == 401
    assert forged.json()["error"] == "AuthTokenInvalidSignatureException"
    basic = get(site, "/api/tenant/secret/status", headers={"Authorization": "Basic eA=="})
    assert basic.status_code == 401 and basic.json()["error"] == "InvalidAuthFormat"
    stranger = get(site, "/api/tenant/secret/builds", STRANGER).json()
    assert stranger["error"] == "AuthTokenForbiddenException"
    assert "access-rules (readers)" in stranger["description"]


def test_without_auth_sections_a_protected_tenant_says_no_token_can_be_accepted(
    sqlite_db: Database, zk_client: ZKClient, logs: Path, publish: Any
) -> None:
    publish_world(publish)
    h = WebHarness(sqlite_db, ZKClusterState(zk_client), str(logs)).start()
    try:
        reply = requests.get(h.url + "/api/tenant/secret/status", timeout=30)
        assert reply.status_code == 401
        assert "tenant 'secret' is read-protected" in reply.json()["description"]
        assert "authentication is not configured" in reply.json()["description"]
        with_token = requests.get(
            h.url + "/api/tenant/secret/status",
            headers={"Authorization": f"Bearer {READER}"},
            timeout=30,
        )
        assert with_token.status_code == 401
        assert "authentication is not configured" in with_token.json()["description"]
        assert requests.get(h.url + "/api/tenant/open/status", timeout=30).status_code == 200
    finally:
        h.stop()


def test_build_logs_follow_the_access_rules_of_the_builds_tenant(site: WebHarness) -> None:
    path = f"/logs/{BUILD}/job-output.txt"
    bare = get(site, path)
    assert bare.status_code == 401
    assert (
        f"the logs of build {BUILD}: tenant 'secret' is read-protected"
        in bare.json()["description"]
    )
    assert get(site, path, STRANGER).status_code == 403
    assert get(site, path, READER).text == f"the log of {BUILD}\n"
    # The dashboard's cookie, for log links opened in a new tab.
    assert get(site, path, cookies={access.TOKEN_COOKIE: READER}).status_code == 200
    assert get(site, path, cookies={access.TOKEN_COOKIE: STRANGER}).status_code == 403
    assert get(site, f"/logs/{OPEN_BUILD}/job-output.txt").status_code == 200
    # A build the database does not know: not served while any tenant is protected.
    unknown = get(site, "/logs/0000aaaa0000/job-output.txt", READER)
    assert unknown.status_code == 404 and "read-protected" in unknown.json()["description"]


async def _follow(url: str, first: dict[str, Any], headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url, headers=headers) as ws:
            await ws.send_str(json.dumps(first))
            while True:
                msg = await ws.receive(timeout=30)
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
            assert msg.type is aiohttp.WSMsgType.CLOSE, msg
            return ws.close_code or 0, msg.extra or ""


def follow(h: WebHarness, first: dict[str, Any], **headers: str) -> tuple[int, str]:
    url = f"ws://127.0.0.1:{h.port}/api/tenant/secret/console-stream"
    return asyncio.run(_follow(url, first, headers))


def test_the_console_stream_takes_the_token_in_its_first_message(site: WebHarness) -> None:
    ask = {"uuid": BUILD, "logfile": "console.log"}
    code, reason = follow(site, ask)
    assert code == 4000 and reason.startswith("MissingAuthError: tenant 'secret'"), reason
    assert "'token'" in reason
    code, reason = follow(site, {**ask, "token": STRANGER})
    assert code == 4000 and reason.startswith("AuthTokenForbiddenException"), reason
    code, reason = follow(site, {**ask, "token": "not a token"})
    assert code == 4000 and reason.startswith("AuthTokenUndecodedException"), reason
    # Past the gate: the build is recorded but runs nowhere.
    code, reason = follow(site, {**ask, "token": READER})
    assert (code, reason) == (4011, f"build {BUILD} is not running on any executor (yet)")
    code, reason = follow(site, ask, Authorization=f"Bearer {READER}")
    assert code == 4011, reason


def test_a_websocket_upgrade_with_a_bad_header_is_refused_before_the_upgrade(
    site: WebHarness,
) -> None:
    async def connect() -> int:
        async with aiohttp.ClientSession() as http:
            try:
                await http.ws_connect(
                    f"ws://127.0.0.1:{site.port}/api/tenant/secret/console-stream",
                    headers={"Authorization": f"Bearer {STRANGER}"},
                )
            except aiohttp.WSServerHandshakeError as e:
                return e.status
        return 101

    assert asyncio.run(connect()) == 403


def test_the_clients_send_their_token_for_reads(rooted: WebHarness, sqlite_db: Database) -> None:
    from lockgate.client import AdminClient, ClientError
    from lockgate.web.console_client import FollowError
    from lockgate.web.console_client import follow as follow_console

    with pytest.raises(ClientError, match="MissingAuthError: this service's global endpoints"):
        AdminClient(rooted.url, None).tenants()
    assert AdminClient(rooted.url, f"Bearer {STAFF}").tenants() == ["open", "secret"]

    record_builds(sqlite_db)
    out = io.StringIO()
    with pytest.raises(FollowError, match=r"refused the websocket \(403\)"):
        asyncio.run(follow_console(rooted.url, "secret", BUILD, out, STRANGER))
    ending = asyncio.run(follow_console(rooted.url, "secret", BUILD, out, READER))
    assert (ending.code, ending.reason) == (
        4011,
        f"build {BUILD} is not running on any executor (yet)",
    )
    anonymous = asyncio.run(follow_console(rooted.url, "secret", BUILD, out))
    assert anonymous.code == 4000 and anonymous.reason.startswith("MissingAuthError")
