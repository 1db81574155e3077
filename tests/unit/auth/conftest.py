"""Realms for the auth tests: an HS256 section, an RS256 key pair on disk,
and an OpenID Connect provider served for real on loopback (discovery
document and JWKS over HTTP), stopped at the end of the test."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lockgate.service_config import ServiceConfig

from tests.fixtures.auth import HS256Realm

SECRET = "an-hs256-secret-long-enough-for-sha256!"
OPERATOR = HS256Realm("operator", "lockgate.example.com", "lockgate-admin", SECRET)


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class Provider:
    """A tiny OpenID Connect provider: ``/.well-known/openid-configuration``
    and ``/jwks``; ``hits`` counts requests per path."""

    url: str
    key: rsa.RSAPrivateKey
    kid: str = "key-1"
    hits: dict[str, int] = field(default_factory=dict)
    broken: bool = False

    def token(self, claims: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": kid or self.kid})


@pytest.fixture
def provider() -> Iterator[Provider]:
    key = rsa_key()
    state: dict[str, Provider] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            p = state["p"]
            p.hits[self.path] = p.hits.get(self.path, 0) + 1
            if p.broken:
                self.send_error(500)
                return
            if self.path == "/realms/demo/.well-known/openid-configuration":
                body = {"issuer": p.url, "jwks_uri": p.url + "/jwks"}
            elif self.path == "/realms/demo/jwks":
                jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
                body = {"keys": [{**jwk, "kid": p.kid, "alg": "RS256", "use": "sig"}]}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["p"] = Provider(f"http://127.0.0.1:{server.server_port}/realms/demo", key)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["p"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def auth_config(tmp_path: Path, provider_url: str | None = None, **hs256: str) -> ServiceConfig:
    """A service config with an HS256 realm (``hs256`` overrides its keys),
    an RS256 realm whose public key is written to ``tmp_path`` (the private
    key is returned in ``config.rs256_key``), and an OpenID Connect realm
    when ``provider_url`` is given."""
    key = rsa_key()
    (tmp_path / "rs256.pem").write_text(public_pem(key))
    text = OPERATOR.section(**hs256)
    text += f"""
[auth keycloak-rsa]
driver = RS256
realm = rsa.example.com
issuer_id = https://rsa.example.com
client_id = lockgate-rsa
public_key = {tmp_path / "rs256.pem"}
"""
    if provider_url:
        text += f"""
[auth sso]
driver = OpenIDConnect
realm = sso.example.com
issuer_id = {provider_url}
client_id = lockgate-web
"""
    config = ServiceConfig.parse(text, str(tmp_path / "lockgate.conf"))
    config.rs256_key = key  # type: ignore[attr-defined]
    return config
