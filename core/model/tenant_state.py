"""What a scheduler publishes about a tenant's loaded layout.

The scheduler writes one ``TenantLayoutState`` per tenant (ZooKeeper path
``lockgate.zk.paths.tenant_layout``) each time it (re)loads the tenant; the
web serves ``/api/tenants`` and ``/api/tenant/{t}/config-errors`` from it, and
other schedulers compare ``uuid`` to know when to reload.
"""

from __future__ import annotations

import time
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.serial import from_dict, to_dict


@dataclass
class TenantLayoutState:
    tenant: str
    uuid: str = field(default_factory=lambda: uuidlib.uuid4().hex)
    loaded_at: float = field(default_factory=time.time)
    # ConfigError.to_api() dicts, in the shape of Zuul's config-errors API.
    config_errors: list[dict[str, Any]] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    pipelines: list[str] = field(default_factory=list)
    # Per-pipeline summary the status API needs before any item is enqueued.
    pipeline_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Who may act on the tenant (``lockgate.auth.rules.TenantAuth`` as a
    # dict): its authentication realm, admin and access rules and their
    # conditions, for the web to authorize admin actions.
    auth: dict[str, Any] = field(default_factory=dict)
    # project -> its connection (the web finds a project's keys with it).
    project_connections: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TenantLayoutState:
        return from_dict(cls, data)
