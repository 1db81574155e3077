"""Node requests and nodes: the contract between scheduler, launcher and executor.

Life of a request: the scheduler submits a ``NodeRequest`` (state REQUESTED);
a launcher locks it, provisions one node per label, records their ids and
sets FULFILLED (or FAILED) and puts a ``nodes-provisioned`` result event.
The nodes are then allocated to the request (``Node.allocated_to``) and in
state READY.  The executor that runs the build locks each node for the
duration of the build (state IN_USE) and sets USED when done; the launcher
deletes USED nodes and nodes whose request no longer exists.

Autohold (``lockgate.model.holds``): the executor of a failing build that an
autohold request matches sets its nodes HOLD instead of USED, with the
request's id, reason and expiry; the launcher keeps a HOLD node until its
request is deleted or ``hold_expiration`` seconds have passed since
``held_at``, then deletes it.

SSH access: nodes authorize the executor's public key (``[executor]
private_key_file`` / its ``.pub``), as in Zuul and Nodepool; no key material is
stored in ZooKeeper.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.serial import from_dict, to_dict


class NodeRequestState(str, enum.Enum):
    REQUESTED = "requested"
    FULFILLED = "fulfilled"
    FAILED = "failed"


class NodeState(str, enum.Enum):
    BUILDING = "building"
    READY = "ready"
    IN_USE = "in-use"
    USED = "used"
    DELETING = "deleting"
    FAILED = "failed"
    HOLD = "hold"  # kept for a person to look at (autohold)


@dataclass
class NodeRequest:
    labels: list[str]
    tenant: str
    pipeline: str
    buildset_uuid: str
    job_name: str
    event_id: str
    id: str = ""  # assigned by the ZooKeeper layer (sequence number)
    state: NodeRequestState = NodeRequestState.REQUESTED
    node_ids: list[str] = field(default_factory=list)
    provider: str | None = None
    failure_reason: str | None = None
    created: float = field(default_factory=time.time)
    # The executor zone of the nodes (Zuul's ``executor-zone`` node
    # attribute; the provider's ``executor-zone`` key), written by the
    # launcher with them: the scheduler puts the build request in that
    # zone's folder (``lockgate.scheduler.manager.zones``).  None: unzoned.
    executor_zone: str | None = None

    def __post_init__(self) -> None:
        self.state = NodeRequestState(self.state)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeRequest:
        return from_dict(cls, data)


@dataclass
class Node:
    label: str
    provider: str
    id: str = ""  # assigned by the ZooKeeper layer
    state: NodeState = NodeState.BUILDING
    # How the executor reaches the node.
    connection_type: str = "ssh"
    interface_ip: str = ""
    connection_port: int = 22
    username: str = "root"
    host_keys: list[str] = field(default_factory=list)
    python_path: str = "/usr/bin/python3"
    allocated_to: str | None = None  # NodeRequest id
    # Provider-private bookkeeping (namespace name, sandbox pid, ...).
    provider_data: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    # Autohold: the hold request keeping the node, what it was for (Zuul's
    # ``hold_job``), its reason (Zuul's ``comment``), when it was held and
    # for how many seconds (0 or None: until the request is deleted).
    hold_request: str | None = None
    # The tenant of the hold (the node's request is gone once the build ends).
    hold_tenant: str | None = None
    hold_job: str | None = None
    comment: str | None = None
    held_at: float | None = None
    hold_expiration: int | None = None

    def __post_init__(self) -> None:
        self.state = NodeState(self.state)

    def to_api(self) -> dict[str, Any]:
        """Zuul's node JSON (``/api/tenant/{t}/nodes``), with the hold: its
        reason (``comment``), what it was for (``hold_job``), for how long
        (``hold_expiration``, seconds) and until when (``hold_until``)."""
        return {
            "id": self.id,
            "type": [self.label],
            "label": self.label,
            "connection_type": self.connection_type,
            "external_id": self.provider_data.get("external_id"),
            "provider": self.provider,
            "state": self.state.value,
            "state_time": self.held_at if self.state is NodeState.HOLD else self.created,
            "comment": self.comment,
            "hold_job": self.hold_job,
            "hold_expiration": self.hold_expiration,
            "hold_until": self.hold_expires_at(),
        }

    def hold_expires_at(self) -> float | None:
        """When a held node's hold runs out (None: never, or not held)."""
        if self.state is not NodeState.HOLD or not self.hold_expiration or self.held_at is None:
            return None
        return self.held_at + self.hold_expiration

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Node:
        return from_dict(cls, data)
