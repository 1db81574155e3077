"""What every request handler shares: the database, the cluster view, settings.

``WebContext`` is stored on the aiohttp application (``CONTEXT`` key) by
``lockgate.web.app.make_app``; handlers fetch it with ``context(request)``.
Database calls block, so handlers go through ``db_call`` (the loop's default
thread executor); ZooKeeper reads go through ``cluster`` (its own pool).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from aiohttp import web
from lockgate.db import Database, DatabaseError
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web.cluster import ClusterView
from lockgate.web.errors import not_found, unavailable
from lockgate.web.layouts import LayoutCache
from lockgate.web.status_cache import StatusCache

T = TypeVar("T")


def lockgate_version() -> str:
    try:
        return importlib.metadata.version("lockgate")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "unknown"


@dataclass
class WebContext:
    db: Database
    cluster: ClusterView
    # Where executors keep build logs: <log_root>/<build uuid>/...
    log_root: str | None = None
    version: str = field(default_factory=lockgate_version)
    started: float = field(default_factory=time.time)
    # Seconds a health check waits for the database or ZooKeeper.
    health_timeout: float = 5.0
    _layouts: LayoutCache | None = field(default=None, repr=False)
    _status: StatusCache | None = field(default=None, repr=False)

    async def db_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking ``Database`` method off the loop; 503 if the database fails."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))
        except DatabaseError as e:
            raise unavailable(str(e)) from None
        except sa.exc.OperationalError as e:
            first = str(e.orig or e).strip().splitlines()
            raise unavailable(f"database unavailable: {first[0] if first else e}") from None

    async def configuration(self, tenant: str) -> tuple[TenantLayoutState, Any]:
        """The tenant's published layout state and the ``Layout`` built from
        its published sources (``lockgate.web.layouts``); 404 for an unknown
        tenant, 503 while its sources are not published."""
        state = await self.layout(tenant)
        if self._layouts is None:
            self._layouts = LayoutCache(self.cluster)
        return state, await self._layouts.get(state)

    @property
    def status(self) -> StatusCache:
        """The tenant status answers (``lockgate.web.status_cache``)."""
        if self._status is None:
            self._status = StatusCache(self.cluster, self.db, self.version, ttl=self.cluster.ttl)
        return self._status

    def close(self) -> None:
        """Stop background work (status checks under way)."""
        if self._status is not None:
            self._status.close()

    async def layout(self, tenant: str) -> TenantLayoutState:
        """The tenant's published layout, or 404 naming the unknown tenant."""
        layout = await self.cluster.tenant_layout(tenant)
        if layout is None:
            raise not_found(f"Unknown tenant: {tenant}")
        return layout


CONTEXT = web.AppKey("lockgate_context", WebContext)


def context(request: web.Request) -> WebContext:
    return request.app[CONTEXT]
