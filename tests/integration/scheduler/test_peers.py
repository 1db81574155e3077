"""A scheduler joining running peers: it adopts the layout they published
when it was built from the same sources (so they need not load every tenant
again), and publishes its own when the sources changed meanwhile."""

from __future__ import annotations

from lockgate.drivers.registry import make_connections
from lockgate.git import RepoCache
from lockgate.scheduler.tenants import TenantLoader, TenantRegistry
from lockgate.zk.tenants import load_layout

from tests.integration.scheduler.harness import APP, Site


def registry(site: Site, name: str) -> TenantRegistry:
    config = site.service_config(name)
    loader = TenantLoader(make_connections(config), RepoCache(site.root / f"cache-{name}"))
    return TenantRegistry(str(site.root / "main.yaml"), loader, site.client)


def test_a_joining_scheduler_adopts_an_identical_layout(site: Site) -> None:
    first = registry(site, "first")
    first.load_all()
    published = load_layout(site.client, "demo")
    assert published is not None and first.get("demo").uuid == published.uuid

    second = registry(site, "second")
    second.load_all()
    assert second.get("demo").uuid == published.uuid  # adopted...
    assert load_layout(site.client, "demo").uuid == published.uuid  # ...nothing published

    # A configuration changed since the peer loaded: the newcomer's own goes out.
    site.push("org/app", {".zuul.yaml": APP + "- job:\n    name: extra\n"})
    third = registry(site, "third")
    third.load_all()
    newer = load_layout(site.client, "demo")
    assert newer is not None and newer.uuid != published.uuid
    assert third.get("demo").uuid == newer.uuid
