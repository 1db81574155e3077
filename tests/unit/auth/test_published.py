"""What the scheduler publishes for the web to decide reads: each tenant's
access-rules and the tenant config's api-root, in the tenant's ``auth``."""

from __future__ import annotations

from pathlib import Path

from lockgate.auth.rules import TenantAuth
from lockgate.git import RepoCache
from lockgate.scheduler.tenants import TenantLoader, TenantRegistry

MAIN = """
- authorization-rule:
    name: staff
    conditions:
      - groups: staff
- authorization-rule:
    name: readers
    conditions:
      - groups: "{tenant.name}-readers"
- api-root:
    authentication-realm: sso
    access-rules: staff
- tenant:
    name: demo
    access-rules: [readers]
    source: {}
- tenant:
    name: open
    source: {}
"""


def test_each_tenant_carries_its_access_rules_and_the_api_root(tmp_path: Path) -> None:
    main = tmp_path / "main.yaml"
    main.write_text(MAIN)
    registry = TenantRegistry(str(main), TenantLoader({}, RepoCache(tmp_path / "cache")))
    registry.load_all()
    demo = TenantAuth.from_dict(registry.tenants["demo"].state.auth)
    assert demo.read_protected and demo.access_rules == ["readers"]
    assert demo.rules["readers"] == [{"groups": "{tenant.name}-readers"}]
    opened = TenantAuth.from_dict(registry.tenants["open"].state.auth)
    assert not opened.read_protected
    for auth in (demo, opened):
        assert auth.api_root_realm == "sso"
        assert auth.api_root_access_rules == ["staff"]
        assert auth.rules["staff"] == [{"groups": "staff"}]
