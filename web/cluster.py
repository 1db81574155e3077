"""What the web knows about tenants and pipelines: read from ZooKeeper, served to asyncio.

This is the one place where the web's asyncio loop meets ZooKeeper (kazoo's
threads): every ZooKeeper read runs in this module's own thread pool, behind
the ``async`` methods of :class:`ClusterView`.  Handlers never block on
ZooKeeper themselves.

What is read (written by the scheduler):

- one ``TenantLayoutState`` per tenant at ``lockgate.zk.paths.tenant_layout``:
  the tenant list, its projects and pipelines, its configuration errors;
- the pipelines' queues, for ``/status`` (through ``pipeline_snapshot``, which
  the status cache asks when it decides to; ``pipeline_status`` reads and
  shapes them all at once).
- where a running build's console is served (``console_stream``, the
  executor's registration in ``lockgate.zk.streams``), for ``console-stream``.

Reads are cached for ``ttl`` seconds (Zuul's web caches status for one second
too), and callers that want a value while it is being read wait for that
read, so a busy dashboard costs ZooKeeper a few reads per second at most.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from lockgate.model.event_state import TenantEventState
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web.errors import unavailable
from lockgate.zk.streams import StreamLocation

log = logging.getLogger("lockgate.web.cluster")

T = TypeVar("T")


class ClusterUnavailable(Exception):
    """The shared state cannot be read now (ZooKeeper away); ``str()`` says why."""


class ClusterState(Protocol):
    """Blocking reads of the cluster's shared state (called on worker threads)."""

    def connected(self) -> bool: ...

    def tenant_names(self) -> list[str]: ...

    def tenant_layout(self, tenant: str) -> TenantLayoutState | None: ...

    def pipeline_status(self, layout: TenantLayoutState) -> list[dict[str, Any]]: ...

    def event_queue_lengths(self, tenant: str) -> dict[str, int]: ...

    def layout_sources(self, tenant: str) -> Any: ...

    def pipeline_snapshot(self, tenant: str) -> Any: ...

    def components(self) -> list[Any]: ...

    def nodes(self) -> list[Any]: ...

    def node_requests(self) -> list[Any]: ...

    def semaphore_holders(self, tenant: str) -> dict[str, list[str]]: ...

    def tenant_event_state(self, tenant: str) -> TenantEventState: ...

    def console_stream(self, uuid: str) -> StreamLocation | None: ...


class ClusterView:
    """The async, cached face of a ``ClusterState`` for request handlers."""

    def __init__(self, state: ClusterState, *, ttl: float = 1.0, workers: int = 4) -> None:
        self.state = state
        self.ttl = ttl
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="web-zk")
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        # Reads under way, shared by every caller that wants the same key
        # meanwhile: when a kept value expires under a hundred clients, one
        # read, not a hundred queued for the pool.
        self._reading: dict[tuple[str, str], asyncio.Future[Any]] = {}

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, *args)
        except ClusterUnavailable as e:
            raise unavailable(str(e)) from None

    async def _cached(self, key: tuple[str, str], fn: Callable[..., T], *args: Any) -> T:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        if self.ttl <= 0:  # nothing kept (tests): each caller reads for itself
            return await self._call(fn, *args)
        reading = self._reading.get(key)
        if reading is None or reading.get_loop() is not asyncio.get_running_loop():
            reading = asyncio.ensure_future(self._call(fn, *args))
            self._reading[key] = reading
            reading.add_done_callback(functools.partial(self._read, key))
        # A caller that goes away (its client did) leaves the read to the others.
        return await asyncio.shield(reading)

    def _read(self, key: tuple[str, str], reading: asyncio.Future[Any]) -> None:
        self._reading.pop(key, None)
        if not reading.cancelled() and reading.exception() is None:
            self._cache[key] = (time.monotonic(), reading.result())

    async def connected(self) -> bool:
        return await self._call(self.state.connected)

    async def tenant_names(self) -> list[str]:
        return sorted(await self._cached(("tenants", ""), self.state.tenant_names))

    async def tenant_layout(self, tenant: str) -> TenantLayoutState | None:
        return await self._cached(("layout", tenant), self.state.tenant_layout, tenant)

    async def pipeline_status(self, layout: TenantLayoutState) -> list[dict[str, Any]]:
        return await self._cached(("status", layout.tenant), self.state.pipeline_status, layout)

    async def event_queue_lengths(self, tenant: str) -> dict[str, int]:
        return await self._cached(("queues", tenant), self.state.event_queue_lengths, tenant)

    async def console_stream(self, uuid: str) -> StreamLocation | None:
        """Where build ``uuid``'s console is served (never cached: it moves
        as builds start and end)."""
        return await self._call(self.state.console_stream, uuid)

    async def layout_sources(self, tenant: str) -> Any:
        """What the tenant's layout was built from (``lockgate.zk.layout_sources``)."""
        return await self._call(self.state.layout_sources, tenant)

    async def pipeline_snapshot(self, tenant: str) -> Any:
        """The tenant's pipelines and a fingerprint of their records
        (``lockgate.zk.pipeline_reader``); never cached here: the status
        cache decides when to ask."""
        return await self._call(self.state.pipeline_snapshot, tenant)

    async def components(self) -> list[Any]:
        return await self._cached(("components", ""), self.state.components)

    async def nodes(self) -> list[Any]:
        return await self._cached(("nodes", ""), self.state.nodes)

    async def node_requests(self) -> list[Any]:
        return await self._cached(("node-requests", ""), self.state.node_requests)

    async def semaphore_holders(self, tenant: str) -> dict[str, list[str]]:
        return await self._cached(("semaphores", tenant), self.state.semaphore_holders, tenant)

    async def tenant_event_state(self, tenant: str) -> TenantEventState:
        """Whether the tenant's events are paused or discarded (``manage-events``)."""
        return await self._cached(("event-state", tenant), self.state.tenant_event_state, tenant)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
