"""Authentication and authorization for admin actions (``lockgate.auth``).

Shared by the web (which checks bearer tokens on admin endpoints) and the
command line (which makes tokens for an HS256 realm).  Modules:

- ``errors``         -- ``AuthError`` and its kinds, in Zuul's error shape;
- ``authenticators`` -- one token checker per ``[auth NAME]`` section
  (HS256, RS256, OpenID Connect), returning an ``Identity``;
- ``registry``       -- ``AuthRegistry``: every section, token -> section by issuer;
- ``rules``          -- ``TenantAuth`` and ``authorize``: tenant admin-rules
  matched against claims (pure);
- ``tokens``         -- ``create_token`` and ``lockgate create-auth-token``.
"""

from lockgate.auth.authenticators import AuthSettings, Identity
from lockgate.auth.errors import AuthError, Forbidden, MissingToken
from lockgate.auth.registry import AuthRegistry
from lockgate.auth.rules import Authorization, TenantAuth, authorize, tenant_auth

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
    "tenant_auth",
]
