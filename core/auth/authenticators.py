"""Token checkers, one per ``[auth NAME]`` section: HS256, RS256, OpenID Connect.

Who calls it: ``registry.AuthRegistry`` builds one ``Authenticator`` per
section (``from_section``) and hands it the tokens whose ``iss`` is its
``issuer_id``; ``tokens.create_token`` signs tokens for an HS256 realm.
What comes next: the web matches the returned ``Identity``'s claims against
the tenant's ``admin-rules`` (``rules.authorize``).

The checks, in order, each failing with its own ``AuthError``:

1. the signature, with the section's key (HS256: ``secret``; RS256: the PEM
   ``public_key`` file; OpenID Connect: the provider's JWKS, found through
   ``<issuer_id>/.well-known/openid-configuration`` unless ``keys_url`` is
   given, cached and refreshed when a token names an unknown key id);
2. ``exp`` (with ``skew`` seconds of leeway), ``iss`` = ``issuer_id``,
   ``aud`` = ``audience`` (default ``client_id``); ``iat`` not in the future;
3. ``max_validity_time``: a token older than that (by ``iat``) is expired
   whatever its ``exp`` says;
4. the user id claim (``uid_claim``, default ``sub``) is present;
5. a ``zuul.admin`` claim (a token that grants itself admin of tenants) is
   only honoured from a section with ``allow_authz_override = true``.

Token checking is PyJWT's; OpenID discovery is one HTTP GET (``requests``).
Both block: the web runs ``authenticate`` off its event loop.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import requests
from lockgate.auth.errors import (
    AdminClaimRefused,
    AuthError,
    BadSignature,
    KeysUnavailable,
    MissingClaim,
    TokenExpired,
    UndecodableToken,
    UnknownIssuer,
    WrongAudience,
)
from lockgate.service_config import Section

log = logging.getLogger("lockgate.auth")

DRIVERS = ("HS256", "RS256", "OpenIDConnect", "RS256withJWKS")
COMMON_KEYS = {
    "driver",
    "realm",
    "default",
    "issuer_id",
    "client_id",
    "audience",
    "authority",
    "uid_claim",
    "max_validity_time",
    "skew",
    "allow_authz_override",
}
DRIVER_KEYS = {
    "HS256": {"secret"},
    "RS256": {"public_key"},
    "OpenIDConnect": {"keys_url", "scope", "load_user_info"},
    "RS256withJWKS": {"keys_url", "scope", "load_user_info"},
}
# Seconds an HTTP request to an identity provider may take.
HTTP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Identity:
    """Who a verified token says the caller is: ``uid`` (the ``uid_claim``),
    every claim, and the realm that vouched for it."""

    uid: str
    claims: dict[str, Any]
    realm: str

    def admin_override(self) -> list[str] | str:
        """The tenants the token itself claims admin of (``zuul.admin``);
        only set when the realm allows it (checked at authentication)."""
        zuul = self.claims.get("zuul")
        if not isinstance(zuul, dict):
            return []
        value = zuul.get("admin", [])
        return value if isinstance(value, (list, str)) else []


@dataclass(frozen=True)
class AuthSettings:
    """One ``[auth NAME]`` section, checked."""

    name: str
    driver: str
    realm: str
    issuer_id: str
    client_id: str
    audience: str
    authority: str
    default: bool = False
    uid_claim: str = "sub"
    max_validity_time: float = math.inf
    skew: int = 0
    allow_authz_override: bool = False
    secret: str | None = None
    public_key: str | None = None
    keys_url: str | None = None
    scope: str = "openid profile"
    load_user_info: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_section(cls, name: str, section: Section) -> AuthSettings:
        driver = section.require("driver")
        if driver not in DRIVERS:
            raise section.error(
                "driver", f"unknown auth driver {driver!r} (known: {', '.join(DRIVERS)})"
            )
        section.known(COMMON_KEYS | DRIVER_KEYS[driver])
        client_id = section.require("client_id")
        issuer_id = section.require("issuer_id")
        max_validity = section.get_float("max_validity_time")
        if max_validity is not None and max_validity <= 0:
            raise section.error("max_validity_time", "must be a positive number of seconds")
        skew = section.get_int("skew", 0) or 0
        if skew < 0:
            raise section.error("skew", "must be zero or a positive number of seconds")
        secret = public_key = None
        if driver == "HS256":
            secret = section.require("secret")
        elif driver == "RS256":
            path = section.get_path("public_key") or section.require("public_key")
            try:
                public_key = Path(path).read_text()
            except OSError as e:
                raise section.error(
                    "public_key", f"cannot read {path}: {e.strerror or e}"
                ) from None
            try:
                jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).prepare_key(
                    public_key
                )
            except Exception as e:  # noqa: BLE001 - any parse failure is a config error
                raise section.error("public_key", f"{path} is not an RSA public key: {e}") from None
        return cls(
            name=name,
            driver="OpenIDConnect" if driver == "RS256withJWKS" else driver,
            realm=section.require("realm"),
            issuer_id=issuer_id,
            client_id=client_id,
            audience=section.get("audience") or client_id,
            authority=section.get("authority") or issuer_id,
            default=section.get_bool("default", False),
            uid_claim=section.get("uid_claim") or "sub",
            max_validity_time=max_validity if max_validity is not None else math.inf,
            skew=skew,
            allow_authz_override=section.get_bool("allow_authz_override", False),
            secret=secret,
            public_key=public_key,
            keys_url=section.get("keys_url"),
            scope=section.get("scope") or "openid profile",
            load_user_info=section.get_bool("load_user_info", True),
        )


class Authenticator:
    """Checks tokens of one issuer (the base of the three drivers)."""

    algorithms: tuple[str, ...] = ()

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings

    @property
    def realm(self) -> str:
        return self.settings.realm

    def capabilities(self) -> dict[str, Any]:
        """This realm as ``/api/info`` advertises it (Zuul's keys)."""
        return {
            "authority": self.settings.authority,
            "client_id": self.settings.client_id,
            "type": "JWT",
            "driver": self.settings.driver,
        }

    def signing_key(self, token: str) -> tuple[Any, list[str]]:
        """The key to check ``token``'s signature with, and the algorithms allowed."""
        raise NotImplementedError

    def authenticate(self, token: str) -> Identity:
        """The verified identity ``token`` carries; ``AuthError`` saying which check failed."""
        s = self.settings
        key, algorithms = self.signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=s.audience,
                issuer=s.issuer_id,
                leeway=s.skew,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.exceptions.InvalidSignatureError:
            raise BadSignature(
                f"the token's signature does not verify with the keys of realm {s.realm!r}",
                s.realm,
            ) from None
        except jwt.exceptions.ExpiredSignatureError:
            raise TokenExpired(
                "the token has expired (its 'exp' claim is in the past); get a new one", s.realm
            ) from None
        except jwt.exceptions.InvalidAudienceError:
            raise WrongAudience(
                f"the token is not meant for this service: its 'aud' claim is not {s.audience!r}",
                s.realm,
            ) from None
        except jwt.exceptions.InvalidIssuerError:
            raise UnknownIssuer(
                f"the token's 'iss' claim is not {s.issuer_id!r}", s.realm
            ) from None
        except jwt.exceptions.MissingRequiredClaimError as e:
            raise MissingClaim(f"the token has no {e.claim!r} claim", s.realm) from None
        except jwt.exceptions.ImmatureSignatureError:
            raise AuthError(
                "the token is not valid yet ('iat' or 'nbf' is in the future)", s.realm
            ) from None
        except jwt.exceptions.InvalidAlgorithmError:
            raise BadSignature(
                f"the token is signed with an algorithm realm {s.realm!r} does not accept "
                f"(accepted: {', '.join(algorithms)})",
                s.realm,
            ) from None
        except jwt.exceptions.DecodeError as e:
            raise UndecodableToken(f"the token cannot be decoded: {e}", s.realm) from None
        except jwt.exceptions.InvalidTokenError as e:
            raise AuthError(f"the token was refused: {e}", s.realm) from None
        return self._check_claims(claims)

    def _check_claims(self, claims: dict[str, Any]) -> Identity:
        s = self.settings
        if s.max_validity_time < math.inf:
            issued = claims.get("iat")
            if not isinstance(issued, (int, float)):
                raise MissingClaim(
                    f"realm {s.realm!r} limits how long a token is valid, so tokens need an "
                    "'iat' claim",
                    s.realm,
                )
            if time.time() - issued > s.max_validity_time + s.skew:
                raise TokenExpired(
                    f"the token was issued more than {s.max_validity_time:g} s ago "
                    f"(realm {s.realm!r}'s max_validity_time); get a new one",
                    s.realm,
                )
        uid = claims.get(s.uid_claim)
        if uid in (None, ""):
            raise MissingClaim(
                f"the token has no {s.uid_claim!r} claim (realm {s.realm!r}'s uid_claim)", s.realm
            )
        zuul = claims.get("zuul", {})
        admin = zuul.get("admin", []) if isinstance(zuul, dict) else []
        if not isinstance(admin, list) and admin != "*":
            raise AdminClaimRefused("the 'zuul.admin' claim must be a list of tenants", s.realm)
        if admin and not s.allow_authz_override:
            log.info("token of %s from %s claims zuul.admin %s: refused", uid, s.realm, admin)
            raise AdminClaimRefused(
                f"realm {s.realm!r} does not let tokens grant themselves admin rights "
                "('zuul.admin' claim; set allow_authz_override to allow it)",
                s.realm,
            )
        return Identity(str(uid), claims, s.realm)


class HS256Authenticator(Authenticator):
    """A secret shared with whoever makes the tokens (``lockgate create-auth-token``)."""

    algorithms = ("HS256",)

    def signing_key(self, token: str) -> tuple[Any, list[str]]:
        return self.settings.secret, list(self.algorithms)


class RS256Authenticator(Authenticator):
    """The identity provider's RSA public key, read from a PEM file at start."""

    algorithms = ("RS256",)

    def signing_key(self, token: str) -> tuple[Any, list[str]]:
        return self.settings.public_key, list(self.algorithms)


class OpenIDConnectAuthenticator(Authenticator):
    """An OpenID Connect provider: its signing keys from its JWKS."""

    algorithms = ("RS256",)

    def __init__(self, settings: AuthSettings) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self._client: jwt.PyJWKClient | None = None

    def capabilities(self) -> dict[str, Any]:
        out = super().capabilities()
        out["scope"] = self.settings.scope
        out["load_user_info"] = self.settings.load_user_info
        return out

    def discovery_url(self) -> str:
        return self.settings.issuer_id.rstrip("/") + "/.well-known/openid-configuration"

    def _keys_url(self) -> str:
        if self.settings.keys_url:
            return self.settings.keys_url
        url = self.discovery_url()
        try:
            reply = requests.get(url, timeout=HTTP_TIMEOUT)
            reply.raise_for_status()
            document = reply.json()
        except (requests.RequestException, ValueError) as e:
            log.error("realm %s: cannot read the OpenID configuration %s: %s", self.realm, url, e)
            raise KeysUnavailable(
                f"the OpenID configuration of realm {self.realm!r} cannot be read now "
                "(see the web service's log); try again later",
                self.realm,
            ) from None
        keys_url = document.get("jwks_uri") if isinstance(document, dict) else None
        if not keys_url:
            log.error("realm %s: %s has no jwks_uri", self.realm, url)
            raise KeysUnavailable(
                f"the OpenID configuration of realm {self.realm!r} names no key set (jwks_uri)",
                self.realm,
            )
        return str(keys_url)

    def _jwks(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._client is None:
                self._client = jwt.PyJWKClient(
                    self._keys_url(), cache_keys=True, lifespan=300, timeout=HTTP_TIMEOUT
                )
            return self._client

    def signing_key(self, token: str) -> tuple[Any, list[str]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.exceptions.DecodeError as e:
            raise UndecodableToken(f"the token cannot be decoded: {e}", self.realm) from None
        if not header.get("kid"):
            raise UndecodableToken(
                "the token's header names no key ('kid'), which realm "
                f"{self.realm!r} needs to find the provider's key",
                self.realm,
            )
        client = self._jwks()
        try:
            key = client.get_signing_key(str(header["kid"]))
        except jwt.exceptions.PyJWKClientConnectionError as e:
            log.error("realm %s: cannot fetch the key set %s: %s", self.realm, client.uri, e)
            raise KeysUnavailable(
                f"the key set of realm {self.realm!r} cannot be fetched now "
                "(see the web service's log); try again later",
                self.realm,
            ) from None
        except jwt.exceptions.PyJWKClientError:
            raise BadSignature(
                f"the token was signed with key {header['kid']!r}, which the provider of "
                f"realm {self.realm!r} does not publish",
                self.realm,
            ) from None
        algorithm = key.algorithm_name or self.algorithms[0]
        return key.key, [algorithm]


def make_authenticator(settings: AuthSettings) -> Authenticator:
    if settings.driver == "HS256":
        return HS256Authenticator(settings)
    if settings.driver == "RS256":
        return RS256Authenticator(settings)
    return OpenIDConnectAuthenticator(settings)
