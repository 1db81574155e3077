"""Applying a decision: the one place that fixes the order of side effects.

``apply_decision(decision, effects)`` runs the BEFORE_SAVE actions (log
lines, SQL), then ``effects.save`` (the new state to ZooKeeper), then the
AFTER_SAVE actions (requests to ZooKeeper, item preparation).  Why this
order makes a killed scheduler safe to restart is in
``lockgate.scheduler.manager.actions`` and doc/scheduler.md.

``Effects`` is implemented twice: by the scheduler's loop against
ZooKeeper, git and SQL (``lockgate.scheduler.processor``), and by the
simulation in the tests, against dictionaries — both go through this
function, so the simulation checks the order the real loop uses.
"""

from __future__ import annotations

from typing import Protocol

from lockgate.scheduler.manager.actions import (
    AcquireSemaphore,
    Action,
    BuildChanged,
    BuildsetStarted,
    CancelBuildRequest,
    Decision,
    DeleteBuildRequest,
    DeleteMergeRequest,
    DeleteNodeRequest,
    ItemReported,
    ItemStarted,
    Log,
    LookupProvides,
    PrepareItem,
    ReleaseSemaphore,
    ResumeBuildRequest,
    SubmitBuildRequest,
    SubmitItem,
    SubmitMergeRequest,
    SubmitNodeRequest,
)


class Effects(Protocol):
    def log(self, action: Log) -> None: ...

    def buildset_started(self, action: BuildsetStarted) -> None: ...

    def build_changed(self, action: BuildChanged) -> None: ...

    def item_reported(self, action: ItemReported) -> None: ...

    def item_started(self, action: ItemStarted) -> None: ...

    def lookup_provides(self, action: LookupProvides) -> None: ...

    def resume_build_request(self, action: ResumeBuildRequest) -> None: ...

    def save(self, decision: Decision) -> None: ...

    def prepare_item(self, action: PrepareItem) -> None: ...

    def submit_merge_request(self, action: SubmitMergeRequest) -> None: ...

    def delete_merge_request(self, action: DeleteMergeRequest) -> None: ...

    def submit_item(self, action: SubmitItem) -> None: ...

    def submit_node_request(self, action: SubmitNodeRequest) -> None: ...

    def submit_build_request(self, action: SubmitBuildRequest) -> None: ...

    def cancel_build_request(self, action: CancelBuildRequest) -> None: ...

    def delete_build_request(self, action: DeleteBuildRequest) -> None: ...

    def delete_node_request(self, action: DeleteNodeRequest) -> None: ...

    def acquire_semaphore(self, action: AcquireSemaphore) -> None: ...

    def release_semaphore(self, action: ReleaseSemaphore) -> None: ...


_HANDLERS: dict[type[Action], str] = {
    Log: "log",
    BuildsetStarted: "buildset_started",
    BuildChanged: "build_changed",
    ItemReported: "item_reported",
    ItemStarted: "item_started",
    LookupProvides: "lookup_provides",
    ResumeBuildRequest: "resume_build_request",
    PrepareItem: "prepare_item",
    SubmitMergeRequest: "submit_merge_request",
    DeleteMergeRequest: "delete_merge_request",
    SubmitItem: "submit_item",
    SubmitNodeRequest: "submit_node_request",
    SubmitBuildRequest: "submit_build_request",
    CancelBuildRequest: "cancel_build_request",
    DeleteBuildRequest: "delete_build_request",
    DeleteNodeRequest: "delete_node_request",
    AcquireSemaphore: "acquire_semaphore",
    ReleaseSemaphore: "release_semaphore",
}


def dispatch(action: Action, effects: Effects) -> None:
    getattr(effects, _HANDLERS[type(action)])(action)


def apply_decision(decision: Decision, effects: Effects) -> None:
    """Apply ``decision``: before-save actions, the save, after-save actions.

    An exception stops the application where it is; what was saved stays
    saved and the next decision carries on from there.
    """
    for action in decision.before_save():
        dispatch(action, effects)
    if decision.dirty:
        effects.save(decision)
    for action in decision.after_save():
        dispatch(action, effects)
