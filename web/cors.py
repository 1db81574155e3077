"""Cross-origin access to the API, as Zuul allows it.

Every answer under ``/api`` carries ``Access-Control-Allow-Origin: *`` (a
dashboard served from elsewhere may read it), and a preflight ``OPTIONS``
request for any API path answers 204 with the methods that path takes, the
request headers a client may send (``Authorization``, ``Content-Type``) and
a day's ``Access-Control-Max-Age`` — the headers Zuul's ``handle_options``
sends.  Who calls it: the middleware in ``lockgate.web.app``.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_urldispatcher import MatchInfoError

ALLOW_HEADERS = "Authorization, Content-Type"
MAX_AGE = 86400


def is_api(request: web.BaseRequest) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def allow_origin(response: web.StreamResponse) -> None:
    response.headers["Access-Control-Allow-Origin"] = "*"


def preflight_methods(request: web.Request) -> list[str] | None:
    """For an ``OPTIONS`` request no route answers itself: the methods the
    path takes (then the middleware answers the preflight), or None (the
    path is unknown, or a route of its own takes ``OPTIONS``)."""
    match = request.match_info
    if not isinstance(match, MatchInfoError):
        return None
    exc = match.http_exception
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return sorted(set(exc.allowed_methods) | {"OPTIONS"})
    return None


def preflight(methods: list[str]) -> web.Response:
    response = web.Response(status=204)
    allow_origin(response)
    response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    response.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
    response.headers["Access-Control-Max-Age"] = str(MAX_AGE)
    return response
