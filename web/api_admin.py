"""Admin endpoints in Zuul's paths and shapes: enqueue, dequeue, promote,
autohold, tenant event state (``manage-events``), node state
(``node-set-state``), nodeset request deletion, authorizations.

Who calls them: ``zuul-client`` (14.x) and ``lockgate client`` with a
bearer token.  Each admin action checks, in Zuul's order: the tenant exists
(404), the token (401) and the tenant's admin-rules (403,
``lockgate.web.auth``), then the body (400 saying what is wrong), the
pipeline (400) and the project (404).

What comes next:

- enqueue, dequeue and promote become a ``ManagementEvent`` on the tenant's
  management queue in ZooKeeper, answered ``true`` once stored; the
  scheduler holding the tenant's lock acts on it
  (``lockgate.scheduler.management``).  A request carrying
  ``X-Lockgate-Request-Id`` is stored once however often it is sent;
- an autohold is a ``HoldRequest`` record (``lockgate.zk.holds``), read by
  the executors finishing builds and the launchers keeping nodes; deleting
  it releases the nodes it holds;
- a tenant's event state (``POST /api/tenant/{t}/state``) is a
  ``TenantEventState`` record (``lockgate.zk.event_state``) that the
  scheduler honours at its next pass (paused events stay queued, discarded
  ones are dropped);
- ``PUT /api/tenant/{t}/nodes/{id}`` (hold, used) and ``DELETE
  /api/tenant/{t}/nodeset-requests/{id}`` write the node or request record
  (``lockgate.zk.node_admin``, rules in ``lockgate.model.node_admin``); the
  launcher keeps or deletes the node, the scheduler ends the job whose
  request was cancelled.

Reads (autohold list and info) need no token, as in Zuul.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from lockgate.model.event_state import TenantEventState
from lockgate.model.holds import (
    ANY_REF,
    HoldRequest,
    change_ref_filter,
    validate_ref_filter,
)
from lockgate.model.management import ManagementEvent, ManagementKind, parse_change_id
from lockgate.model.node_admin import AdminNodeState, AdminRefused, parse_admin_state
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.service_config import ServiceConfig
from lockgate.web import auth
from lockgate.web.context import context
from lockgate.web.errors import ApiError, bad_request, not_found, unavailable
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import ZKError
from lockgate.zk.event_state import save_event_state
from lockgate.zk.holds import HoldRequestStore
from lockgate.zk.node_admin import NotFound, admin_cancel_node_request, admin_set_node_state
from lockgate.zk.queues import management_queue

log = logging.getLogger("lockgate.web.admin")

T = TypeVar("T")

REQUEST_ID_HEADER = "X-Lockgate-Request-Id"
MAX_BODY = 64 * 1024

ENDPOINTS = {
    "authorizations": "/api/authorizations",
    "tenant_authorizations": "/api/tenant/{tenant}/authorizations",
    "autohold": "/api/tenant/{tenant}/project/{project:.*}/autohold",
    "autohold_list": "/api/tenant/{tenant}/autohold",
    "autohold_by_request_id": "/api/tenant/{tenant}/autohold/{request_id}",
    "autohold_delete": "/api/tenant/{tenant}/autohold/{request_id}",
    "enqueue": "/api/tenant/{tenant}/project/{project:.*}/enqueue",
    "dequeue": "/api/tenant/{tenant}/project/{project:.*}/dequeue",
    "promote": "/api/tenant/{tenant}/promote",
    "tenant_state": "/api/tenant/{tenant}/state",
    "node": "/api/tenant/{tenant}/nodes/{node_id}",
    "nodeset_request": "/api/tenant/{tenant}/nodeset-requests/{request_id}",
}


@dataclass
class AdminBackend:
    """The admin endpoints' ZooKeeper writes (blocking; run off the loop)."""

    zk: ZKClient | None
    # Seconds a held node is kept when the request names none (0: until
    # the hold is deleted), and the most a request may ask (0: no limit):
    # ``[scheduler] default_hold_expiration`` / ``max_hold_expiration``.
    default_hold_expiration: int = 0
    max_hold_expiration: int = 0

    def _client(self) -> ZKClient:
        if self.zk is None or not self.zk.connected:
            raise unavailable("ZooKeeper is not connected; try again shortly")
        return self.zk

    def put_event(self, event: ManagementEvent, dedup_key: str | None) -> bool:
        """Store ``event``; False when ``dedup_key`` was stored already."""
        queue = management_queue(self._client(), event.tenant)
        return queue.put(event.to_dict(), dedup_key=dedup_key) is not None

    def holds(self) -> HoldRequestStore:
        return HoldRequestStore(self._client())

    def set_event_state(self, state: TenantEventState) -> None:
        save_event_state(self._client(), state)

    def set_node_state(self, tenant: str, node_id: str, wanted: AdminNodeState, by: str) -> None:
        admin_set_node_state(self._client(), tenant, node_id, wanted, by=by)

    def cancel_node_request(self, tenant: str, request_id: str, by: str) -> None:
        admin_cancel_node_request(self._client(), tenant, request_id, by=by)

    def hold_expiration(self, asked: int | None) -> int:
        if asked is None:
            asked = self.default_hold_expiration
        if self.max_hold_expiration and (asked == 0 or asked > self.max_hold_expiration):
            return self.max_hold_expiration
        return asked


ADMIN = web.AppKey("lockgate_admin", AdminBackend)


def configure(app: web.Application, config: ServiceConfig, zk: ZKClient | None) -> None:
    """Give the endpoints the ZooKeeper client and the ``[auth]`` sections."""
    section = config.section("scheduler")
    app[ADMIN] = AdminBackend(
        zk,
        default_hold_expiration=section.get_int("default_hold_expiration", 0) or 0,
        max_hold_expiration=section.get_int("max_hold_expiration", 0) or 0,
    )
    auth.configure(app, config)


def backend(request: web.Request) -> AdminBackend:
    found = request.app.get(ADMIN)
    if found is None:
        raise unavailable("admin actions are not configured on this web service")
    return found


async def _blocking(fn: Callable[..., T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(None, functools.partial(fn, *args))
    except ZKError as e:
        raise unavailable(f"ZooKeeper: {e}") from None


# --- request parsing ---------------------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, f"the request body is over {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ApiError(413, f"the request body is over {MAX_BODY} bytes")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise bad_request("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def _string(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise bad_request(f"the request body needs '{key}'")
        return None
    if not isinstance(value, str):
        raise bad_request(f"'{key}' must be a string")
    return value


def _project(layout: TenantLayoutState, name: str) -> str:
    """The tenant's name for project ``name`` (which may be canonical,
    ``hostname/org/project``); 404 when the tenant has no such project."""
    if name in layout.projects:
        return name
    matches = [p for p in layout.projects if name.endswith("/" + p)]
    if len(matches) == 1:
        return matches[0]
    raise not_found(f"Project {name} does not exist in tenant {layout.tenant}")


def _pipeline(layout: TenantLayoutState, body: dict[str, Any]) -> str:
    name = _string(body, "pipeline", required=True)
    assert name is not None
    if name not in layout.pipelines:
        raise bad_request(
            f"Unknown pipeline {name!r} in tenant {layout.tenant} "
            f"(pipelines: {', '.join(layout.pipelines) or 'none'})"
        )
    return name


def _change(body: dict[str, Any]) -> str:
    change = _string(body, "change", required=True)
    assert change is not None
    try:
        parse_change_id(change)
    except ValueError as e:
        raise bad_request(str(e)) from None
    return change


async def _admin(request: web.Request) -> tuple[TenantLayoutState, Any]:
    layout = await context(request).layout(request.match_info["tenant"])
    identity = await auth.require_admin(request, layout)
    return layout, identity


async def _submit(request: web.Request, event: ManagementEvent) -> web.Response:
    request_id = request.headers.get(REQUEST_ID_HEADER) or None
    if request_id is not None:
        if len(request_id) > 200:
            raise bad_request(f"{REQUEST_ID_HEADER} is longer than 200 characters")
        event = ManagementEvent.from_dict({**event.to_dict(), "event_id": request_id})
    stored = await _blocking(backend(request).put_event, event, request_id)
    log.info(
        "[e: %s] %s %s",
        event.event_id,
        event.describe(),
        "queued for the scheduler" if stored else "already queued (same request id)",
    )
    return web.json_response(True)


# --- enqueue, dequeue, promote -------------------------------------------------------


async def enqueue(request: web.Request) -> web.Response:
    layout, identity = await _admin(request)
    body = await _body(request)
    pipeline = _pipeline(layout, body)
    project = _project(layout, request.match_info["project"])
    common = {
        "tenant": layout.tenant,
        "pipeline": pipeline,
        "project": project,
        "requested_by": identity.uid,
        "realm": identity.realm,
    }
    if body.get("change"):
        event = ManagementEvent(kind=ManagementKind.ENQUEUE, change=_change(body), **common)
    elif body.get("ref"):
        ref = _string(body, "ref", required=True) or ""
        event = ManagementEvent(
            kind=ManagementKind.ENQUEUE_REF,
            ref=ref,
            oldrev=_string(body, "oldrev") or "",
            newrev=_string(body, "newrev") or "",
            **common,
        )
    else:
        raise bad_request("the request body needs 'change', or 'ref' (with 'oldrev', 'newrev')")
    return await _submit(request, event)


async def dequeue(request: web.Request) -> web.Response:
    layout, identity = await _admin(request)
    body = await _body(request)
    pipeline = _pipeline(layout, body)
    project = _project(layout, request.match_info["project"])
    change, ref = body.get("change"), body.get("ref")
    if bool(change) == bool(ref):
        raise bad_request("the request body needs either 'change' or 'ref' (not both)")
    event = ManagementEvent(
        kind=ManagementKind.DEQUEUE,
        tenant=layout.tenant,
        pipeline=pipeline,
        project=project,
        change=_change(body) if change else "",
        ref=(_string(body, "ref") or "") if ref else "",
        requested_by=identity.uid,
        realm=identity.realm,
    )
    return await _submit(request, event)


async def promote(request: web.Request) -> web.Response:
    layout, identity = await _admin(request)
    body = await _body(request)
    pipeline = _pipeline(layout, body)
    changes = body.get("changes")
    if not isinstance(changes, list) or not changes:
        raise bad_request("the request body needs 'changes': a list of change ids")
    for change in changes:
        if not isinstance(change, str):
            raise bad_request("'changes' must be a list of strings like '1234,2'")
        try:
            parse_change_id(change)
        except ValueError as e:
            raise bad_request(str(e)) from None
    event = ManagementEvent(
        kind=ManagementKind.PROMOTE,
        tenant=layout.tenant,
        pipeline=pipeline,
        changes=list(changes),
        requested_by=identity.uid,
        realm=identity.realm,
    )
    return await _submit(request, event)


# --- autohold ----------------------------------------------------------------------


def _list_holds(holds: HoldRequestStore, tenant: str, project: str | None) -> list[dict[str, Any]]:
    out = []
    for request in holds.for_tenant(tenant):
        if project is None or request.project == project or project.endswith("/" + request.project):
            out.append(request.to_api())
    return out


async def autohold_list(request: web.Request) -> web.Response:
    layout = await context(request).layout(request.match_info["tenant"])
    project = request.query.get("project") or None
    holds = backend(request).holds()
    return web.json_response(await _blocking(_list_holds, holds, layout.tenant, project))


async def autohold_project_list(request: web.Request) -> web.Response:
    layout = await context(request).layout(request.match_info["tenant"])
    project = _project(layout, request.match_info["project"])
    holds = backend(request).holds()
    return web.json_response(await _blocking(_list_holds, holds, layout.tenant, project))


def _count(body: dict[str, Any]) -> int:
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int):
        raise bad_request("'count' must be a whole number")
    if count < 1 or count > 10000:
        raise bad_request("'count' must be between 1 and 10000")
    return count


def _expiration(body: dict[str, Any]) -> int | None:
    value = body.get("node_hold_expiration")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise bad_request("'node_hold_expiration' must be a whole number of seconds (0 or more)")
    return value


async def autohold_create(request: web.Request) -> web.Response:
    layout, identity = await _admin(request)
    body = await _body(request)
    project = _project(layout, request.match_info["project"])
    job = _string(body, "job", required=True)
    reason = _string(body, "reason", required=True)
    change, ref = _string(body, "change"), _string(body, "ref")
    if change and ref:
        raise bad_request("'change' and 'ref' are mutually exclusive")
    if change:
        try:
            number, _ = parse_change_id(change)
        except ValueError as e:
            raise bad_request(str(e)) from None
        ref_filter = change_ref_filter(number)
    else:
        ref_filter = ref or ANY_REF
    problem = validate_ref_filter(ref_filter)
    if problem:
        raise bad_request(problem)
    admin = backend(request)
    hold = HoldRequest(
        tenant=layout.tenant,
        project=project,
        job=job or "",
        reason=reason or "",
        ref_filter=ref_filter,
        max_count=_count(body),
        node_expiration=admin.hold_expiration(_expiration(body)),
        requested_by=identity.uid,
    )
    hold_id = await _blocking(admin.holds().create, hold)
    log.info(
        "autohold %s created by %s: %s %s %s %s (count %d)",
        hold_id,
        identity.uid,
        layout.tenant,
        project,
        hold.job,
        ref_filter,
        hold.max_count,
    )
    return web.json_response(True)


async def _hold(request: web.Request) -> tuple[TenantLayoutState, HoldRequest, HoldRequestStore]:
    layout = await context(request).layout(request.match_info["tenant"])
    request_id = request.match_info["request_id"]
    holds = backend(request).holds()
    found = await _blocking(holds.get, request_id) if request_id.isdigit() else None
    # Another tenant's request is "not found" too: tenants do not see each other.
    if found is None or found.record.tenant != layout.tenant:
        raise not_found(f"Hold request {request_id} not found in tenant {layout.tenant}")
    return layout, found.record, holds


async def autohold_get(request: web.Request) -> web.Response:
    _, hold, _ = await _hold(request)
    return web.json_response(hold.to_api())


async def autohold_delete(request: web.Request) -> web.Response:
    layout = await context(request).layout(request.match_info["tenant"])
    identity = await auth.require_admin(request, layout)
    _, hold, holds = await _hold(request)
    await _blocking(holds.delete, hold.id)
    log.info(
        "autohold %s deleted by %s; its %d held build(s) are released",
        hold.id,
        identity.uid,
        len(hold.nodes),
    )
    return web.Response(status=204)


# --- tenant event state, nodes, nodeset requests --------------------------------------


async def tenant_state(request: web.Request) -> web.Response:
    """zuul-client ``manage-events``: pause, discard or resume the tenant's
    events.  Answers the state now stored (what the status shows)."""
    layout, identity = await _admin(request)
    body = await _body(request)
    try:
        state = TenantEventState.from_request(
            layout.tenant, body, set_by=identity.uid, now=time.time()
        )
    except ValueError as e:
        raise bad_request(str(e)) from None
    await _blocking(backend(request).set_event_state, state)
    log.info("tenant %s: %s (set by %s)", layout.tenant, state.describe(), identity.uid)
    return web.json_response(state.to_api())


async def node_set_state(request: web.Request) -> web.Response:
    """zuul-client ``node-set-state NODE hold|used``.  Answers ``{}``: the
    client takes a falsy answer for success."""
    layout, identity = await _admin(request)
    body = await _body(request)
    try:
        wanted = parse_admin_state(body.get("state"))
    except ValueError as e:
        raise bad_request(str(e)) from None
    node_id = request.match_info["node_id"]
    try:
        await _blocking(
            backend(request).set_node_state, layout.tenant, node_id, wanted, identity.uid
        )
    except NotFound as e:
        raise not_found(str(e)) from None
    except AdminRefused as e:
        raise ApiError(409, str(e)) from None
    return web.json_response({})


async def nodeset_request_delete(request: web.Request) -> web.Response:
    """zuul-client ``nodeset-request-delete REQ``: cancel a pending request (204)."""
    layout, identity = await _admin(request)
    request_id = request.match_info["request_id"]
    try:
        await _blocking(
            backend(request).cancel_node_request, layout.tenant, request_id, identity.uid
        )
    except NotFound as e:
        raise not_found(str(e)) from None
    except AdminRefused as e:
        raise ApiError(409, str(e)) from None
    return web.Response(status=204)


# --- authorizations ------------------------------------------------------------------


async def root_authorizations(request: web.Request) -> web.Response:
    identity = await auth.identify(request)
    zuul = identity.claims.get("zuul")
    admin = isinstance(zuul, dict) and zuul.get("admin") in ("*", ["*"])
    return web.json_response({"zuul": {"admin": bool(admin), "scope": ["*"]}})


async def tenant_authorizations(request: web.Request) -> web.Response:
    layout = await context(request).layout(request.match_info["tenant"])
    _, decision = await auth.authorization(request, layout)
    return web.json_response({"zuul": {"admin": decision.admin, "scope": [layout.tenant]}})


def add_routes(app: web.Application) -> None:
    """Register before any ``/project/{project:.*}`` route of the read API:
    project names contain ``/``, so the action must match first."""
    r = app.router
    r.add_get("/api/authorizations", root_authorizations)
    r.add_get("/api/tenant/{tenant}/authorizations", tenant_authorizations)
    r.add_post("/api/tenant/{tenant}/project/{project:.+}/enqueue", enqueue)
    r.add_post("/api/tenant/{tenant}/project/{project:.+}/dequeue", dequeue)
    r.add_get("/api/tenant/{tenant}/project/{project:.+}/autohold", autohold_project_list)
    r.add_post("/api/tenant/{tenant}/project/{project:.+}/autohold", autohold_create)
    r.add_post("/api/tenant/{tenant}/promote", promote)
    r.add_get("/api/tenant/{tenant}/autohold", autohold_list)
    r.add_get("/api/tenant/{tenant}/autohold/{request_id}", autohold_get)
    r.add_delete("/api/tenant/{tenant}/autohold/{request_id}", autohold_delete)
    r.add_post("/api/tenant/{tenant}/state", tenant_state)
    r.add_put("/api/tenant/{tenant}/nodes/{node_id}", node_set_state)
    r.add_delete("/api/tenant/{tenant}/nodeset-requests/{request_id}", nodeset_request_delete)
