"""Making admin tokens for an HS256 realm: ``lockgate create-auth-token``.

Who calls it: an operator, to hand someone (or a script, or ``lockgate
client``) a bearer token without an identity provider; tests.  The token is
signed with the ``secret`` of an ``[auth NAME]`` section whose driver is
HS256, carries that section's ``iss`` and ``aud``, the user as ``sub``, and
``zuul.admin`` naming the tenants it administers — which the web honours
only if that section says ``allow_authz_override = true`` (otherwise the
tenant's ``admin-rules`` must match the user, e.g. ``sub: NAME``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import jwt
from lockgate.auth.authenticators import AuthSettings
from lockgate.auth.registry import AuthRegistry
from lockgate.service_config import ServiceConfig, ServiceConfigError

DEFAULT_EXPIRY = 600


def create_token(
    settings: AuthSettings,
    user: str,
    tenants: Sequence[str] = (),
    *,
    expires_in: float = DEFAULT_EXPIRY,
    now: float | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """A token for ``user`` signed with ``settings``'s secret (HS256 only)."""
    if settings.driver != "HS256" or not settings.secret:
        raise ValueError(
            f"[auth {settings.name}] is a {settings.driver} realm: only an HS256 realm's "
            "secret can sign tokens here (the identity provider makes the others)"
        )
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": settings.issuer_id,
        "aud": settings.audience,
        "sub": user,
        "iat": issued,
        "exp": issued + int(expires_in),
    }
    if tenants:
        claims["zuul"] = {"admin": list(tenants)}
    claims.update(extra_claims or {})
    return jwt.encode(claims, settings.secret, algorithm="HS256")


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--auth-config", required=True, help="the [auth NAME] section (an HS256 realm) to sign with"
    )
    parser.add_argument("--user", required=True, help="who the token is for (its 'sub' claim)")
    parser.add_argument(
        "--tenant",
        action="append",
        default=[],
        help="a tenant the token administers (repeat for several; '*' for all)",
    )
    parser.add_argument(
        "--expires-in",
        type=int,
        default=DEFAULT_EXPIRY,
        help=f"seconds the token is valid (default {DEFAULT_EXPIRY})",
    )
    return parser


def main(config: ServiceConfig, args: argparse.Namespace) -> int:
    """Print a token; the exit status for ``lockgate create-auth-token``."""
    try:
        registry = AuthRegistry.from_config(config)
    except ServiceConfigError as e:
        print(f"lockgate create-auth-token: {e}", file=sys.stderr)
        return 2
    settings = registry.settings(args.auth_config)
    if settings is None:
        known = ", ".join(sorted(registry.authenticators)) or "none"
        print(
            f"lockgate create-auth-token: no [auth {args.auth_config}] section in "
            f"{config.path} (sections: {known})",
            file=sys.stderr,
        )
        return 2
    if args.expires_in <= 0:
        print("lockgate create-auth-token: --expires-in must be positive", file=sys.stderr)
        return 2
    try:
        token = create_token(settings, args.user, args.tenant, expires_in=args.expires_in)
    except ValueError as e:
        print(f"lockgate create-auth-token: {e}", file=sys.stderr)
        return 2
    if args.tenant and not settings.allow_authz_override:
        print(
            f"lockgate create-auth-token: note: [auth {args.auth_config}] does not set "
            "allow_authz_override = true, so the web ignores the token's tenants; the "
            "tenants' admin-rules must match the user instead",
            file=sys.stderr,
        )
    print(f"Bearer {token}")
    return 0
