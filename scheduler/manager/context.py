"""The working set of one ``decide`` call: the snapshot, the decision being
built, and small helpers to record changes, actions and log lines.

Used by every module of the decision core (``items``, ``jobs``,
``garbage`` and the managers); it does no I/O.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from lockgate.model.nodes import NodeRequest
from lockgate.model.queue import PipelineState, QueueItem
from lockgate.scheduler.manager.actions import Action, Decision, Log
from lockgate.scheduler.manager.snapshot import PipelineSnapshot


class Context:
    def __init__(self, snap: PipelineSnapshot) -> None:
        self.snap = snap
        self.now = snap.now
        self.decision = Decision(state=snap.state, items=snap.items)
        # Indexes a manager builds once per decision.
        self.scratch: dict[str, Any] = {}
        # Node requests of live buildsets not referenced by their job (yet):
        # buildset uuid -> job name -> requests, oldest first.  A request
        # submitted right before a crash is found here and adopted.
        self.unclaimed: dict[str, dict[str, list[NodeRequest]]] = defaultdict(
            lambda: defaultdict(list)
        )
        claimed: set[str] = set()
        for item in snap.items.values():
            for js in item.jobs:
                if js.node_request_id:
                    claimed.add(js.node_request_id)
                claimed.update(js.released_node_requests)
        for req_id in sorted(snap.node_requests):
            req = snap.node_requests[req_id]
            if req_id not in claimed:
                self.unclaimed[req.buildset_uuid][req.job_name].append(req)

    @property
    def state(self) -> PipelineState:
        return self.snap.state

    @property
    def items(self) -> dict[str, QueueItem]:
        return self.snap.items

    def emit(self, action: Action) -> None:
        self.decision.actions.append(action)

    def changed(self, item: QueueItem) -> None:
        self.decision.changed.add(item.uuid)

    def state_changed(self) -> None:
        self.decision.state_changed = True

    def log(
        self,
        level: int,
        message: str,
        item: QueueItem | None = None,
        event_id: str | None = None,
        **tags: str | None,
    ) -> None:
        if item is not None:
            event_id = event_id or item.event_id
            tags = {"item": item.uuid[:12], **tags}
        pairs = tuple((k, v) for k, v in tags.items() if v)
        self.emit(Log(level, message, event_id, pairs))

    def info(self, message: str, item: QueueItem | None = None, **tags: str | None) -> None:
        self.log(logging.INFO, message, item, **tags)

    def debug(self, message: str, item: QueueItem | None = None, **tags: str | None) -> None:
        self.log(logging.DEBUG, message, item, **tags)

    def warning(self, message: str, item: QueueItem | None = None, **tags: str | None) -> None:
        self.log(logging.WARNING, message, item, **tags)
