"""Bearer tokens on the web: who is asking, and may they act on this tenant.

Who calls it: the admin endpoints (``lockgate.web.api_admin``) through
``require_admin``/``identify``, and the info endpoints through
``capabilities`` (the realms ``/api/info`` advertises).  ``configure(app,
config)`` (from ``lockgate.web.server``) reads the ``[auth NAME]`` sections
once; without any, every admin action is refused with a 401 saying so.

The answers, each with Zuul's body (``error``, ``description``, ``realm``)
and a ``WWW-Authenticate`` challenge on 401:

- no ``Authorization: Bearer`` header: 401 ``MissingAuthError``;
- a token that does not verify (bad signature, expired, wrong issuer or
  audience, missing claim): 401 naming the check;
- a valid token whose claims match none of the tenant's ``admin-rules``:
  403 naming the user and the tenant.

Checking a token may fetch an identity provider's keys (blocking HTTP):
it runs on the loop's default executor, never on the loop.
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
)
from lockgate.auth.errors import BadAuthorizationHeader
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.service_config import ServiceConfig
from lockgate.web.errors import ApiError

log = logging.getLogger("lockgate.web.auth")

AUTH = web.AppKey("lockgate_auth", AuthRegistry)


def configure(app: web.Application, config: ServiceConfig) -> None:
    """Read the ``[auth NAME]`` sections (``ServiceConfigError`` if one is wrong)."""
    app[AUTH] = AuthRegistry.from_config(config)


def registry(app: web.Application) -> AuthRegistry:
    return app.get(AUTH) or AuthRegistry()


def capabilities(app: web.Application, layout: TenantLayoutState | None = None) -> dict[str, Any]:
    """The ``auth`` capability of ``/api/info`` (and of a tenant's info,
    whose default realm is its ``authentication-realm`` when it has one)."""
    realm = TenantAuth.from_dict(layout.auth).realm if layout is not None else None
    # ``read_protected`` stays False: read endpoints do not enforce a
    # tenant's access-rules yet, and a dashboard must not ask for a login
    # that changes nothing.
    return registry(app).capabilities(realm)


def api_error(error: AuthError) -> ApiError:
    challenge = error.www_authenticate()
    return ApiError(
        error.status,
        error.description,
        error=error.error,
        headers={"WWW-Authenticate": challenge} if challenge else None,
        extra={"realm": error.realm},
    )


def bearer_token(request: web.Request, realm: str | None) -> str:
    header = request.headers.get("Authorization")
    if header is None:
        raise MissingToken(
            "this action needs a bearer token: send an 'Authorization: Bearer <token>' header",
            realm,
        )
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BadAuthorizationHeader("the Authorization header must be 'Bearer <token>'", realm)
    return token.strip()


async def identify(request: web.Request) -> Identity:
    """The verified identity of the request's bearer token (an ``ApiError`` otherwise)."""
    auth = registry(request.app)
    try:
        if not auth.configured:
            raise MissingToken(
                "authentication is not configured on this service (no [auth NAME] section), "
                "so admin actions are disabled"
            )
        token = bearer_token(request, auth.default_realm)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, auth.authenticate, token)
    except AuthError as e:
        log.info("%s %s refused (%d %s): %s", request.method, request.path, e.status, e.error, e)
        raise api_error(e) from None


async def authorization(
    request: web.Request, layout: TenantLayoutState
) -> tuple[Identity, Authorization]:
    identity = await identify(request)
    decision = authorize(
        TenantAuth.from_dict(layout.auth), layout.tenant, identity.claims, identity.uid
    )
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
