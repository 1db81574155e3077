"""The ``[auth NAME]`` sections of the service config, as one registry.

Who calls it: the web at start (``AuthRegistry.from_config``), to
authenticate bearer tokens (``authenticate``) and to advertise the realms in
``/api/info`` (``capabilities``); ``lockgate create-auth-token`` to find the
HS256 section it signs with (``settings``).

A token goes to the section whose ``issuer_id`` is the token's (unverified)
``iss`` claim; that section then verifies it completely.  The default realm
is the section with ``default = true``, else the first one in the file.
No ``[auth]`` section at all: the registry is empty, and every admin action
is refused with a message saying authentication is not configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jwt
from lockgate.auth.authenticators import (
    Authenticator,
    AuthSettings,
    Identity,
    make_authenticator,
)
from lockgate.auth.errors import UndecodableToken, UnknownIssuer
from lockgate.service_config import ServiceConfig, ServiceConfigError


@dataclass
class AuthRegistry:
    authenticators: dict[str, Authenticator] = field(default_factory=dict)
    default_realm: str | None = None

    @classmethod
    def from_config(cls, config: ServiceConfig) -> AuthRegistry:
        """Every ``[auth NAME]`` section; ``ServiceConfigError`` naming the
        section and key of the first thing wrong."""
        registry = cls()
        first: str | None = None
        realms: dict[str, str] = {}
        for name, section in config.named("auth").items():
            settings = AuthSettings.from_section(name, section)
            if settings.realm in realms:
                raise ServiceConfigError(
                    f"{config.path}: [auth {name}] realm: realm {settings.realm!r} is also "
                    f"the realm of [auth {realms[settings.realm]}]; each realm has one section"
                )
            realms[settings.realm] = name
            registry.authenticators[name] = make_authenticator(settings)
            first = first or settings.realm
            if settings.default:
                registry.default_realm = settings.realm
        registry.default_realm = registry.default_realm or first
        return registry

    @property
    def configured(self) -> bool:
        return bool(self.authenticators)

    def settings(self, name: str) -> AuthSettings | None:
        found = self.authenticators.get(name)
        return found.settings if found is not None else None

    def capabilities(
        self, default_realm: str | None = None, read_protected: bool = False
    ) -> dict[str, Any]:
        """The ``auth`` capability of ``/api/info``: every realm, the default
        (a tenant's or the api-root's ``authentication-realm`` when given),
        and whether reading needs a login (it has access-rules)."""
        return {
            "realms": {a.realm: a.capabilities() for a in self.authenticators.values()},
            "default_realm": default_realm or self.default_realm,
            "read_protected": read_protected,
        }

    def authenticate(self, token: str) -> Identity:
        """The identity ``token`` proves; ``AuthError`` saying why not."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.exceptions.DecodeError as e:
            raise UndecodableToken(
                f"the bearer token is not a JSON Web Token: {e}", self.default_realm
            ) from None
        issuer = unverified.get("iss") if isinstance(unverified, dict) else None
        for authenticator in self.authenticators.values():
            if authenticator.settings.issuer_id == issuer:
                return authenticator.authenticate(token)
        known = sorted({a.settings.issuer_id for a in self.authenticators.values()})
        raise UnknownIssuer(
            f"the token's issuer {issuer!r} is not trusted here"
            + (f" (trusted issuers: {', '.join(known)})" if known else ""),
            self.default_realm,
        )
