"""Tenant admin-rules against claims: Zuul's matching, with {tenant.name}."""

from __future__ import annotations

import pytest
from lockgate.auth.rules import TenantAuth, authorize, rule_matches, tenant_auth, value_matches
from lockgate.config.tenant import parse_tenant_config

MAIN = """
- authorization-rule:
    name: ops
    conditions:
      - groups: ops
        iss: https://idp.example.com
      - sub: root
- admin-rule:
    name: tenant-role
    conditions:
      - resource_access:
          lockgate:
            roles: "{tenant.name}-admin"
- authorization-rule:
    name: readers
    conditions:
      - groups: readers
- authorization-rule:
    name: by-uid
    conditions:
      - zuul_uid: carol
- tenant:
    name: demo
    admin-rules: [ops, tenant-role, by-uid]
    access-rules: [readers]
    authentication-realm: sso
    source: {}
- tenant:
    name: open
    source: {}
"""


@pytest.fixture
def auth() -> TenantAuth:
    config = parse_tenant_config(MAIN)
    assert not config.errors, [e.format() for e in config.errors]
    made = tenant_auth(config.tenants["demo"], config.authorization_rules)
    # It travels as a dict in the published tenant state.
    return TenantAuth.from_dict(made.to_dict())


@pytest.mark.parametrize(
    ("claims", "admin", "by"),
    [
        ({"sub": "x", "groups": ["ops", "dev"], "iss": "https://idp.example.com"}, True, "ops"),
        ({"sub": "x", "groups": "ops", "iss": "https://idp.example.com"}, True, "ops"),
        ({"sub": "x", "groups": ["ops"], "iss": "https://other.example.com"}, False, None),
        ({"sub": "root"}, True, "ops"),
        (
            {"sub": "x", "resource_access": {"lockgate": {"roles": ["demo-admin"]}}},
            True,
            "tenant-role",
        ),
        ({"sub": "x", "resource_access": {"lockgate": {"roles": ["open-admin"]}}}, False, None),
        ({"sub": "x", "zuul": {"admin": ["demo"]}}, True, "zuul.admin"),
        ({"sub": "x", "zuul": {"admin": "*"}}, True, "zuul.admin"),
        ({"sub": "x", "zuul": {"admin": ["open"]}}, False, None),
    ],
)
def test_admin_rules(auth, claims, admin, by):
    decision = authorize(auth, "demo", claims, str(claims["sub"]))
    assert decision.admin is admin
    assert decision.granted_by == by


def test_zuul_uid_is_the_realm_user_id_not_a_claim(auth):
    assert authorize(auth, "demo", {"sub": "x", "email": "carol"}, "carol").admin
    assert not authorize(auth, "demo", {"zuul_uid": "carol", "sub": "x"}, "x").admin


def test_access_rules_and_a_tenant_without_rules(auth):
    assert authorize(auth, "demo", {"sub": "x", "groups": ["readers"]}).access
    assert not authorize(auth, "demo", {"sub": "x", "groups": ["nobody"]}).access
    nobody = authorize(TenantAuth(), "open", {"sub": "x"})
    assert nobody.access and not nobody.admin
    assert auth.realm == "sso"


def test_templating_is_a_plain_substitution_not_format():
    # str.format would reach attributes; the rule text stays literal.
    assert value_matches("{tenant.__class__}", "{tenant.__class__}", "demo")
    assert value_matches("{tenant.name}-x", "demo-x", "demo")


def test_dotted_claim_paths_and_literal_dotted_names():
    conditions = [{"realm_access.roles": "admin"}]
    assert rule_matches(conditions, {"realm_access": {"roles": ["admin"]}}, "t")
    assert rule_matches(conditions, {"realm_access.roles": "admin"}, "t")
    assert not rule_matches(conditions, {"realm_access": {}}, "t")
    assert not rule_matches([{}], {"sub": "x"}, "t")
    assert rule_matches([{"verified": True}], {"verified": True}, "t")
    assert not rule_matches([{"verified": True}], {"verified": 1}, "t")
