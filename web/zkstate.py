"""The web's reads of ZooKeeper, through ``lockgate.zk`` (blocking; run by ``ClusterView``).

``ZKClusterState`` implements ``lockgate.web.cluster.ClusterState`` on a
``ZKClient``: tenant layouts are ``TenantLayoutState`` records at
``paths.tenant_layout(tenant)``; pipeline queues and items are the
scheduler's records (``lockgate.zk.pipelines``), turned into Zuul's status
shape by ``lockgate.model.queue.status_json``; the event queue lengths come
from the tenant's queues.  No ZooKeeper call happens outside the worker threads of
``ClusterView``.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from lockgate.model.event_state import TenantEventState
from lockgate.model.nodes import Node, NodeRequest
from lockgate.model.queue import status_json
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web.cluster import ClusterUnavailable
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.components import ComponentInfo, list_components
from lockgate.zk.errors import ZKError
from lockgate.zk.event_state import load_event_state
from lockgate.zk.layout_sources import LayoutSources, load_sources
from lockgate.zk.pipeline_reader import PipelineReader, PipelineSnapshot
from lockgate.zk.pipelines import read_pipelines
from lockgate.zk.queues import EventQueue
from lockgate.zk.requests import NodeRequestStore, NodeStore
from lockgate.zk.semaphores import read_holders
from lockgate.zk.streams import StreamLocation, find_stream
from lockgate.zk.tenants import load_layout, tenant_names

log = logging.getLogger("lockgate.web.zk")

F = TypeVar("F", bound=Callable[..., Any])


def _guarded(fn: F) -> F:
    """Fail fast with ``ClusterUnavailable`` while disconnected (rather than
    waiting out kazoo's retry deadline on every request), and turn ZooKeeper
    errors into it (``lockgate.zk`` raises only ``ZKError``s: it translates
    kazoo's own)."""

    @functools.wraps(fn)
    def wrapper(self: ZKClusterState, *args: Any) -> Any:
        if not self.client.connected:
            raise ClusterUnavailable(f"ZooKeeper at {self.client.hosts} is not connected")
        try:
            return fn(self, *args)
        except ZKError as e:
            raise ClusterUnavailable(f"ZooKeeper: {e}") from None

    return wrapper  # type: ignore[return-value]


class ZKClusterState:
    def __init__(self, client: ZKClient) -> None:
        self.client = client
        self._readers: dict[str, PipelineReader] = {}
        self._readers_lock = threading.Lock()

    def connected(self) -> bool:
        return self.client.connected

    @_guarded
    def tenant_names(self) -> list[str]:
        return tenant_names(self.client)

    @_guarded
    def tenant_layout(self, tenant: str) -> TenantLayoutState | None:
        return load_layout(self.client, tenant)

    @_guarded
    def pipeline_status(self, layout: TenantLayoutState) -> list[dict[str, Any]]:
        """Zuul's status ``pipelines``: every pipeline of the layout with the
        queues and items the scheduler keeps in ZooKeeper."""
        pipelines = read_pipelines(self.client, layout.tenant)
        return list(status_json(layout, pipelines)["pipelines"])

    @_guarded
    def event_queue_lengths(self, tenant: str) -> dict[str, int]:
        lengths = {}
        for kind, path in (
            ("trigger", paths.trigger_queue(tenant)),
            ("management", paths.management_queue(tenant)),
            ("result", paths.result_queue(tenant)),
        ):
            try:
                lengths[kind] = len(EventQueue(self.client, path))
            except ZKError as e:
                log.warning("cannot read the length of %s: %s", path, e)
        return lengths

    @_guarded
    def console_stream(self, uuid: str) -> StreamLocation | None:
        return find_stream(self.client, uuid)

    @_guarded
    def layout_sources(
        self, tenant: str
    ) -> tuple[LayoutSources, dict[tuple[str, str], dict[str, str]]] | None:
        return load_sources(self.client, tenant)

    @_guarded
    def pipeline_snapshot(self, tenant: str) -> PipelineSnapshot:
        """One reader per tenant, kept: it decodes only records that changed
        since its last read (one read at a time per tenant)."""
        with self._readers_lock:
            reader = self._readers.get(tenant)
            if reader is None:
                reader = self._readers[tenant] = PipelineReader(self.client, tenant)
        with reader.lock:
            return reader.read()

    @_guarded
    def components(self) -> list[ComponentInfo]:
        return list_components(self.client)

    @_guarded
    def nodes(self) -> list[Node]:
        return [v.record for v in NodeStore(self.client).list()]

    @_guarded
    def node_requests(self) -> list[NodeRequest]:
        return [v.record for v in NodeRequestStore(self.client).list()]

    @_guarded
    def tenant_event_state(self, tenant: str) -> TenantEventState:
        return load_event_state(self.client, tenant)

    @_guarded
    def semaphore_holders(self, tenant: str) -> dict[str, list[str]]:
        return read_holders(self.client, tenant)
