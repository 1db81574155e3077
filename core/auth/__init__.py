"""Authentication and authorization: who may read a tenant, who may act on it (``lockgate.auth``).

Shared by the web (which checks bearer tokens on reads and admin actions) and the
command line (which makes tokens for an HS256 realm).  Modules:

- ``errors``         -- ``AuthError`` and its kinds, in Zuul's error shape;
- ``authenticators`` -- one token checker per ``[auth NAME]`` section
  (HS256, RS256, OpenID Connect), returning an ``Identity``;
- ``registry``       -- ``AuthRegistry``: every section, token -> section by issuer;
- ``rules``          -- ``TenantAuth``, ``authorize`` and ``authorize_root``:
  tenant admin- and access-rules, and the api-root's, matched against claims (pure);
- ``tokens``         -- ``create_token`` and ``lockgate create-auth-token``.
"""

from lockgate.auth.authenticators import AuthSettings, Identity
from lockgate.auth.errors import AuthError, Forbidden, MissingToken
from lockgate.auth.registry import AuthRegistry
from lockgate.auth.rules import (
    Authorization,
    TenantAuth,
    authorize,
    authorize_root,
    tenant_auth,
)

__all__ = [
    "AuthError",
    "AuthRegistry",
    "AuthSettings",
    "Authorization",
    "Forbidden",
    "Identity",
    "MissingToken",
    "TenantAuth",
    "authorize",
    "authorize_root",
    "tenant_auth",
]
