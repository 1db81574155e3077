"""``/api/tenant/{t}/status`` and ``/api/tenant/{t}/status/change/{id}``.

The status is Zuul's shape (``lockgate.model.queue.status_json``) with
estimated and remaining times from earlier builds, served from
``lockgate.web.status_cache`` (built once per change of state, encoded
once, plain and gzipped: a client that accepts gzip gets a tenth of the
bytes).  ``status/change/{id}`` is the items one of whose refs has that id
(``12345,2`` for a change, as the status shows it), as Zuul filters it.
"""

from __future__ import annotations

import copy
import email.utils

from aiohttp import web
from lockgate.web.context import context
from lockgate.web.params import Query


def _headers(ttl: float, built_at: float) -> dict[str, str]:
    return {
        "Cache-Control": f"public, max-age={max(1, int(ttl))}",
        "Last-Modified": email.utils.formatdate(built_at, usegmt=True),
    }


async def status(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    state = await ctx.layout(request.match_info["tenant"])
    answer = await ctx.status.get(state)
    headers = _headers(ctx.cluster.ttl, answer.built_at)
    headers["Vary"] = "Accept-Encoding"
    body = answer.body
    if answer.gzipped and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = answer.gzipped
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, content_type="application/json", headers=headers)


async def status_change(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    state = await ctx.layout(request.match_info["tenant"])
    wanted = request.match_info["change"]
    answer = await ctx.status.get(state)
    found = [
        copy.deepcopy(item)
        for pipeline in answer.data.get("pipelines", ())
        for queue in pipeline.get("change_queues", ())
        for head in queue.get("heads", ())
        for item in head
        if any(ref.get("id") == wanted for ref in item.get("refs", ()))
    ]
    return web.json_response(found, headers=_headers(ctx.cluster.ttl, answer.built_at))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/tenant/{tenant}/status", status)
    app.router.add_get("/api/tenant/{tenant}/status/change/{change}", status_change)
