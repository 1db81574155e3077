"""The aiohttp application: routes, JSON errors, CORS for the API.

``make_app(context)`` is what ``WebServer`` serves and what tests drive.  Each
area registers its own routes (``api_tenants``, ``api_builds``, ``logs``,
``health``, ``pages``, ``webhooks``).  Errors never show a traceback: an ``ApiError`` becomes
its status and ``{"error": message}`` (HTML for the dashboard's pages); an
unexpected exception is logged with its traceback and answered with a 500
that says only that.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from lockgate.web import api_builds, api_tenants, health, logs, pages, webhooks
from lockgate.web.context import CONTEXT, WebContext
from lockgate.web.errors import ApiError

log = logging.getLogger("lockgate.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _wants_html(request: web.Request) -> bool:
    return request.path == "/" or request.path.startswith("/t/")


def _error(request: web.Request, status: int, message: str) -> web.Response:
    if _wants_html(request):
        return web.Response(
            status=status,
            content_type="text/html",
            text=f"<!DOCTYPE html><html><body><h1>{status}</h1>"
            f"<p>{html.escape(message)}</p><p><a href='/'>Lockgate</a></p></body></html>",
        )
    return web.json_response({"error": message}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except ApiError as e:
        response = _error(request, e.status, e.message)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        response = _error(request, e.status, e.reason)
    except Exception:
        log.exception("error serving %s %s", request.method, request.path_qs)
        response = _error(request, 500, "internal error (see the web service's log)")
    if request.path.startswith("/api"):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def make_app(context: WebContext) -> web.Application:
    app = web.Application(middlewares=[errors])
    app[CONTEXT] = context
    api_tenants.add_routes(app)
    api_builds.add_routes(app)
    logs.add_routes(app)
    health.add_routes(app)
    pages.add_routes(app)
    webhooks.add_routes(app)
    return app
