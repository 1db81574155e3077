"""GitHub App authentication: the JWT, installation tokens and their refresh."""

from __future__ import annotations

import jwt
import pytest
from lockgate.drivers.github.auth import AuthError, GithubAuth, app_jwt

from .keys import private_key_pem, public_key_pem


def test_app_jwt_is_rs256_signed_backdated_and_short():
    token = app_jwt(42, private_key_pem(), now=1_000_000)
    claims = jwt.decode(
        token, public_key_pem(), algorithms=["RS256"], options={"verify_exp": False}
    )
    assert claims == {"iat": 1_000_000 - 60, "exp": 1_000_000 + 540, "iss": "42"}


class Exchange:
    """GitHub's App endpoints as answers: installation per repository and tokens."""

    def __init__(self) -> None:
        self.installations = {"org/repo": 7, "org/other": 7, "solo/repo": 9}
        self.now = 1_000_000.0
        self.issued = 0
        self.calls: list[tuple[str, str]] = []
        self.gone: set[int] = set()

    def __call__(self, method: str, path: str, authorization: str):
        self.calls.append((method, path))
        assert authorization.startswith("Bearer ")
        jwt.decode(
            authorization[7:],
            public_key_pem(),
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False},
        )
        if path.endswith("/installation"):
            project = path[len("/repos/") : -len("/installation")]
            if project in self.installations:
                return 200, {"id": self.installations[project]}
            return 404, {"message": "Not Found"}
        installation = int(path.split("/")[3])
        if installation in self.gone:
            return 404, {"message": "Not Found"}
        self.issued += 1
        expires = self.now + 3600
        from datetime import UTC, datetime

        stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 201, {"token": f"ghs_{installation}_{self.issued}", "expires_at": stamp}


def make(exchange: Exchange, api_token: str | None = None) -> GithubAuth:
    return GithubAuth(
        api_token=api_token,
        app_id=42,
        app_key=private_key_pem(),
        exchange=exchange,
        clock=lambda: exchange.now,
    )


def test_one_token_per_installation_reused_until_near_expiry():
    exchange = Exchange()
    auth = make(exchange)
    assert auth.header("org/repo") == "token ghs_7_1"
    assert auth.header("org/other") == "token ghs_7_1"  # same installation
    assert auth.header("solo/repo") == "token ghs_9_2"
    exchange.now += 3600 - 301  # 301 s left: still good
    assert auth.header("org/repo") == "token ghs_7_1"
    exchange.now += 2  # under five minutes left: a new one
    assert auth.header("org/repo") == "token ghs_7_3"
    lookups = [c for c in exchange.calls if c[1].endswith("/installation")]
    assert len(lookups) == 3  # once per repository


def test_a_repository_without_the_app_falls_back_to_the_token_or_fails():
    exchange = Exchange()
    assert make(exchange, api_token="ghp_x").header("nobody/repo") == "token ghp_x"
    with pytest.raises(AuthError, match="not installed on nobody/repo"):
        make(exchange).header("nobody/repo")


def test_a_removed_installation_is_looked_up_again():
    exchange = Exchange()
    auth = make(exchange)
    assert auth.header("org/repo") == "token ghs_7_1"
    exchange.now += 4000  # expired
    exchange.gone.add(7)
    exchange.installations["org/repo"] = 8
    assert auth.header("org/repo") == "token ghs_8_2"


def test_a_personal_token_needs_no_exchange():
    auth = GithubAuth(api_token="ghp_t", app_id=None, app_key=None, exchange=None)  # type: ignore[arg-type]
    assert auth.header("any/repo") == "token ghp_t"
    assert auth.git_token("any/repo") == "ghp_t"


def test_a_broken_key_is_an_auth_error():
    auth = GithubAuth(
        api_token=None, app_id=1, app_key="-----BEGIN RSA PRIVATE KEY-----\nx", exchange=Exchange()
    )
    with pytest.raises(AuthError, match="cannot sign"):
        auth.header("org/repo")
