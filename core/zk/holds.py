"""Autohold requests in ZooKeeper, and holding a failing build's nodes.

Who calls it: the web (``HoldRequestStore.create``/``list``/``get``/
``delete``: the admin endpoints), the executor (``hold_build_nodes``, as a
build that failed gives its nodes back), the launcher (``ids``: a held node
whose request is gone is deleted; ``watch`` wakes it when one goes).

Records are ``lockgate.model.holds.HoldRequest`` at
``paths.hold_request(id)``, ids ZooKeeper sequence numbers.  Counting a
hold takes the request's lock and a versioned write, so two executors
finishing matching builds at once never exceed ``max_count``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from lockgate.model.builds import BuildResult
from lockgate.model.holds import HoldRequest, select_hold
from lockgate.model.nodes import Node, NodeState
from lockgate.zk import paths
from lockgate.zk.errors import RecordConflict, RecordNotFound, ZKError, translate_kazoo_errors
from lockgate.zk.requests import LockableStore, NodeStore

log = logging.getLogger("lockgate.zk.holds")

LOCK_TIMEOUT = 10.0


@translate_kazoo_errors
class HoldRequestStore(LockableStore[HoldRequest]):
    """Autohold requests at ``paths.hold_requests()``."""

    cls = HoldRequest

    def _folder(self) -> str:
        return paths.hold_requests()

    def _path(self, record_id: str) -> str:
        return paths.hold_request(record_id)

    def _lock_path(self, record_id: str) -> str:
        return paths.hold_request_lock(record_id)

    def create(self, request: HoldRequest) -> str:
        """Store a new request; set and return its id."""
        request.id = self._create_sequential(self._encode(request))
        return request.id

    def for_tenant(self, tenant: str) -> list[HoldRequest]:
        return [v.record for v in self.list() if v.record.tenant == tenant]


def hold_build_nodes(
    client: Any,
    *,
    tenant: str,
    projects: Sequence[str],
    job: str,
    ref: str,
    result: BuildResult,
    build: str,
    nodes: Sequence[Node],
    log_: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
    now: float | None = None,
) -> HoldRequest | None:
    """If an autohold request matches this finished build, count the hold
    in it and set the build's ``nodes`` HOLD (the caller holds their locks
    and must not set them USED).  Returns the request, or None.

    A request used up by a peer meanwhile is passed over; ZooKeeper trouble
    is logged and the nodes go back as usual (a missed hold is better than
    a build whose result is never written)."""
    out = log_ or log
    if not nodes:
        return None
    holds = HoldRequestStore(client)
    node_store = NodeStore(client)
    try:
        candidate = select_hold(
            [v.record for v in holds.list()],
            tenant=tenant,
            projects=projects,
            job=job,
            ref=ref,
            result=result,
        )
        if candidate is None:
            return None
        lock = holds.lock(candidate.id, blocking=True, timeout=LOCK_TIMEOUT)
        if lock is None:
            out.warning("autohold %s: its lock is busy; nodes not held", candidate.id)
            return None
        try:
            current = holds.get(candidate.id)
            if current is None or current.record.used_up:
                return None
            request = current.record
            moment = time.time() if now is None else now
            request.record_hold(build, [n.id for n in nodes], moment)
            holds.update(request, current.version)
        finally:
            lock.release()
        for node in nodes:
            _hold_node(node_store, node.id, request, moment)
    except (ZKError, RecordConflict, RecordNotFound) as e:
        out.warning("autohold: could not hold the build's nodes: %s", e)
        return None
    out.info(
        "autohold %s (%s): nodes %s held%s",
        request.id,
        request.reason,
        ", ".join(n.id for n in nodes),
        f" for {request.node_expiration} s" if request.node_expiration else "",
    )
    return request


def _hold_node(store: NodeStore, node_id: str, request: HoldRequest, now: float) -> None:
    for _ in range(5):
        found = store.get(node_id)
        if found is None:
            return
        node = found.record
        node.state = NodeState.HOLD
        node.hold_request = request.id
        node.hold_tenant = request.tenant
        node.hold_job = request.hold_job()
        node.comment = request.reason
        node.held_at = now
        node.hold_expiration = request.node_expiration or None
        try:
            store.update(node, found.version)
            return
        except RecordConflict:
            continue
