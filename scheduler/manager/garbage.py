"""Requests nobody references any more: released.  Pure.

Called at the end of every ``decide``.  A node request is referenced while
its job waits for nodes or builds on them; a build request while its job
waits for its result.  Everything else of this pipeline is left over: a
finished job's nodes (deleting the request returns them to the launcher),
an earlier attempt, an item dequeued or reported, a request submitted twice
around a crash.  A build an executor still runs is asked to cancel first
and deleted once its executor lets go.
"""

from __future__ import annotations

from lockgate.model.builds import BuildState
from lockgate.model.queue import JobStatus
from lockgate.scheduler.manager.actions import (
    CancelBuildRequest,
    DeleteBuildRequest,
    DeleteMergeRequest,
    DeleteNodeRequest,
)
from lockgate.scheduler.manager.context import Context

_LIVE = (JobStatus.NODES_REQUESTED, JobStatus.BUILD_REQUESTED)


def collect(ctx: Context) -> None:
    removed = ctx.decision.removed
    live_items = [i for u, i in ctx.items.items() if u not in removed]
    nodes_in_use: set[str] = set()
    builds_in_use: set[str] = set()
    for item in live_items:
        for js in item.jobs:
            if js.status in _LIVE and js.node_request_id:
                nodes_in_use.add(js.node_request_id)
            if js.status is JobStatus.BUILD_REQUESTED and js.build_uuid:
                builds_in_use.add(js.build_uuid)
            # Forget released requests once they are gone.
            gone = [r for r in js.released_node_requests if r not in ctx.snap.node_requests]
            if gone:
                js.released_node_requests = [r for r in js.released_node_requests if r not in gone]
                ctx.changed(item)
    merges_in_use = {i.merge_request for i in live_items if i.merge_request}
    for uuid, merge in sorted(ctx.snap.merges.items()):
        if uuid not in merges_in_use:
            ctx.emit(DeleteMergeRequest(uuid))
            ctx.debug(f"releasing merge request {uuid[:12]} (item {merge.item_uuid[:12]})")
    for req_id, node_req in sorted(ctx.snap.node_requests.items()):
        if req_id not in nodes_in_use:
            ctx.emit(DeleteNodeRequest(req_id, node_req.event_id))
            ctx.debug(
                f"releasing node request {req_id} (job {node_req.job_name})",
                event_id=node_req.event_id,
            )
    for uuid, observed in sorted(ctx.snap.builds.items()):
        if uuid in builds_in_use:
            continue
        req = observed.request
        if req.state is BuildState.COMPLETED or not observed.locked:
            ctx.emit(DeleteBuildRequest(req.zone, uuid, req.event_id))
            ctx.debug(
                f"deleting build request of job {req.job.name}", event_id=req.event_id, build=uuid
            )
        elif not req.cancel_requested:
            ctx.emit(CancelBuildRequest(req.zone, uuid, req.event_id))
            ctx.info(
                f"canceling build of job {req.job.name}: no item needs it any more",
                event_id=req.event_id,
                build=uuid,
            )
