"""The aiohttp application: routes, JSON errors, CORS for the API.

``make_app(context)`` is what ``WebServer`` serves and what tests drive.  Each
area registers its own routes (``api_tenants``, ``api_builds``, ``logs``,
``health``, ``pages``, ``webhooks``).  Errors never show a traceback: an ``ApiError`` becomes
its status and Zuul's ``{"error", "description"}`` (HTML for the dashboard's
pages); API paths get CORS headers and preflight answers (``cors``); an
unexpected exception is logged with its traceback and answered with a 500
that says only that.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from lockgate.web import (
    access,
    api_admin,
    api_builds,
    api_config,
    api_keys,
    api_nodes,
    api_status,
    api_tenants,
    console_stream,
    cors,
    health,
    logs,
    pages,
    webhooks,
)
from lockgate.web import metrics as request_metrics
from lockgate.web.context import CONTEXT, WebContext
from lockgate.web.errors import ApiError

log = logging.getLogger("lockgate.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _wants_html(request: web.Request) -> bool:
    return request.path == "/" or request.path.startswith("/t/")


def _error(request: web.Request, error: ApiError) -> web.Response:
    if _wants_html(request):
        return web.Response(
            status=error.status,
            content_type="text/html",
            text=f"<!DOCTYPE html><html><body><h1>{error.status}</h1>"
            f"<p>{html.escape(error.message)}</p><p><a href='/'>Lockgate</a></p></body></html>",
        )
    return web.json_response(error.body(), status=error.status, headers=error.headers)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS" and cors.is_api(request):
        methods = cors.preflight_methods(request)
        if methods is not None:
            return cors.preflight(methods)
    try:
        response = await handler(request)
    except ApiError as e:
        response = _error(request, e)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        response = _error(request, ApiError(e.status, _http_message(request, e)))
    except Exception:
        log.exception("error serving %s %s", request.method, request.path_qs)
        response = _error(request, ApiError(500, "internal error (see the web service's log)"))
    if cors.is_api(request):
        cors.allow_origin(response)
    return response


def _http_message(request: web.Request, e: web.HTTPException) -> str:
    if e.status == 404:
        return f"no such path: {request.path}"
    if e.status == 405:
        allowed = ", ".join(sorted(getattr(e, "allowed_methods", ()) or ()))
        return f"{request.method} is not allowed on {request.path} (allowed: {allowed})"
    return e.text if e.text and not e.text.startswith(str(e.status)) else e.reason


def make_app(context: WebContext) -> web.Application:
    # Request metrics first: they see the status that ``errors`` answers with;
    # the read gate inside ``errors``: its refusals are answered in Zuul's shape.
    app = web.Application(middlewares=[request_metrics.record, errors, access.read_gate])
    app[CONTEXT] = context
    # The status first: every open dashboard polls it, and aiohttp tries the
    # /api/tenant/{tenant}/... routes one by one in this order (its two
    # paths end in fixed words: they take nothing from the routes after).
    api_status.add_routes(app)
    api_admin.add_routes(app)  # first of the rest: its /project/{project}/<action> paths
    api_keys.add_routes(app)
    api_tenants.add_routes(app)
    api_builds.add_routes(app)
    api_nodes.add_routes(app)
    api_config.add_routes(app)  # after the admin routes: its project/{project} is greedy
    console_stream.add_routes(app)
    logs.add_routes(app)
    health.add_routes(app)
    pages.add_routes(app)
    webhooks.add_routes(app)
    return app
