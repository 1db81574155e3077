"""Tokens checked by each driver: what passes, and which error each bad token gets."""

from __future__ import annotations

import time

import jwt
import pytest
from lockgate.auth import AuthRegistry
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
from lockgate.auth.tokens import create_token
from lockgate.service_config import ServiceConfig, ServiceConfigError

from tests.unit.auth.conftest import OPERATOR, SECRET, auth_config, rsa_key

# The operator realm's claims (one given as None is left out: a token
# missing it) and their signature with its secret or another.  Claims made
# at collection (the parameters) live a day: they outlive a long suite.
claims = OPERATOR.claims
hs256 = OPERATOR.sign


def test_a_good_hs256_token_gives_the_user_and_its_claims(tmp_path):
    registry = AuthRegistry.from_config(auth_config(tmp_path))
    identity = registry.authenticate(hs256(claims(groups=["ops"])))
    assert identity.uid == "alice"
    assert identity.realm == "lockgate.example.com"
    assert identity.claims["groups"] == ["ops"]


# Claims are made when the test runs, not when it is collected: a token
# "valid in an hour" made at collection was valid by the time a 70-minute
# suite reached it (and was accepted).
@pytest.mark.parametrize(
    ("make_claims", "secret", "error", "words"),
    [
        (lambda: claims(exp=int(time.time()) - 60), SECRET, TokenExpired, "expired"),
        (lambda: claims(), "another secret, long enough to be used!!", BadSignature, "signature"),
        (lambda: claims(aud="someone-else"), SECRET, WrongAudience, "'aud'"),
        (lambda: claims(exp=None), SECRET, MissingClaim, "'exp'"),
        (lambda: claims(sub=None), SECRET, MissingClaim, "'sub'"),
        (lambda: claims(iat=int(time.time()) + 3600), SECRET, AuthError, "not valid yet"),
        (
            lambda: claims(zuul={"admin": ["demo"]}),
            SECRET,
            AdminClaimRefused,
            "allow_authz_override",
        ),
    ],
    ids=["expired", "signature", "audience", "no-exp", "no-sub", "not-yet-valid", "admin-claim"],
)
def test_each_bad_token_is_refused_saying_which_check_failed(
    tmp_path, make_claims, secret, error, words
):
    registry = AuthRegistry.from_config(auth_config(tmp_path))
    with pytest.raises(error) as caught:
        registry.authenticate(hs256(make_claims(), secret))
    assert caught.value.status == 401
    assert words in caught.value.description
    assert caught.value.realm == "lockgate.example.com"


def test_an_unknown_issuer_and_garbage_are_refused(tmp_path):
    registry = AuthRegistry.from_config(auth_config(tmp_path))
    with pytest.raises(UnknownIssuer) as caught:
        registry.authenticate(hs256(claims(iss="https://evil.example.com")))
    assert "evil.example.com" in caught.value.description
    with pytest.raises(UndecodableToken):
        registry.authenticate("not-a-token")


def test_skew_and_max_validity_time(tmp_path):
    config = auth_config(tmp_path, skew="30", max_validity_time="100")
    registry = AuthRegistry.from_config(config)
    now = int(time.time())
    # Expired 10 s ago, but within the 30 s of skew.
    assert registry.authenticate(hs256(claims(exp=now - 10))).uid == "alice"
    # exp far ahead, but issued 200 s ago: over max_validity_time.
    with pytest.raises(TokenExpired) as caught:
        registry.authenticate(hs256(claims(iat=now - 200, exp=now + 3600)))
    assert "max_validity_time" in caught.value.description
    # A realm limiting validity needs iat.
    with pytest.raises(MissingClaim):
        registry.authenticate(hs256(claims(iat=None)))


def test_admin_claim_honoured_only_with_allow_authz_override(tmp_path):
    registry = AuthRegistry.from_config(auth_config(tmp_path, allow_authz_override="true"))
    identity = registry.authenticate(hs256(claims(zuul={"admin": ["demo"]})))
    assert identity.admin_override() == ["demo"]
    with pytest.raises(AdminClaimRefused):
        registry.authenticate(hs256(claims(zuul={"admin": "demo"})))


def test_rs256_checks_with_the_public_key_file(tmp_path):
    config = auth_config(tmp_path)
    registry = AuthRegistry.from_config(config)
    good = claims(iss="https://rsa.example.com", aud="lockgate-rsa", sub="bob")
    token = jwt.encode(good, config.rs256_key, algorithm="RS256")  # type: ignore[attr-defined]
    assert registry.authenticate(token).uid == "bob"
    forged = jwt.encode(good, rsa_key(), algorithm="RS256")
    with pytest.raises(BadSignature):
        registry.authenticate(forged)
    # An HS256 token signed with the public key as secret (algorithm confusion).
    with pytest.raises(BadSignature):
        registry.authenticate(hs256(good, secret="x" * 40))


def test_openid_connect_finds_the_keys_by_discovery_and_caches_them(tmp_path, provider):
    registry = AuthRegistry.from_config(auth_config(tmp_path, provider.url))
    good = claims(iss=provider.url, aud="lockgate-web", sub="carol", groups=["admins"])
    assert registry.authenticate(provider.token(good)).uid == "carol"
    assert registry.authenticate(provider.token(good)).uid == "carol"
    assert provider.hits["/realms/demo/.well-known/openid-configuration"] == 1
    assert provider.hits["/realms/demo/jwks"] == 1
    # A key the provider does not publish.
    with pytest.raises(BadSignature) as caught:
        registry.authenticate(provider.token(good, kid="unknown-key"))
    assert "unknown-key" in caught.value.description
    # A token signed by someone else with the provider's key id.
    forged = jwt.encode(good, rsa_key(), algorithm="RS256", headers={"kid": provider.kid})
    with pytest.raises(BadSignature):
        registry.authenticate(forged)
    caps = registry.capabilities()["realms"]["sso.example.com"]
    assert caps["driver"] == "OpenIDConnect"
    assert caps["authority"] == provider.url
    assert caps["client_id"] == "lockgate-web"


def test_openid_connect_provider_down_is_a_503_not_a_bad_token(tmp_path, provider):
    provider.broken = True
    registry = AuthRegistry.from_config(auth_config(tmp_path, provider.url))
    good = claims(iss=provider.url, aud="lockgate-web")
    with pytest.raises(KeysUnavailable) as caught:
        registry.authenticate(provider.token(good))
    assert caught.value.status == 503


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[auth a]\nrealm = r\n", "driver: missing required key"),
        ("[auth a]\ndriver = HS512\n", "unknown auth driver"),
        (
            "[auth a]\ndriver = HS256\nrealm = r\nissuer_id = i\nclient_id = c\n",
            "secret: missing required key",
        ),
        (
            "[auth a]\ndriver = HS256\nrealm = r\nissuer_id = i\nclient_id = c\nsecret = s\n"
            "colour = blue\n",
            "colour: unknown key",
        ),
        (
            "[auth a]\ndriver = RS256\nrealm = r\nissuer_id = i\nclient_id = c\n"
            "public_key = /nonexistent.pem\n",
            "cannot read /nonexistent.pem",
        ),
        (
            "[auth a]\ndriver = HS256\nrealm = r\nissuer_id = i\nclient_id = c\nsecret = s\n"
            "[auth b]\ndriver = HS256\nrealm = r\nissuer_id = j\nclient_id = c\nsecret = s\n",
            "each realm has one section",
        ),
    ],
)
def test_bad_auth_sections_name_section_and_key(text, words):
    with pytest.raises(ServiceConfigError) as caught:
        AuthRegistry.from_config(ServiceConfig.parse(text, "lockgate.conf"))
    assert words in str(caught.value)
    assert "[auth " in str(caught.value)


def test_create_token_makes_a_token_the_realm_accepts(tmp_path):
    registry = AuthRegistry.from_config(auth_config(tmp_path, allow_authz_override="true"))
    settings = registry.settings("operator")
    assert settings is not None
    token = create_token(settings, "admin", ["demo"], expires_in=60)
    identity = registry.authenticate(token)
    assert identity.uid == "admin"
    assert identity.admin_override() == ["demo"]
    expired = create_token(settings, "admin", ["demo"], expires_in=60, now=time.time() - 120)
    with pytest.raises(TokenExpired):
        registry.authenticate(expired)
    rs = registry.settings("keycloak-rsa")
    assert rs is not None
    with pytest.raises(ValueError, match="only an HS256 realm"):
        create_token(rs, "admin")


def test_default_realm_is_the_one_marked_default_else_the_first(tmp_path):
    assert AuthRegistry.from_config(auth_config(tmp_path)).default_realm == "lockgate.example.com"
    config = ServiceConfig.parse(
        "[auth a]\ndriver = HS256\nrealm = first\nissuer_id = i\nclient_id = c\nsecret = s\n"
        "[auth b]\ndriver = HS256\nrealm = second\nissuer_id = j\nclient_id = c\nsecret = s\n"
        "default = true\n"
    )
    registry = AuthRegistry.from_config(config)
    assert registry.default_realm == "second"
    assert registry.capabilities("first")["default_realm"] == "first"
    assert AuthRegistry.from_config(ServiceConfig.parse("")).configured is False
