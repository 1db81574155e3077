"""``/api/tenant/{t}/status`` and ``/api/tenant/{t}/status/change/{id}``.

The status is Zuul's shape (``lockgate.model.queue.status_json``) with
estimated and remaining times from earlier builds, served from
``lockgate.web.status_cache`` (built once per change of state, encoded
once, plain and gzipped: a client that accepts gzip gets a tenth of the
bytes).  ``status/change/{id}`` is the items one of whose refs has that id
(``12345,2`` for a change, as the status shows it), as Zuul filters it:
their entries cut out of the kept answer (which knows where each is).

While an admin has paused or discards the tenant's events
(``manage-events``) the status carries Zuul's ``state`` object (what its
dashboard shows as a banner), added to the kept bytes here and sent plain.
"""

from __future__ import annotations

import json

from aiohttp import web
from lockgate.model.event_state import TenantEventState
from lockgate.web.context import context
from lockgate.web.params import Query
from lockgate.web.status_cache import StatusAnswer


def _headers(ttl: float, answer: StatusAnswer) -> dict[str, str]:
    return {
        "Cache-Control": f"public, max-age={max(1, int(ttl))}",
        "Last-Modified": answer.last_modified,
    }


async def status(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    state = await ctx.layout(request.match_info["tenant"])
    answer = await ctx.status.get(state)
    headers = _headers(ctx.cluster.ttl, answer)
    headers["Vary"] = "Accept-Encoding"
    body = answer.body
    events = await ctx.cluster.tenant_event_state(state.tenant)
    if not events.normal:
        body = _with_event_state(body, events)
    elif answer.gzipped and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = answer.gzipped
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, content_type="application/json", headers=headers)


def _with_event_state(body: bytes, events: TenantEventState) -> bytes:
    """``body`` (a JSON object) with ``"state"`` added as its last key, without
    decoding the rest (it is kept encoded; pauses are rare and short)."""
    head = body.rstrip()
    if not head.endswith(b"}"):  # pragma: no cover - the status is always an object
        return body
    tail = json.dumps(events.to_api()).encode()
    joiner = b", " if head[:-1].strip(b"{ \n") else b""
    return head[:-1] + joiner + b'"state": ' + tail + b"}"


async def status_change(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    state = await ctx.layout(request.match_info["tenant"])
    wanted = request.match_info["change"]
    answer = await ctx.status.get(state)
    found = answer.items_of(wanted)
    return web.json_response(found, headers=_headers(ctx.cluster.ttl, answer))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/tenant/{tenant}/status", status)
    app.router.add_get("/api/tenant/{tenant}/status/change/{change}", status_change)
