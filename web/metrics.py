"""The web's request metrics: a count and a latency per answered request.

Who calls it: ``lockgate.web.app.make_app`` puts ``record`` first among the
middlewares, so it sees the status the client gets (errors already turned
into answers); ``WebServer`` stores its ``Metrics`` on the application
under ``METRICS``.  Without one (tests that make a bare app) nothing is
recorded.

Labels stay few: the route is the path pattern that matched
(``/api/tenant/{tenant}/status``, not the path asked for; ``unmatched`` for
a 404 with no route) and methods outside HTTP's usual ones are ``OTHER``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from lockgate.metrics import Metrics
from lockgate.metrics.catalog import WEB_REQUEST_DURATION, WEB_REQUESTS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
METRICS = web.AppKey("lockgate_metrics", Metrics)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_of(request: web.Request) -> str:
    """The path pattern of the route that matched ``request``."""
    route = getattr(request.match_info, "route", None)
    resource = getattr(route, "resource", None)
    return str(resource.canonical) if resource is not None else "unmatched"


@web.middleware
async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app.get(METRICS)
    if metrics is None:
        return await handler(request)
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as e:
        status = e.status
        raise
    finally:
        method = request.method if request.method in METHODS else "OTHER"
        route = route_of(request)
        metrics.inc(WEB_REQUESTS, method=method, route=route, status=status)
        metrics.observe(
            WEB_REQUEST_DURATION, time.monotonic() - started, method=method, route=route
        )
