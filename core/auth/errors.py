"""Why a request is not authenticated or not authorized, in Zuul's error shape.

Who raises them: the authenticators (``authenticators.py``) for a token that
does not verify, the registry (``registry.py``) for a token of an issuer no
``[auth NAME]`` section trusts, and the web (``lockgate.web.auth``) for a
missing header or a claim that does not grant the action.  The web answers
each with its ``status`` and ``{"error": ..., "description": ..., "realm":
...}`` — Zuul's keys, so ``zuul-client`` prints ``error: description``.

``error`` values are Zuul's identifiers (clients may match on them); the
``description`` says in words which check failed and, where it helps, what
to do about it.
"""

from __future__ import annotations


class AuthError(Exception):
    """A request refused for authentication or authorization."""

    status = 401
    error = "AuthTokenUnauthorizedException"

    def __init__(self, description: str, realm: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.realm = realm

    def to_api(self) -> dict[str, str | None]:
        return {"error": self.error, "description": self.description, "realm": self.realm}

    def www_authenticate(self) -> str | None:
        """The ``WWW-Authenticate`` challenge of a 401 (RFC 6750), None otherwise."""
        if self.status != 401:
            return None
        description = self.description.replace('"', "'")
        return (
            f'Bearer realm="{self.realm or ""}", error="invalid_token", '
            f'error_description="{description}"'
        )


class MissingToken(AuthError):
    error = "MissingAuthError"


class BadAuthorizationHeader(AuthError):
    error = "InvalidAuthFormat"


class UndecodableToken(AuthError):
    error = "AuthTokenUndecodedException"


class BadSignature(AuthError):
    error = "AuthTokenInvalidSignatureException"


class TokenExpired(AuthError):
    error = "TokenExpiredError"


class UnknownIssuer(AuthError):
    error = "IssuerUnknownError"


class WrongAudience(AuthError):
    error = "IncorrectAudienceError"


class MissingClaim(AuthError):
    error = "MissingClaimError"


class AdminClaimRefused(AuthError):
    error = "UnauthorizedZuulAdminClaimError"


class KeysUnavailable(AuthError):
    """The identity provider's keys could not be fetched: the service's
    problem, not the token's (503, so a client may try again)."""

    status = 503
    error = "JWKSException"


class Forbidden(AuthError):
    status = 403
    error = "AuthTokenForbiddenException"
