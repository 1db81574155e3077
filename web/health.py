"""Health endpoints for load balancers and orchestrators.

``/health/live``: the process is up and its loop answers (always 200).
``/health/ready``: 200 when both ZooKeeper and the database answer within
``health_timeout`` seconds, else 503 with the reason: the API cannot serve
tenants without ZooKeeper, nor history without the database.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from lockgate.web.context import context


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "live"})


async def ready(request: web.Request) -> web.Response:
    ctx = context(request)
    checks: dict[str, str] = {}
    reasons: list[str] = []
    try:
        connected = await asyncio.wait_for(ctx.cluster.connected(), ctx.health_timeout)
    except TimeoutError:
        connected = False
    except Exception as e:  # noqa: BLE001 - any failure means "not ready", with its reason
        connected = False
        reasons.append(f"zookeeper: {e}")
    checks["zookeeper"] = "ok" if connected else "unreachable"
    if not connected and not reasons:
        reasons.append("zookeeper: not connected")
    try:
        await asyncio.wait_for(ctx.db_call(ctx.db.ping), ctx.health_timeout)
        checks["database"] = "ok"
    except TimeoutError:
        checks["database"] = "unreachable"
        reasons.append(f"database: no answer within {ctx.health_timeout}s")
    except web.HTTPException:
        raise
    except Exception as e:  # noqa: BLE001
        checks["database"] = "unreachable"
        reasons.append(getattr(e, "message", None) or str(e))
    if reasons:
        return web.json_response(
            {"status": "not ready", "reason": "; ".join(reasons), "checks": checks}, status=503
        )
    return web.json_response({"status": "ready", "checks": checks})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)
