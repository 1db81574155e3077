"""Service and tenant endpoints: ``/api``, ``/api/info``, ``/api/tenants``,
``/api/tenant/{t}/info``, ``/pipelines``, ``/config-errors`` (``/status``
is ``lockgate.web.api_status``).

Tenants, pipelines and configuration errors come from the ``TenantLayoutState``
each scheduler publishes in ZooKeeper; queue contents from the pipelines'
state (the status answer of ``WebContext.status``).  Shapes follow Zuul's API.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from lockgate.web import auth
from lockgate.web.context import WebContext, context
from lockgate.web.params import Query

# The API's index (``/api``), Zuul's keys and paths.
ENDPOINTS = {
    "info": "/api/info",
    "connections": "/api/connections",
    "components": "/api/components",
    "authorizations": "/api/authorizations",
    "tenants": "/api/tenants",
    "tenant_info": "/api/tenant/{tenant}/info",
    "status": "/api/tenant/{tenant}/status",
    "status_change": "/api/tenant/{tenant}/status/change/{change}",
    "jobs": "/api/tenant/{tenant}/jobs",
    "job": "/api/tenant/{tenant}/job/{job_name}",
    "projects": "/api/tenant/{tenant}/projects",
    "project": "/api/tenant/{tenant}/project/{project:.*}",
    "project_freeze_jobs": "/api/tenant/{tenant}/pipeline/{pipeline}/"
    "project/{project:.*}/branch/{branch:.*}/freeze-jobs",
    "project_freeze_job": "/api/tenant/{tenant}/pipeline/{pipeline}/"
    "project/{project:.*}/branch/{branch:.*}/freeze-job/{job_name}",
    "pipelines": "/api/tenant/{tenant}/pipelines",
    "semaphores": "/api/tenant/{tenant}/semaphores",
    "labels": "/api/tenant/{tenant}/labels",
    "nodes": "/api/tenant/{tenant}/nodes",
    "nodeset_requests": "/api/tenant/{tenant}/nodeset-requests",
    "key": "/api/tenant/{tenant}/key/{project:.*}.pub",
    "project_ssh_key": "/api/tenant/{tenant}/project-ssh-key/{project:.*}.pub",
    "console_stream": "/api/tenant/{tenant}/console-stream",
    "badge": "/api/tenant/{tenant}/badge",
    "builds": "/api/tenant/{tenant}/builds",
    "build": "/api/tenant/{tenant}/build/{uuid}",
    "buildsets": "/api/tenant/{tenant}/buildsets",
    "buildset": "/api/tenant/{tenant}/buildset/{uuid}",
    "build_times": "/api/tenant/{tenant}/build-times",
    "config_errors": "/api/tenant/{tenant}/config-errors",
    "tenant_authorizations": "/api/tenant/{tenant}/authorizations",
    "tenant_status": "/api/tenant/{tenant}/tenant-status",
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
    body["info"]["capabilities"]["auth"] = await auth.root_capabilities(request)
    return web.json_response(body)


async def tenant_info(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    layout = await ctx.layout(request.match_info["tenant"])
    body = _info(ctx, layout.tenant)
    body["info"]["capabilities"]["auth"] = auth.capabilities(request.app, layout)
    # ``manage-events``: whether the tenant's events are paused or discarded.
    body["info"]["state"] = (await ctx.cluster.tenant_event_state(layout.tenant)).to_api()
    return web.json_response(body)


async def tenants(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    out: list[dict[str, Any]] = []
    for name in await ctx.cluster.tenant_names():
        layout = await ctx.cluster.tenant_layout(name)
        if layout is None:  # deleted between the listing and the read
            continue
        if not await auth.may_read(request, layout):
            # Listed (as Zuul lists every tenant), but nothing of it is told.
            out.append({"name": name, "projects": None, "queue": None})
            continue
        # The kept status answer (built once per change of state), not a
        # fresh read of every item per request; it knows how many it shows.
        queued = (await ctx.status.get(layout)).queued
        out.append({"name": name, "projects": len(layout.projects), "queue": queued})
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
