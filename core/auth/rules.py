"""Who may act on a tenant: its ``admin-rules`` matched against a token's claims.  Pure.

Who calls it: the scheduler publishes each tenant's ``TenantAuth`` (built
with ``tenant_auth`` from the tenant config) in its ``TenantLayoutState``;
the web reads it and calls ``authorize`` with a verified ``Identity``.

The rules are Zuul's ``authorization-rule`` (alias ``admin-rule``) objects:

    - authorization-rule:
        name: demo-admins
        conditions:                 # a list: any entry may match (OR)
          - groups: ops             # a mapping: every claim must match (AND)
            iss: https://idp.example.com
          - sub: alice
          - resource_access:        # a mapping value: matched key by key
              lockgate:
                roles: "{tenant.name}-admin"

How a condition matches a claim (``claim_matches``):

- the claim is looked up by its full name, else as a dotted path into nested
  mappings (``resource_access.lockgate.roles``); ``zuul_uid`` names the
  realm's user id claim;
- a string is templated (``{tenant.name}`` becomes the tenant's name) and
  matches a string claim equal to it, or a list claim containing it;
- a list matches when any of its entries matches;
- a mapping matches a mapping claim whose keys each match;
- other values (numbers, booleans) match an equal claim.

A token may also name the tenants it administers in a ``zuul.admin`` claim
(a list, or ``"*"``), honoured only from realms that allow it (checked when
the token is authenticated).  Admin implies access.

Reading is decided the same way: a tenant with ``access-rules`` may be read
by a token matching one of them, or by one of its admins (``authorize``);
the service's global endpoints by a token matching one of the tenant
config's ``api-root`` access-rules, or whose ``zuul.admin`` claim is ``"*"``
(``authorize_root``).  The api-root is the same for every tenant, so it
travels in each tenant's ``TenantAuth``.  A rule whose text names
``{tenant.name}`` matches nothing at the api-root, which has no tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.serial import from_dict, to_dict

UID_CLAIM = "zuul_uid"


@dataclass(frozen=True)
class TenantAuth:
    """What the web needs to authorize actions on one tenant."""

    realm: str | None = None  # the tenant's authentication-realm
    admin_rules: list[str] = field(default_factory=list)
    access_rules: list[str] = field(default_factory=list)
    # The conditions of every rule these name (each a list of mappings).
    rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The tenant config's api-root: the default realm of the global
    # endpoints and who may read them (rule names, conditions in ``rules``).
    api_root_realm: str | None = None
    api_root_access_rules: list[str] = field(default_factory=list)

    @property
    def read_protected(self) -> bool:
        """Whether reading the tenant needs a token (it has access-rules)."""
        return bool(self.access_rules)

    @property
    def root_read_protected(self) -> bool:
        return bool(self.api_root_access_rules)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TenantAuth:
        return from_dict(cls, dict(data or {}))


@dataclass(frozen=True)
class Authorization:
    """The outcome for one identity on one tenant: may it read (``access``),
    may it act (``admin``), and what granted admin (a rule's name, or
    ``zuul.admin`` for the token's own claim)."""

    access: bool
    admin: bool
    granted_by: str | None = None
    # What granted access: an access-rule's name, or (for an admin) what
    # granted admin; None when there is nothing to grant (no access-rules).
    access_by: str | None = None


def tenant_auth(spec: Any, rules: Mapping[str, Any], api_root: Any = None) -> TenantAuth:
    """The ``TenantAuth`` of a ``TenantSpec`` given the tenant config's
    ``authorization_rules`` (name -> ``AuthorizationRule``) and its
    ``ApiRoot`` (None: no api-root object)."""
    root_rules = list(api_root.access_rules) if api_root is not None else []
    names = list(spec.admin_rules) + list(spec.access_rules) + root_rules
    return TenantAuth(
        realm=spec.authentication_realm,
        admin_rules=list(spec.admin_rules),
        access_rules=list(spec.access_rules),
        rules={n: [dict(c) for c in rules[n].conditions] for n in names if n in rules},
        api_root_realm=api_root.authentication_realm if api_root is not None else None,
        api_root_access_rules=root_rules,
    )


TENANT_NAME = "{tenant.name}"


def _template(value: str, tenant: str | None) -> str | None:
    # A plain substitution, not str.format: rule text must not reach
    # attributes of anything.  No tenant (the api-root): nothing to match.
    if tenant is None:
        return None if TENANT_NAME in value else value
    return value.replace(TENANT_NAME, tenant)


def _lookup(claims: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    if name in claims:
        return True, claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return True, value


def value_matches(expected: Any, actual: Any, tenant: str | None) -> bool:
    """Whether a claim's value ``actual`` satisfies ``expected`` (see above)."""
    if isinstance(expected, list):
        return any(value_matches(e, actual, tenant) for e in expected)
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return False
        return all(k in actual and value_matches(v, actual[k], tenant) for k, v in expected.items())
    if isinstance(expected, str):
        wanted = _template(expected, tenant)
        if wanted is None:
            return False
        if isinstance(actual, list):
            return wanted in actual
        return isinstance(actual, str) and actual == wanted
    if isinstance(actual, list):
        return expected in actual
    return bool(expected == actual) and type(expected) is type(actual)


def claim_matches(
    claim: str,
    expected: Any,
    claims: Mapping[str, Any],
    tenant: str | None,
    uid: str | None = None,
) -> bool:
    if claim == UID_CLAIM:
        found, actual = uid is not None, uid
    else:
        found, actual = _lookup(claims, claim)
    return found and value_matches(expected, actual, tenant)


def rule_matches(
    conditions: list[dict[str, Any]],
    claims: Mapping[str, Any],
    tenant: str | None,
    uid: str | None = None,
) -> bool:
    """Any condition whose every claim matches."""
    return any(
        bool(condition)
        and all(claim_matches(k, v, claims, tenant, uid) for k, v in condition.items())
        for condition in conditions
    )


def admin_override(claims: Mapping[str, Any], tenant: str) -> bool:
    """Whether the token's own ``zuul.admin`` claim names ``tenant`` (or ``*``)."""
    zuul = claims.get("zuul")
    admin = zuul.get("admin") if isinstance(zuul, Mapping) else None
    return admin == "*" or (isinstance(admin, list) and (tenant in admin or "*" in admin))


def _first_match(
    auth: TenantAuth,
    names: list[str],
    claims: Mapping[str, Any],
    tenant: str | None,
    uid: str | None,
) -> str | None:
    for name in names:
        if rule_matches(auth.rules.get(name, []), claims, tenant, uid):
            return name
    return None


def authorize(
    auth: TenantAuth | None, tenant: str, claims: Mapping[str, Any], uid: str | None = None
) -> Authorization:
    """What ``claims`` (a verified token's) may do on ``tenant``."""
    auth = auth or TenantAuth()
    if admin_override(claims, tenant):
        return Authorization(True, True, "zuul.admin", "zuul.admin")
    admin_by = _first_match(auth, auth.admin_rules, claims, tenant, uid)
    if admin_by is not None:
        return Authorization(True, True, admin_by, admin_by)
    if not auth.access_rules:
        return Authorization(True, False)
    access_by = _first_match(auth, auth.access_rules, claims, tenant, uid)
    return Authorization(access_by is not None, False, None, access_by)


def authorize_root(
    auth: TenantAuth | None, claims: Mapping[str, Any], uid: str | None = None
) -> Authorization:
    """What ``claims`` may do on the service's global endpoints: read them
    by an api-root access-rule; both read and act with ``zuul.admin: "*"``."""
    auth = auth or TenantAuth()
    zuul = claims.get("zuul")
    admin = zuul.get("admin") if isinstance(zuul, Mapping) else None
    if admin == "*" or (isinstance(admin, list) and "*" in admin):
        return Authorization(True, True, "zuul.admin", "zuul.admin")
    if not auth.api_root_access_rules:
        return Authorization(True, False)
    access_by = _first_match(auth, auth.api_root_access_rules, claims, None, uid)
    return Authorization(access_by is not None, False, None, access_by)
