"""What checking a tenant's configuration needs to know about the site.

A pipeline's triggers and reporters are keyed by connection, and each
connection's driver checks its sections; nodesets name labels, which the
launcher's providers offer.  Both live in the service config (the
``zuul.conf``-shaped file every component reads): ``[connection NAME]``
sections with a ``driver``, ``[provider NAME]`` sections with ``labels``.

Called by ``lockgate config check`` (with ``-c FILE``, or without one from
the tenant config's sources) and meant for the scheduler, which loads
tenants with the same service config (``load_tenant(..., labels=...)``).
Nothing here connects to anything: it only reads names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lockgate.config.tenant import TenantConfig
from lockgate.service_config import ServiceConfig

# The review-system drivers Lockgate has (``lockgate.drivers.registry``); a
# source connection named after one of them is taken to use it.
KNOWN_DRIVERS = ("gerrit", "git", "github", "timer")
# Zuul's reporter-only drivers: no tenant source names them, and sites
# usually call their one connection of each after the driver (OpenDev's
# pipelines report to ``smtp``).  Without a service config these names are
# taken as connections whose driver is not known.
REPORTER_ONLY_DRIVERS = ("elasticsearch", "mqtt", "smtp", "sql")

_LIST = re.compile(r"[,\s]+")
_HOST_LABELS = re.compile(r"(?:^|\s)labels=(\S+)")


def connection_drivers(config: ServiceConfig) -> dict[str, str]:
    """``{connection name: driver name}`` for every ``[connection NAME]``
    (``[connection "NAME"]`` names the same connection, as in zuul.conf)."""
    out: dict[str, str] = {}
    for raw_name, section in config.connections.items():
        name = raw_name.strip().strip("\"'")
        out[name] = section.get("driver") or ""
    return out


def source_connections(tenant_config: TenantConfig) -> dict[str, str]:
    """Without a service config: the connections the tenant config's sources
    name (every tenant's), each with the driver of the same name if there is
    one, and Zuul's reporter-only drivers by their names; an unknown driver
    ("") means only the connection's name is known, so its sections are
    accepted as any mapping."""
    out: dict[str, str] = {name: "" for name in REPORTER_ONLY_DRIVERS}
    for tenant in tenant_config.tenants.values():
        for source in tenant.sources:
            name = source.connection
            out.setdefault(name, name if name in KNOWN_DRIVERS else "")
    return out


def provider_labels(config: ServiceConfig) -> frozenset[str] | None:
    """The labels the launcher's ``[provider NAME]`` sections offer: each
    section's ``labels``, and the ``labels=`` of a static provider's
    ``nodes`` lines (as ``lockgate.launcher.providers`` reads them).  None
    when the file has no provider (labels are then not checked)."""
    providers = config.named("provider")
    if not providers:
        return None
    labels: set[str] = set()
    for section in providers.values():
        labels.update(_split(section.get("labels") or ""))
        for match in _HOST_LABELS.finditer(section.get("nodes") or ""):
            labels.update(_split(match.group(1)))
    return frozenset(labels)


def _split(raw: str) -> Iterable[str]:
    return [item for item in _LIST.split(raw) if item]
