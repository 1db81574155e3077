"""The system's moving parts: ``/api/components``, ``/api/connections``,
``/api/tenant/{t}/nodes`` and ``/api/tenant/{t}/nodeset-requests``.

Components are the processes registered in ZooKeeper
(``lockgate.zk.components``), grouped by kind as Zuul lists them.
Connections are the ``[connection NAME]`` sections of the web's service
config: name, driver and the public addresses (never a secret).  Nodes and
node requests are the launcher's records (``lockgate.zk.requests``); a
node belongs to the tenant of the request it is allocated to, or of the
autohold that keeps it.  Shapes follow what ``zuul-client node-list`` and
``nodeset-request-list`` print.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from lockgate.service_config import ServiceConfig
from lockgate.web.context import context
from lockgate.web.params import Query

# Section keys that say where a connection is; everything else (tokens,
# keys, passwords, webhook secrets) stays out of the answer.
PUBLIC_KEYS = ("server", "baseurl", "canonical_hostname", "port", "ssh_server", "git_url")

CONNECTIONS = web.AppKey("lockgate_connections", list)


def connections_json(config: ServiceConfig) -> list[dict[str, Any]]:
    out = []
    for raw_name, section in sorted(config.connections.items()):
        entry: dict[str, Any] = {
            "name": raw_name.strip().strip("\"'"),
            "driver": (section.get("driver") or "").strip(),
        }
        for key in PUBLIC_KEYS:
            value = section.get(key)
            if value:
                entry[key] = value
        out.append(entry)
    return out


def configure(app: web.Application, config: ServiceConfig) -> None:
    """Give ``/api/connections`` the service config's connections."""
    app[CONNECTIONS] = connections_json(config)


async def connections(request: web.Request) -> web.Response:
    Query(request.query, [])
    return web.json_response(request.app.get(CONNECTIONS, []))


async def components(request: web.Request) -> web.Response:
    Query(request.query, [])
    out: dict[str, list[dict[str, Any]]] = {}
    for c in await context(request).cluster.components():
        out.setdefault(c.kind, []).append(
            {
                "name": c.name,
                "hostname": c.hostname,
                "state": c.state.get("state"),
                "version": c.state.get("version"),
            }
        )
    return web.json_response(out)


def _state_time(node: Any) -> float:
    # A held node has been in its state since it was held, not since it was made.
    held_at = getattr(node, "held_at", None) if node.state.value == "hold" else None
    return float(getattr(node, "state_time", None) or held_at or node.created or time.time())


def node_json(node: Any, request: Any | None) -> dict[str, Any]:
    hold = getattr(node, "hold", None) or {}
    if not isinstance(hold, dict):
        hold = {}
    # An autohold's reason is Zuul's ``comment`` (``lockgate.model.holds``).
    reason = hold.get("reason") or getattr(node, "comment", None)
    return {
        "id": node.id,
        "uuid": node.id,
        "type": [node.label],
        "label": node.label,
        "connection_type": node.connection_type,
        "external_id": None,
        "provider": node.provider,
        "state": node.state.value,
        "state_time": _state_time(node),
        "comment": reason,
        "hold_job": hold.get("job") or getattr(node, "hold_job", None),
        "hold_expiration": hold.get("expiration") or getattr(node, "hold_expiration", None),
        "hold_until": node.hold_expires_at() if hasattr(node, "hold_expires_at") else None,
        "allocated_to": node.allocated_to,
        "job_name": request.job_name if request is not None else None,
    }


def _node_tenant(node: Any, requests: dict[str, Any]) -> str | None:
    hold = getattr(node, "hold", None)
    if isinstance(hold, dict) and hold.get("tenant"):
        return str(hold["tenant"])
    if getattr(node, "hold_tenant", None):  # held: its request is gone
        return str(node.hold_tenant)
    request = requests.get(node.allocated_to or "")
    return request.tenant if request is not None else None


async def nodes(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    tenant = (await ctx.layout(request.match_info["tenant"])).tenant
    requests = {r.id: r for r in await ctx.cluster.node_requests()}
    out = [
        node_json(n, requests.get(n.allocated_to or ""))
        for n in await ctx.cluster.nodes()
        if _node_tenant(n, requests) == tenant
    ]
    return web.json_response(out)


async def nodeset_requests(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    tenant = (await ctx.layout(request.match_info["tenant"])).tenant
    out = [
        {
            "uuid": r.id,
            "id": r.id,
            "labels": list(r.labels),
            "state": r.state.value,
            "request_time": r.created,
            "buildset_uuid": r.buildset_uuid,
            "pipeline_name": r.pipeline,
            "job_name": r.job_name,
            "event_id": r.event_id,
            "provider": r.provider,
            "nodes": list(r.node_ids),
            "failure_reason": r.failure_reason,
        }
        for r in await ctx.cluster.node_requests()
        if r.tenant == tenant
    ]
    return web.json_response(out)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/components", components)
    r.add_get("/api/connections", connections)
    r.add_get("/api/tenant/{tenant}/nodes", nodes)
    r.add_get("/api/tenant/{tenant}/nodeset-requests", nodeset_requests)
