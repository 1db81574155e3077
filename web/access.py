"""The read gate: who may read what, decided for every route before its handler runs.

Who calls it: aiohttp, as a middleware of the app (``lockgate.web.app``),
inside the error middleware (so a refusal is an ``ApiError`` answered in
Zuul's shape); the console-stream websocket through ``stream_denial``.
What it calls: ``lockgate.web.auth`` for the decisions (tokens, access-rules).

Each route's scope follows from its path, so a route added later is guarded
without being listed anywhere:

- a path with ``{tenant}``: the tenant's ``access-rules`` (``Scope.TENANT``);
- ``/logs/{uuid}...``: the access-rules of the tenant the build belongs to,
  from the database (``Scope.BUILD``);
- any other path: the api-root's ``access-rules`` (``Scope.ROOT``);
- only the paths in ``PUBLIC_ROUTES`` are never checked (``Scope.PUBLIC``):
  the info endpoints (they say how to log in, as in Zuul), health probes,
  the dashboard's scripts, and webhooks (which carry their own signature).

A refusal is a 401 (no token, or one that does not verify) or a 403 (a valid
token that satisfies no rule), each naming what failed.  The dashboard's
pages (``/``, ``/tenants``, ``/t/...``) answer a refusal with the dashboard
itself, without data and with the refusal's status: the page's script then
asks for a token (browsers send no header when following a link).

Two routes take the token from elsewhere than the ``Authorization`` header,
because browsers cannot set it there:

- the console-stream websocket (``FIRST_MESSAGE_TOKEN``): an upgrade without
  the header is let through, and the handler checks the ``token`` key of the
  client's first message (``stream_denial``), as Zuul does;
- build logs: the ``lockgate_token`` cookie, which the dashboard sets for
  ``/logs/`` when a token is stored, so that log links open in a new tab.
"""

from __future__ import annotations

import enum
import html
import logging
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web
from lockgate.db import Database
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web import auth, pages
from lockgate.web.context import WebContext, context
from lockgate.web.errors import ApiError, not_found

log = logging.getLogger("lockgate.web.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Scope(enum.Enum):
    PUBLIC = "public"
    ROOT = "root"
    TENANT = "tenant"
    BUILD = "build"


# Routes (canonical paths) anyone may read.  Keep it short: every entry is
# a route a read-protected deployment answers without a token.
PUBLIC_ROUTES = frozenset(
    {
        "/api/info",
        "/api/tenant/{tenant}/info",
        "/health/live",
        "/health/ready",
        "/static/{path}",
        "/api/connection/{connection}/payload",
    }
)
# Websocket routes whose token may come in the client's first message.
FIRST_MESSAGE_TOKEN = frozenset({"/api/tenant/{tenant}/console-stream"})
LOG_ROUTE_PREFIX = "/logs/"
TOKEN_COOKIE = "lockgate_token"
STREAM_HINT = "send the token in the first message's 'token' key"
COOKIE_HINT = (
    f"{auth.HEADER_HINT} (the dashboard keeps a stored token in the "
    f"'{TOKEN_COOKIE}' cookie for log links)"
)
# How many build uuid -> tenant answers to keep (a build never moves).
BUILD_TENANTS_KEPT = 4096

# A websocket whose tenant still waits for the first message's token.
_PENDING = web.RequestKey("lockgate_pending_read", TenantLayoutState)
# Per database: build uuid -> tenant, most recently used last.
_build_tenants: weakref.WeakKeyDictionary[Database, OrderedDict[str, str]] = (
    weakref.WeakKeyDictionary()
)


def scope_of(canonical: str) -> Scope:
    """The scope of a route, from its canonical path (``/api/tenant/{tenant}/builds``)."""
    if canonical in PUBLIC_ROUTES:
        return Scope.PUBLIC
    if "{tenant}" in canonical:
        return Scope.TENANT
    if canonical.startswith(LOG_ROUTE_PREFIX):
        return Scope.BUILD
    return Scope.ROOT


def is_page(canonical: str) -> bool:
    """Whether a route is one of the dashboard's pages (answered in HTML)."""
    return canonical in ("/", "/tenants") or canonical.startswith("/t/")


@web.middleware
async def read_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    if resource is None or request.method == "OPTIONS":
        # No route (404/405 follow) or a CORS preflight: nothing is read.
        return await handler(request)
    canonical = resource.canonical
    scope = scope_of(canonical)
    try:
        if scope is Scope.TENANT:
            await _check_tenant(request, canonical)
        elif scope is Scope.BUILD:
            await _check_build(request)
        elif scope is Scope.ROOT:
            await auth.require_root_read(request, await auth.api_root(context(request)))
    except ApiError as e:
        if e.status in (401, 403) and is_page(canonical):
            return _login_page(e)
        raise
    return await handler(request)


async def _check_tenant(request: web.Request, canonical: str) -> None:
    websocket = (
        canonical in FIRST_MESSAGE_TOKEN
        and request.headers.get("Upgrade", "").lower() == "websocket"
        and "Authorization" not in request.headers
    )
    try:
        layout = await context(request).layout(request.match_info["tenant"])
    except ApiError as e:
        if websocket and e.status == 404:
            return  # nothing to guard: the websocket closes saying so
        raise
    if websocket and auth.tenant_auth(layout).read_protected:
        request[_PENDING] = layout
        return
    await auth.require_read(request, layout)


async def stream_denial(request: web.Request, token: object) -> str | None:
    """For a websocket let through without a header: None if ``token`` (the
    first message's) may read the tenant, else the close reason (``error:
    description``, as Zuul closes with the error's name)."""
    layout = request.get(_PENDING)
    if layout is None:
        return None
    try:
        await auth.require_read(
            request, layout, token=token if isinstance(token, str) else None, hint=STREAM_HINT
        )
    except ApiError as e:
        if e.status == 401 and (token is None or token == ""):
            # The close reason has room for 123 bytes: the gist only.
            return f"{e.error}: tenant {layout.tenant!r} is read-protected; {STREAM_HINT}"
        return f"{e.error}: {e.message}"
    return None


async def _check_build(request: web.Request) -> None:
    ctx = context(request)
    uuid = request.match_info["uuid"]
    tenant = await build_tenant(ctx, uuid)
    layout = await ctx.cluster.tenant_layout(tenant) if tenant is not None else None
    if layout is None:
        # A build the database does not know (or of a tenant that is gone):
        # its logs are served only where no tenant needs a login to read.
        protected = await _protected_tenants(ctx)
        if protected:
            log.info("logs of build %s refused: unknown build, read-protected tenants", uuid)
            raise not_found(
                f"No such build: {uuid} (logs of builds unknown to the database are not "
                "served while a tenant is read-protected)"
            )
        return
    cookie = request.cookies.get(TOKEN_COOKIE)
    token = cookie if cookie and "Authorization" not in request.headers else None
    await auth.require_read(
        request, layout, token=token, hint=COOKIE_HINT, what=f"the logs of build {uuid}: "
    )


async def build_tenant(ctx: WebContext, uuid: str) -> str | None:
    """The tenant of build ``uuid`` (None if the database does not know it)."""
    kept = _build_tenants.setdefault(ctx.db, OrderedDict())
    if uuid in kept:
        kept.move_to_end(uuid)
        return kept[uuid]
    build = await ctx.db_call(ctx.db.get_build, uuid)
    if build is None:
        return None
    kept[uuid] = build.buildset.tenant
    while len(kept) > BUILD_TENANTS_KEPT:
        kept.popitem(last=False)
    return build.buildset.tenant


async def _protected_tenants(ctx: WebContext) -> list[str]:
    found = []
    for name in await ctx.cluster.tenant_names():
        layout = await ctx.cluster.tenant_layout(name)
        if layout is not None and auth.tenant_auth(layout).read_protected:
            found.append(name)
    return found


def _login_page(error: ApiError) -> web.Response:
    """The dashboard without data: its script shows why and asks for a token."""
    response = pages._shell(
        "Login required", f"<h1>Login required</h1><p>{html.escape(error.message)}</p>"
    )
    response.set_status(error.status)
    response.headers.update(error.headers)
    return response
