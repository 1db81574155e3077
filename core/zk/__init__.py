"""Lockgate's ZooKeeper layer: the only code that imports kazoo and the only
code that knows ZooKeeper paths (``doc/zookeeper.md`` is the tree).

Modules, each with one job:

- ``paths``      -- one function per path; the only ``/lockgate`` literal;
- ``client``     -- ``ZKClient``: the session, reconnection, session-loss callbacks;
- ``records``    -- versioned JSON records (compressed, sharded, optimistic writes);
- ``queues``     -- ``EventQueue``: trigger, management and result queues;
- ``requests``   -- node requests, build requests and nodes, claimed by locks;
- ``holds``      -- autohold requests, and holding a failing build's nodes;
- ``locks``      -- ``SessionAwareLock`` and the tenant/pipeline locks;
- ``components`` -- the registry of live processes;
- ``state``      -- ``JsonState``: persistent objects such as pipeline state;
- ``semaphores`` -- Zuul's semaphores (holders per tenant semaphore);
- ``tenants``    -- which tenants exist and their published layouts;
- ``server``/``certs`` -- running a ZooKeeper (``lockgate up``, tests).

The names below are the public surface; import them from ``lockgate.zk``.
"""

from lockgate.zk.client import ZKClient, client_from_config
from lockgate.zk.components import Component, ComponentInfo, list_components, register
from lockgate.zk.errors import (
    LockLost,
    LockTimeout,
    RecordConflict,
    RecordNotFound,
    RecordTooLarge,
    SchemaTooNew,
    ZKConnectionError,
    ZKError,
)
from lockgate.zk.holds import HoldRequestStore
from lockgate.zk.locks import SessionAwareLock, locked, pipeline_lock, tenant_lock
from lockgate.zk.queues import EventQueue, management_queue, result_queue, trigger_queue
from lockgate.zk.records import Loaded, RecordStore, Versioned
from lockgate.zk.requests import BuildRequestStore, NodeRequestStore, NodeStore
from lockgate.zk.semaphores import SemaphoreSlots
from lockgate.zk.state import JsonState, pipeline_state, tenant_layout

__all__ = [
    "BuildRequestStore",
    "Component",
    "ComponentInfo",
    "EventQueue",
    "HoldRequestStore",
    "JsonState",
    "Loaded",
    "LockLost",
    "LockTimeout",
    "NodeRequestStore",
    "NodeStore",
    "RecordConflict",
    "RecordNotFound",
    "RecordStore",
    "RecordTooLarge",
    "SchemaTooNew",
    "SemaphoreSlots",
    "SessionAwareLock",
    "Versioned",
    "ZKClient",
    "ZKConnectionError",
    "ZKError",
    "client_from_config",
    "list_components",
    "locked",
    "management_queue",
    "pipeline_lock",
    "pipeline_state",
    "register",
    "result_queue",
    "tenant_layout",
    "tenant_lock",
    "trigger_queue",
]
