"""An admin's hand on nodes and node requests: read, decide, write back.

Who calls it: the web's admin endpoints (``lockgate.web.api_admin``:
``node-set-state`` and ``nodeset-request-delete``), off its event loop.
The rules are ``lockgate.model.node_admin``; this module finds the records,
checks they belong to the tenant asking (another tenant's node or request
is "not found", as tenants do not see each other), and writes with a
versioned write, again on a conflict (an executor or launcher writing the
same record meanwhile), so nothing anyone else wrote is lost.

What comes next: the launcher's watch on node records wakes it (a USED node
is deleted, a held one kept); a cancelled request's ``nodes-provisioned``
result event wakes the scheduler, which ends the waiting job.
"""

from __future__ import annotations

import logging
import time

from lockgate.model.events import ResultEvent, ResultKind
from lockgate.model.node_admin import (
    AdminNodeState,
    cancel_request,
    set_node_state,
)
from lockgate.model.nodes import Node, NodeRequest
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import RecordConflict, RecordNotFound, ZKError
from lockgate.zk.queues import result_queue
from lockgate.zk.requests import NodeRequestStore, NodeStore

log = logging.getLogger("lockgate.zk.node_admin")

ATTEMPTS = 10


class NotFound(Exception):
    """No such node or request in the tenant; ``str()`` says which."""


def node_tenant(node: Node, requests: NodeRequestStore) -> tuple[str | None, NodeRequest | None]:
    """The tenant a node belongs to (its hold's, else its request's) and its
    request, if it still exists."""
    found = requests.get(node.allocated_to) if node.allocated_to else None
    request = found.record if found is not None else None
    if node.hold_tenant:
        return node.hold_tenant, request
    return (request.tenant if request is not None else None), request


def admin_set_node_state(
    client: ZKClient,
    tenant: str,
    node_id: str,
    wanted: AdminNodeState,
    *,
    by: str,
    now: float | None = None,
) -> Node:
    """Set node ``node_id`` of ``tenant`` to ``wanted``; the node as written.
    ``NotFound``, ``lockgate.model.node_admin.AdminRefused``."""
    nodes, requests = NodeStore(client), NodeRequestStore(client)
    for _ in range(ATTEMPTS):
        found = nodes.get(node_id)
        if found is None:
            raise NotFound(f"Node {node_id} not found in tenant {tenant}")
        owner, request = node_tenant(found.record, requests)
        if owner != tenant:
            raise NotFound(f"Node {node_id} not found in tenant {tenant}")
        new = set_node_state(
            found.record,
            wanted,
            tenant=tenant,
            by=by,
            now=time.time() if now is None else now,
            job=request.job_name if request is not None else None,
        )
        try:
            nodes.update(new, found.version)
        except RecordConflict:
            continue  # an executor or launcher wrote it meanwhile: decide again
        except RecordNotFound:
            raise NotFound(f"Node {node_id} not found in tenant {tenant}") from None
        log.info("node %s of tenant %s set %s by %s", node_id, tenant, wanted.value, by)
        return new
    raise ZKError(f"node {node_id} kept changing; try again")


def admin_cancel_node_request(
    client: ZKClient, tenant: str, request_id: str, *, by: str
) -> NodeRequest:
    """Cancel pending node request ``request_id`` of ``tenant`` (FAILED, with
    who did it) and tell the scheduler; the request as written.
    ``NotFound``, ``lockgate.model.node_admin.AdminRefused``."""
    requests = NodeRequestStore(client)
    for _ in range(ATTEMPTS):
        found = requests.get(request_id)
        if found is None or found.record.tenant != tenant:
            raise NotFound(f"Nodeset request {request_id} not found in tenant {tenant}")
        cancelled = cancel_request(found.record, by=by)
        try:
            requests.update(cancelled, found.version)
        except RecordConflict:
            continue  # a launcher took it meanwhile: decide again on what it wrote
        except RecordNotFound:
            raise NotFound(f"Nodeset request {request_id} not found in tenant {tenant}") from None
        break
    else:
        raise ZKError(f"nodeset request {request_id} kept changing; try again")
    event = ResultEvent(
        kind=ResultKind.NODES_PROVISIONED,
        tenant=cancelled.tenant,
        pipeline=cancelled.pipeline,
        buildset_uuid=cancelled.buildset_uuid,
        request_id=cancelled.id,
        result=cancelled.state,
        event_id=cancelled.event_id,
    )
    # The launchers' key: their re-announcement after a restart is dropped.
    result_queue(client, tenant).put(
        event.to_dict(), dedup_key=f"nodes-provisioned-{cancelled.id}-{cancelled.created}"
    )
    log.info(
        "[e: %s] nodeset request %s of tenant %s (job %s) cancelled by %s",
        cancelled.event_id,
        request_id,
        tenant,
        cancelled.job_name,
        by,
    )
    return cancelled
