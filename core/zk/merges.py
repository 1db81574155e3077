"""Merge requests in ZooKeeper: submitted by the scheduler, claimed by mergers.

Who calls it: the scheduler ``submit``s a ``MergeRequest``, ``watch``es the
tenant's result queue for ``merge-completed``, reads the result with ``get``
and ``delete``s the request; mergers (the executor's merge thread,
``lockgate merger``) find ``claimable`` requests, ``lock`` one (non-blocking:
if another merger has it, move on), ``update`` it RUNNING and then COMPLETED
with its result.  See ``lockgate.model.merges`` for the contract.

The lock is ephemeral, so a merger that dies drops its claim; unlike build
requests (which the scheduler re-submits, counting a retry) a RUNNING merge
request without a lock is simply served again by the next merger -- a merge
is deterministic and idempotent.  ``watch_lock`` lets a merger wake up the
moment such a claim vanishes instead of at its next rescan.

Paths: ``paths.merge_request(uuid)`` and its lock ``paths.merge_request_lock``
(a sibling tree, so listing requests never shows locks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kazoo.recipe.watchers import ChildrenWatch
from lockgate.model.merges import MergeRequest, MergeState
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import translate_kazoo_errors
from lockgate.zk.records import Versioned
from lockgate.zk.requests import LockableStore

log = logging.getLogger("lockgate.zk.merges")


@translate_kazoo_errors
class MergeRequestStore(LockableStore[MergeRequest]):
    """Merge requests at ``paths.merge_requests()``, keyed by the uuid the
    scheduler gives each."""

    cls = MergeRequest
    id_field = "uuid"

    def __init__(self, client: ZKClient) -> None:
        super().__init__(client)

    def _folder(self) -> str:
        return paths.merge_requests()

    def _path(self, record_id: str) -> str:
        return paths.merge_request(record_id)

    def _lock_path(self, record_id: str) -> str:
        return paths.merge_request_lock(record_id)

    def submit(self, request: MergeRequest) -> str:
        """Store a new request under its uuid (:class:`RecordConflict` if that
        uuid exists)."""
        self.records.create(self._path(request.uuid), self._encode(request))
        return request.uuid

    def by_state(self, *states: MergeState) -> list[Versioned[MergeRequest]]:
        """Requests in any of ``states`` (all if none given), oldest first."""
        found = [v for v in self.list() if not states or v.record.state in states]
        return sorted(found, key=lambda v: v.record.created)

    def orphaned(self) -> list[Versioned[MergeRequest]]:
        """RUNNING requests nobody holds a lock on: their merger died."""
        return [v for v in self.by_state(MergeState.RUNNING) if not self.is_locked(v.record.uuid)]

    def claimable(self) -> list[Versioned[MergeRequest]]:
        """What a merger may take, oldest first: REQUESTED ones, and RUNNING
        ones whose merger died.  (A lock still decides who serves it.)"""
        return [
            v
            for v in self.by_state(MergeState.REQUESTED, MergeState.RUNNING)
            if v.record.state is MergeState.REQUESTED or not self.is_locked(v.record.uuid)
        ]

    def watch_lock(self, record_id: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` once nobody holds the request's lock any more
        (released, or its holder's session ended).  Runs on a kazoo thread:
        keep it short.  Returns a function that stops the watch."""
        stopped = [False]

        def on_children(children: list[str]) -> bool | None:
            if stopped[0]:
                return False
            if any(paths.LOCK_CHILD_MARK in child for child in children):
                return None
            try:
                callback()
            except Exception:
                log.exception("lock watch callback on %s failed", record_id)
            return False

        ChildrenWatch(self.client.kazoo, self._lock_path(record_id), on_children)

        def stop() -> None:
            stopped[0] = True

        return stop
