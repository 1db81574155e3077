"""Tenant admin-rules against claims: Zuul's matching, with {tenant.name}."""

from __future__ import annotations

import pytest
from lockgate.auth.rules import (
    TenantAuth,
    authorize,
    authorize_root,
    rule_matches,
    tenant_auth,
    value_matches,
)
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


ROOTED = """
- authorization-rule:
    name: staff
    conditions:
      - groups: staff
- authorization-rule:
    name: per-tenant
    conditions:
      - groups: "{tenant.name}-readers"
- api-root:
    authentication-realm: sso
    access-rules: [staff, per-tenant]
- tenant:
    name: demo
    access-rules: [per-tenant]
    source: {}
"""


@pytest.fixture
def rooted() -> TenantAuth:
    config = parse_tenant_config(ROOTED)
    assert not config.errors, [e.format() for e in config.errors]
    made = tenant_auth(config.tenants["demo"], config.authorization_rules, config.api_root)
    return TenantAuth.from_dict(made.to_dict())


def test_the_api_root_travels_with_every_tenant(rooted):
    assert rooted.api_root_realm == "sso"
    assert rooted.api_root_access_rules == ["staff", "per-tenant"]
    assert set(rooted.rules) == {"staff", "per-tenant"}
    assert rooted.read_protected and rooted.root_read_protected
    assert not TenantAuth().read_protected and not TenantAuth().root_read_protected


def test_who_may_read_the_api_root(rooted):
    staff = authorize_root(rooted, {"sub": "s", "groups": ["staff"]}, "s")
    assert (staff.access, staff.admin, staff.access_by) == (True, False, "staff")
    assert not authorize_root(rooted, {"sub": "x", "groups": ["demo-readers"]}).access
    # A rule naming {tenant.name} matches nothing at the root, which has no tenant.
    assert not authorize_root(rooted, {"sub": "x", "groups": ["{tenant.name}-readers"]}).access
    wildcard = authorize_root(rooted, {"sub": "w", "zuul": {"admin": "*"}})
    assert wildcard.access and wildcard.admin
    # A token admin of some tenants is not thereby a reader of the root.
    assert not authorize_root(rooted, {"sub": "x", "zuul": {"admin": ["demo"]}}).access
    assert authorize_root(TenantAuth(), {"sub": "anyone"}).access


def test_read_access_names_its_rule_and_admins_may_read(auth):
    reader = authorize(auth, "demo", {"sub": "x", "groups": ["readers"]})
    assert (reader.access, reader.admin, reader.access_by) == (True, False, "readers")
    admin = authorize(auth, "demo", {"sub": "root"})
    assert admin.access and admin.admin and admin.access_by == "ops"
    assert authorize(auth, "demo", {"sub": "x"}).access_by is None
