"""The tenant layouts the web builds, for the jobs, projects and freeze-job endpoints.

The scheduler publishes what each layout was built from
(``lockgate.zk.layout_sources``: the tenant config's text, the branches,
each project-branch's configuration files) before it publishes the layout's
identity (``TenantLayoutState.uuid``).  ``LayoutCache.get(state)`` builds the
same ``lockgate.config.layout.Layout`` with the configuration loader — once
per layout uuid and tenant, in a worker thread, one build at a time per
tenant — and keeps it until the scheduler publishes another.  The web never
reads git.

Who calls it: ``lockgate.web.api_config`` (through ``WebContext.layouts``).
Nothing here runs until a configuration endpoint is asked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from lockgate.config.loader import load_tenant
from lockgate.config.tenant import TenantProject, parse_tenant_config
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web.cluster import ClusterView
from lockgate.web.errors import ApiError
from lockgate.zk.layout_sources import LayoutSources

log = logging.getLogger("lockgate.web.layouts")


class LayoutUnavailable(ApiError):
    """The tenant's layout sources are not published (yet): 503 saying so."""

    def __init__(self, tenant: str, why: str) -> None:
        super().__init__(503, f"the configuration of tenant {tenant} is not available: {why}")


def build_layout(sources: LayoutSources, files: Mapping[tuple[str, str], Mapping[str, str]]) -> Any:
    """The tenant's ``Layout`` from its published sources (blocking, CPU)."""
    config = parse_tenant_config(sources.tenant_config, sources.tenant_config_path)
    spec = config.tenants.get(sources.tenant)
    if spec is None:
        raise LayoutUnavailable(sources.tenant, "the published tenant config does not define it")

    def read_files(project: TenantProject, branch: str) -> Mapping[str, str] | None:
        return files.get((project.name, branch))

    def branches(project: TenantProject) -> list[str]:
        return list(sources.branches.get(project.name, ()))

    return load_tenant(spec, read_files, branches, sources.connections)


class LayoutCache:
    """Built layouts by tenant, each with the layout uuid it was built for."""

    def __init__(self, cluster: ClusterView) -> None:
        self.cluster = cluster
        self._built: dict[str, tuple[str, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.builds = 0  # how many layouts were built (for tests and logs)

    async def get(self, state: TenantLayoutState) -> Any:
        tenant = state.tenant
        hit = self._built.get(tenant)
        if hit is not None and hit[0] == state.uuid:
            return hit[1]
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            hit = self._built.get(tenant)
            if hit is not None and hit[0] == state.uuid:
                return hit[1]
            found = await self.cluster.layout_sources(tenant)
            if found is None:
                raise LayoutUnavailable(tenant, "the scheduler has not published its sources")
            sources, files = found
            if sources.layout_uuid != state.uuid and hit is not None:
                # Sources of another layout than the one published (a peer is
                # publishing right now): keep serving the one built.
                return hit[1]
            loop = asyncio.get_running_loop()
            layout = await loop.run_in_executor(None, build_layout, sources, files)
            self.builds += 1
            log.info(
                "built tenant %s's layout %s (%d jobs, %d projects)",
                tenant,
                state.uuid[:12],
                len(layout.jobs),
                len(layout.project_configs),
            )
            self._built[tenant] = (sources.layout_uuid, layout)
            return layout
