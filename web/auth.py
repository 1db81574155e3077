"""Bearer tokens on the web: who is asking, may they read this tenant, may they act on it.

Who calls it: the read gate (``lockgate.web.access``, a middleware in front
of every route) through ``require_read``/``require_root_read``; the admin
endpoints (``lockgate.web.api_admin``) through ``require_admin``/``identify``;
the tenants list through ``may_read``; the info endpoints through
``capabilities``/``root_capabilities`` (the realms ``/api/info`` advertises,
and ``read_protected``, which tells a dashboard to ask for a login first).
``configure(app, config)`` (from ``lockgate.web.server``) reads the ``[auth
NAME]`` sections once; without any, no token is accepted: admin actions and
reads of a read-protected tenant are refused with a 401 saying so.

The answers, each with Zuul's body (``error``, ``description``, ``realm``)
and a ``WWW-Authenticate`` challenge on 401:

- no ``Authorization: Bearer`` header: 401 ``MissingAuthError`` naming what
  needs the token (the action, the read-protected tenant, the api-root);
- a token that does not verify (bad signature, expired, wrong issuer or
  audience, missing claim): 401 naming the check;
- a valid token whose claims match none of the tenant's ``admin-rules`` (to
  act) or ``access-rules`` (to read; an admin may always read): 403 naming
  the user, the tenant and the rules.

A request's token is verified once (the identity is kept on the request):
the read gate and then an admin endpoint do not check it twice.  Checking
a token may fetch an identity provider's keys (blocking HTTP): it runs on
the loop's default executor, never on the loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from lockgate.auth import (
    AuthError,
    Authorization,
    AuthRegistry,
    Forbidden,
    Identity,
    MissingToken,
    TenantAuth,
    authorize,
    authorize_root,
)
from lockgate.auth.errors import BadAuthorizationHeader
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.service_config import ServiceConfig
from lockgate.web.context import WebContext, context
from lockgate.web.errors import ApiError

log = logging.getLogger("lockgate.web.auth")

AUTH = web.AppKey("lockgate_auth", AuthRegistry)
# The verified identity of the request's Authorization header, once checked.
_IDENTITY = web.RequestKey("lockgate_identity", Identity)
HEADER_HINT = "send an 'Authorization: Bearer <token>' header"


def configure(app: web.Application, config: ServiceConfig) -> None:
    """Read the ``[auth NAME]`` sections (``ServiceConfigError`` if one is wrong)."""
    app[AUTH] = AuthRegistry.from_config(config)


def registry(app: web.Application) -> AuthRegistry:
    return app.get(AUTH) or AuthRegistry()


_TENANT_AUTH: dict[tuple[str, str], TenantAuth] = {}


def tenant_auth(layout: TenantLayoutState) -> TenantAuth:
    """The layout's ``TenantAuth``, decoded once per published layout: every
    request of a tenant passes the read gate, so decoding it per request
    showed on the status path."""
    key = (layout.tenant, layout.uuid)
    found = _TENANT_AUTH.get(key)
    if found is None:
        if len(_TENANT_AUTH) > 1000:  # old layouts: start again
            _TENANT_AUTH.clear()
        found = _TENANT_AUTH[key] = TenantAuth.from_dict(layout.auth)
    return found


def capabilities(app: web.Application, layout: TenantLayoutState | None = None) -> dict[str, Any]:
    """The ``auth`` capability of a tenant's info: its default realm is its
    ``authentication-realm`` when it has one; ``read_protected`` when it has
    access-rules.  Without ``layout``: the realms only (see ``root_capabilities``)."""
    tenant = tenant_auth(layout) if layout is not None else TenantAuth()
    return registry(app).capabilities(tenant.realm, tenant.read_protected)


async def api_root(ctx: WebContext) -> TenantAuth | None:
    """The tenant config's api-root as the schedulers last published it
    (it travels in every tenant's ``TenantAuth``; the newest layout's is
    the current one).  None while no tenant is published: then there is
    nothing of any tenant to read, and the global endpoints are open."""
    newest: TenantLayoutState | None = None
    for name in await ctx.cluster.tenant_names():
        layout = await ctx.cluster.tenant_layout(name)
        if layout is not None and (newest is None or layout.loaded_at > newest.loaded_at):
            newest = layout
    return tenant_auth(newest) if newest is not None else None


async def root_capabilities(request: web.Request) -> dict[str, Any]:
    """The ``auth`` capability of ``/api/info``: every realm, the api-root's
    default realm, and whether the global endpoints need a login."""
    root = await api_root(context(request)) or TenantAuth()
    return registry(request.app).capabilities(root.api_root_realm, root.root_read_protected)


def api_error(error: AuthError) -> ApiError:
    challenge = error.www_authenticate()
    return ApiError(
        error.status,
        error.description,
        error=error.error,
        headers={"WWW-Authenticate": challenge} if challenge else None,
        extra={"realm": error.realm},
    )


def bearer_token(
    request: web.Request, realm: str | None, needed: str = "this action needs a bearer token"
) -> str:
    header = request.headers.get("Authorization")
    if header is None:
        raise MissingToken(f"{needed}: {HEADER_HINT}", realm)
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BadAuthorizationHeader("the Authorization header must be 'Bearer <token>'", realm)
    return token.strip()


async def identify(
    request: web.Request,
    *,
    needed: str = "this action needs a bearer token",
    realm: str | None = None,
    token: str | None = None,
) -> Identity:
    """The verified identity of the request's bearer token, or of ``token``
    (a websocket's first message); an ``ApiError`` otherwise, whose
    description starts with ``needed`` when there is no token."""
    cached = request.get(_IDENTITY) if token is None else None
    if isinstance(cached, Identity):
        return cached
    auth = registry(request.app)
    realm = realm or auth.default_realm
    from_header = token is None
    try:
        if not auth.configured:
            raise MissingToken(
                f"{needed}, but authentication is not configured on this service "
                "(no [auth NAME] section), so no token is accepted",
                realm,
            )
        if token is None:
            token = bearer_token(request, realm, needed)
        loop = asyncio.get_running_loop()
        identity = await loop.run_in_executor(None, auth.authenticate, token)
    except AuthError as e:
        log.info("%s %s refused (%d %s): %s", request.method, request.path, e.status, e.error, e)
        raise api_error(e) from None
    if from_header:
        request[_IDENTITY] = identity
    return identity


async def authorization(
    request: web.Request, layout: TenantLayoutState
) -> tuple[Identity, Authorization]:
    identity = await identify(request)
    decision = authorize(tenant_auth(layout), layout.tenant, identity.claims, identity.uid)
    return identity, decision


async def require_admin(request: web.Request, layout: TenantLayoutState) -> Identity:
    """The identity, if it may act on ``layout``'s tenant; 401 or 403 otherwise."""
    identity, decision = await authorization(request, layout)
    if not decision.admin:
        log.info(
            "%s %s: %s (realm %s) is not an admin of tenant %s",
            request.method,
            request.path,
            identity.uid,
            identity.realm,
            layout.tenant,
        )
        raise api_error(
            Forbidden(
                f"user {identity.uid!r} is not an admin of tenant {layout.tenant!r}: no "
                "admin-rule of the tenant matches the token's claims",
                identity.realm,
            )
        )
    log.info(
        "%s %s: %s is an admin of tenant %s (by %s)",
        request.method,
        request.path,
        identity.uid,
        layout.tenant,
        decision.granted_by,
    )
    return identity


def _rules(names: list[str]) -> str:
    return ", ".join(names)


async def require_read(
    request: web.Request,
    layout: TenantLayoutState,
    *,
    token: str | None = None,
    hint: str = HEADER_HINT,
    what: str = "",
) -> Identity | None:
    """Nothing if ``layout``'s tenant has no access-rules; otherwise the
    identity of a token that satisfies one of them (or is the tenant's
    admin's): 401 without a token or with a bad one, 403 with a token that
    satisfies none.  ``token``: one given outside the header (a websocket's
    first message), ``hint`` saying how to give it; ``what``: a prefix naming what
    is read, when the path does not say ("the logs of build X: ")."""
    tenant = tenant_auth(layout)
    if not tenant.read_protected:
        return None
    realm = tenant.realm or registry(request.app).default_realm
    needed = (
        f"{what}tenant {layout.tenant!r} is read-protected (access-rules: "
        f"{_rules(tenant.access_rules)}); a token is needed to read it"
    )
    if (
        token is None
        and "Authorization" not in request.headers
        and request.get(_IDENTITY) is None
        and registry(request.app).configured
    ):
        error = MissingToken(f"{needed}: {hint}", realm)
        log.info("%s %s refused (401): %s", request.method, request.path, error)
        raise api_error(error)
    identity = await identify(request, needed=needed, realm=realm, token=token)
    decision = authorize(tenant, layout.tenant, identity.claims, identity.uid)
    if not decision.access:
        log.info(
            "%s %s: %s (realm %s) may not read tenant %s",
            request.method,
            request.path,
            identity.uid,
            identity.realm,
            layout.tenant,
        )
        raise api_error(
            Forbidden(
                f"user {identity.uid!r} may not read tenant {layout.tenant!r}: none of its "
                f"access-rules ({_rules(tenant.access_rules)}) or admin-rules matches the "
                "token's claims",
                identity.realm,
            )
        )
    log.debug(
        "%s %s: %s reads tenant %s (by %s)",
        request.method,
        request.path,
        identity.uid,
        layout.tenant,
        decision.access_by,
    )
    return identity


async def require_root_read(
    request: web.Request, root: TenantAuth | None, *, hint: str = HEADER_HINT
) -> Identity | None:
    """As ``require_read``, for the global endpoints and the api-root's access-rules."""
    if root is None or not root.root_read_protected:
        return None
    realm = root.api_root_realm or registry(request.app).default_realm
    needed = (
        "this service's global endpoints are read-protected (api-root access-rules: "
        f"{_rules(root.api_root_access_rules)}); a token is needed to read them"
    )
    if (
        "Authorization" not in request.headers
        and request.get(_IDENTITY) is None
        and registry(request.app).configured
    ):
        error = MissingToken(f"{needed}: {hint}", realm)
        log.info("%s %s refused (401): %s", request.method, request.path, error)
        raise api_error(error)
    identity = await identify(request, needed=needed, realm=realm)
    decision = authorize_root(root, identity.claims, identity.uid)
    if not decision.access:
        log.info(
            "%s %s: %s (realm %s) may not read the global endpoints",
            request.method,
            request.path,
            identity.uid,
            identity.realm,
        )
        raise api_error(
            Forbidden(
                f"user {identity.uid!r} may not read this service's global endpoints: none "
                f"of the api-root's access-rules ({_rules(root.api_root_access_rules)}) "
                "matches the token's claims",
                identity.realm,
            )
        )
    return identity


async def may_read(request: web.Request, layout: TenantLayoutState) -> bool:
    """Whether the request's token (if any) may read ``layout``'s tenant;
    never an error (a listing shows what the caller may see)."""
    try:
        await require_read(request, layout)
    except ApiError:
        return False
    return True
