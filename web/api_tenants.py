"""Service and tenant endpoints: ``/api``, ``/api/info``, ``/api/tenants``,
``/api/tenant/{t}/info``, ``/pipelines``, ``/config-errors`` (``/status``
is ``lockgate.web.api_status``).

Tenants, pipelines and configuration errors come from the ``TenantLayoutState``
each scheduler publishes in ZooKeeper; queue contents from the pipelines'
state (``ClusterView.pipeline_status``).  Shapes follow Zuul's API.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from lockgate.web import auth
from lockgate.web.context import WebContext, context
from lockgate.web.params import Query

ENDPOINTS = {
    "info": "/api/info",
    "tenants": "/api/tenants",
    "tenant_info": "/api/tenant/{tenant}/info",
    "status": "/api/tenant/{tenant}/status",
    "pipelines": "/api/tenant/{tenant}/pipelines",
    "builds": "/api/tenant/{tenant}/builds",
    "build": "/api/tenant/{tenant}/build/{uuid}",
    "buildsets": "/api/tenant/{tenant}/buildsets",
    "buildset": "/api/tenant/{tenant}/buildset/{uuid}",
    "config_errors": "/api/tenant/{tenant}/config-errors",
}


def _info(ctx: WebContext, tenant: str | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "capabilities": {
            "job_history": True,
            "auth": {"realms": {}, "default_realm": None, "read_protected": False},
        },
        "stats": {"url": None, "prefix": None, "type": None},
        "websocket_url": None,
    }
    if tenant is not None:
        info["tenant"] = tenant
    return {"info": info}


async def index(request: web.Request) -> web.Response:
    Query(request.query, [])
    return web.json_response(ENDPOINTS)


async def info(request: web.Request) -> web.Response:
    Query(request.query, [])
    body = _info(context(request))
    body["info"]["capabilities"]["auth"] = auth.capabilities(request.app)
    return web.json_response(body)


async def tenant_info(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    layout = await ctx.layout(request.match_info["tenant"])
    body = _info(ctx, layout.tenant)
    body["info"]["capabilities"]["auth"] = auth.capabilities(request.app, layout)
    return web.json_response(body)


def _queued_items(pipelines: list[dict[str, Any]]) -> int:
    return sum(
        len(head)
        for p in pipelines
        for q in p.get("change_queues", [])
        for head in q.get("heads", [])
    )


async def tenants(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    out = []
    for name in await ctx.cluster.tenant_names():
        layout = await ctx.cluster.tenant_layout(name)
        if layout is None:  # deleted between the listing and the read
            continue
        pipelines = await ctx.cluster.pipeline_status(layout)
        out.append(
            {"name": name, "projects": len(layout.projects), "queue": _queued_items(pipelines)}
        )
    return web.json_response(out)


async def pipelines(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    layout = await ctx.layout(request.match_info["tenant"])
    out = []
    for name in layout.pipelines or list(layout.pipeline_info):
        info = layout.pipeline_info.get(name, {})
        out.append({"name": name, "triggers": info.get("triggers", [])})
    return web.json_response(out)


async def config_errors(request: web.Request) -> web.Response:
    """Zuul's filters: project, branch, severity, name; paging with limit and skip."""
    ctx = context(request)
    query = Query(request.query, ["project", "branch", "severity", "name", "limit", "skip"])
    project, branch = query.string("project"), query.string("branch")
    severity, name = query.string("severity"), query.string("name")
    limit = query.integer("limit", 50) or 0
    skip = query.integer("skip", 0) or 0
    layout = await ctx.layout(request.match_info["tenant"])
    matching = []
    for error in layout.config_errors:
        source = error.get("source_context") or {}
        if project is not None and source.get("project") != project:
            continue
        if branch is not None and source.get("branch") != branch:
            continue
        if severity is not None and error.get("severity") != severity:
            continue
        if name is not None and error.get("name") != name:
            continue
        matching.append(error)
    return web.json_response(matching[skip : skip + limit])


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api", index)
    app.router.add_get("/api/info", info)
    app.router.add_get("/api/tenants", tenants)
    app.router.add_get("/api/tenant/{tenant}/info", tenant_info)
    app.router.add_get("/api/tenant/{tenant}/pipelines", pipelines)
    app.router.add_get("/api/tenant/{tenant}/config-errors", config_errors)
