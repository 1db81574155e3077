"""The life of one job of an item: nodes, build, retries, result.

Called by the managers for each ACTIVE item (``advance_jobs``); pure.  A
job's ``JobStatus`` moves only forward, driven by what the snapshot shows
of its node request and build request:

- WAITING: when every dependency succeeded the job starts (the built-in
  ``noop`` succeeds at once; a job without nodes asks for a build
  directly; others ask for nodes); when a dependency did not succeed the
  job is SKIPPED.
- NODES_REQUESTED: the request is FULFILLED -> ask for a build on its
  nodes; FAILED -> NODE_FAILURE.  A request submitted but not recorded
  (the scheduler died in between) is adopted; one never submitted is
  submitted again.
- BUILD_REQUESTED: the build uuid is recorded before the request is
  submitted, so a missing request is submitted again under the same uuid
  (never a second build).  RUNNING -> its start is recorded; COMPLETED ->
  its result; RETRY, or RUNNING with its executor's lock gone ("lost") ->
  the next attempt on fresh nodes, up to the job's ``attempts``
  (then RETRY_LIMIT).
"""

from __future__ import annotations

import uuid

from lockgate.model.builds import BuildResult, BuildState
from lockgate.model.nodes import NodeRequest, NodeRequestState
from lockgate.model.queue import BuildAttempt, JobState, JobStatus, QueueItem
from lockgate.scheduler.manager import semaphores
from lockgate.scheduler.manager.actions import BuildChanged, SubmitBuildRequest, SubmitNodeRequest
from lockgate.scheduler.manager.build_request import make_build_request
from lockgate.scheduler.manager.context import Context

NOOP = "noop"
SUCCESS = BuildResult.SUCCESS.value
_BUILDS = uuid.UUID("c2d8a3f4-5e6b-4f70-8a91-b2c3d4e5f607")


def build_uuid(item: QueueItem, js: JobState) -> str:
    """The uuid of ``js``'s current attempt: derived from the buildset, the
    job and the attempt, so a decision made again after a crash names the
    same build (one SQL row, one build request) rather than a new one."""
    return uuid.uuid5(_BUILDS, f"{item.buildset_uuid}\0{js.name}\0{js.attempt}").hex


def advance_jobs(ctx: Context, item: QueueItem, *, post_review: bool = False) -> None:
    """Move every job of ``item`` as far as the snapshot allows."""
    for js in item.jobs:
        if js.status is JobStatus.NODES_REQUESTED:
            _check_nodes(ctx, item, js, post_review)
        elif js.status is JobStatus.BUILD_REQUESTED:
            _check_build(ctx, item, js, post_review)
    # Starting (or skipping) a job may let others start: repeat until still.
    progressed = True
    while progressed:
        progressed = False
        for js in item.jobs:
            if js.status is JobStatus.WAITING and _maybe_start(ctx, item, js, post_review):
                progressed = True


def _maybe_start(ctx: Context, item: QueueItem, js: JobState, post_review: bool) -> bool:
    deps = [item.job(name) for name in js.dependencies]
    failed = [d for d in deps if d is not None and d.done and d.result != SUCCESS]
    if failed:
        js.build_uuid = build_uuid(item, js)
        reason = f"dependency {failed[0].name} {failed[0].result}"
        _complete(ctx, item, js, BuildResult.SKIPPED.value, detail=reason, create=True)
        return True
    if not all(d is not None and d.done for d in deps):
        return False
    if js.job.name == NOOP:
        js.attempt = 1
        js.build_uuid = build_uuid(item, js)
        js.start_time = ctx.now
        _complete(ctx, item, js, SUCCESS, create=True)
        return True
    if not semaphores.try_acquire(ctx, item, js, resources_first=False):
        return False
    if js.job.nodes:
        _request_nodes(ctx, item, js)
    elif semaphores.try_acquire(ctx, item, js, resources_first=True):
        _request_build(ctx, item, js, post_review)
    else:
        return False
    return True


def _request_nodes(ctx: Context, item: QueueItem, js: JobState) -> None:
    js.status = JobStatus.NODES_REQUESTED
    js.node_request_id = None
    js.node_ids = []
    ctx.changed(item)
    _submit_nodes(ctx, item, js)


def _submit_nodes(ctx: Context, item: QueueItem, js: JobState) -> None:
    ctx.emit(
        SubmitNodeRequest(
            NodeRequest(
                labels=list(js.job.labels),
                tenant=item.tenant,
                pipeline=item.pipeline,
                buildset_uuid=item.buildset_uuid,
                job_name=js.name,
                event_id=item.event_id,
                created=ctx.now,
            )
        )
    )
    ctx.info(f"requesting nodes {js.job.labels} for job {js.name}", item)


def _check_nodes(ctx: Context, item: QueueItem, js: JobState, post_review: bool) -> None:
    if js.node_request_id is None:
        found = ctx.unclaimed[item.buildset_uuid][js.name]
        if not found:
            # Decided but never submitted (the scheduler stopped in between).
            _submit_nodes(ctx, item, js)
            return
        js.node_request_id = found.pop(0).id
        ctx.changed(item)
        ctx.debug(f"job {js.name}: node request {js.node_request_id}", item)
    req = ctx.snap.node_requests.get(js.node_request_id)
    if req is None:
        ctx.warning(
            f"job {js.name}: node request {js.node_request_id} vanished; requesting nodes again",
            item,
        )
        js.released_node_requests.append(js.node_request_id)
        _request_nodes(ctx, item, js)
    elif req.state is NodeRequestState.FULFILLED:
        if not semaphores.try_acquire(ctx, item, js, resources_first=True):
            return  # the nodes wait with the job (``resources-first``)
        js.node_ids = list(req.node_ids)
        ctx.info(
            f"job {js.name}: nodes {js.node_ids} ready (request {req.id}, provider {req.provider})",
            item,
        )
        _request_build(ctx, item, js, post_review)
    elif req.state is NodeRequestState.FAILED:
        js.attempt += 1
        js.build_uuid = build_uuid(item, js)
        _complete(
            ctx,
            item,
            js,
            BuildResult.NODE_FAILURE.value,
            detail=req.failure_reason or "node request failed",
            create=True,
        )


def _request_build(ctx: Context, item: QueueItem, js: JobState, post_review: bool) -> None:
    js.attempt += 1
    js.build_uuid = build_uuid(item, js)
    js.requested_time = ctx.now
    js.start_time = js.end_time = None
    js.result = js.error_detail = js.log_url = js.worker = None
    try:
        request = make_build_request(item, js, now=ctx.now, post_review=post_review)
    except KeyError as e:
        _complete(
            ctx,
            item,
            js,
            BuildResult.ERROR.value,
            create=True,
            detail=f"no repository state for required project {e.args[0]}",
        )
        return
    js.status = JobStatus.BUILD_REQUESTED
    ctx.changed(item)
    ctx.emit(
        BuildChanged(
            item,
            js.name,
            js.build_uuid,
            create=True,
            voting=js.job.voting,
            nodeset=js.job.nodeset_name,
        )
    )
    ctx.emit(SubmitBuildRequest(request))
    ctx.info(f"requesting build of job {js.name} (attempt {js.attempt})", item, build=js.build_uuid)


def _check_build(ctx: Context, item: QueueItem, js: JobState, post_review: bool) -> None:
    assert js.build_uuid is not None
    observed = ctx.snap.builds.get(js.build_uuid)
    if observed is None:
        # Recorded but never submitted (the scheduler stopped in between):
        # submit it now, under the same uuid.
        ctx.emit(
            SubmitBuildRequest(make_build_request(item, js, now=ctx.now, post_review=post_review))
        )
        ctx.info(f"submitting build request of job {js.name} again", item, build=js.build_uuid)
        return
    req = observed.request
    if req.state in (BuildState.RUNNING, BuildState.COMPLETED) and js.start_time is None:
        js.start_time = req.start_time if req.start_time is not None else ctx.now
        js.worker = req.worker
        ctx.changed(item)
        ctx.emit(BuildChanged(item, js.name, js.build_uuid, start_time=js.start_time))
        ctx.info(f"build of job {js.name} started on {req.worker}", item, build=js.build_uuid)
    if req.state is BuildState.RUNNING and observed.lost:
        _retry(ctx, item, js, "its executor went away", post_review, req.end_time)
    elif req.state is BuildState.COMPLETED:
        result = req.result or BuildResult.ERROR.value
        if result == BuildResult.RETRY.value:
            _retry(
                ctx,
                item,
                js,
                req.error_detail or "the executor asked for a retry",
                post_review,
                req.end_time,
                log_url=req.log_url,
            )
        else:
            js.log_url = req.log_url
            _complete(
                ctx,
                item,
                js,
                result,
                detail=req.error_detail,
                end_time=req.end_time,
                log_url=req.log_url,
            )


def _retry(
    ctx: Context,
    item: QueueItem,
    js: JobState,
    why: str,
    post_review: bool,
    end_time: float | None,
    log_url: str | None = None,
) -> None:
    assert js.build_uuid is not None
    if js.attempt >= js.job.attempts:
        _complete(
            ctx,
            item,
            js,
            BuildResult.RETRY_LIMIT.value,
            detail=f"{why} (attempt {js.attempt} of {js.job.attempts})",
            end_time=end_time,
            log_url=log_url,
        )
        return
    end = end_time if end_time is not None else ctx.now
    js.retries.append(
        BuildAttempt(
            js.build_uuid, js.attempt, BuildResult.RETRY.value, js.start_time, end, log_url, why
        )
    )
    ctx.emit(
        BuildChanged(
            item,
            js.name,
            js.build_uuid,
            result=BuildResult.RETRY.value,
            end_time=end,
            log_url=log_url,
            error_detail=why,
            final=False,
        )
    )
    ctx.warning(
        f"build of job {js.name} attempt {js.attempt} will be retried: {why}",
        item,
        build=js.build_uuid,
    )
    if js.node_request_id:
        js.released_node_requests.append(js.node_request_id)
    js.node_request_id = None
    js.node_ids = []
    js.build_uuid = None
    if js.job.nodes:
        _request_nodes(ctx, item, js)
    else:
        _request_build(ctx, item, js, post_review)


def _complete(
    ctx: Context,
    item: QueueItem,
    js: JobState,
    result: str,
    *,
    detail: str | None = None,
    end_time: float | None = None,
    log_url: str | None = None,
    create: bool = False,
) -> None:
    assert js.build_uuid is not None
    js.status = JobStatus.COMPLETED
    semaphores.release(ctx, item, js)
    js.result = result
    js.error_detail = detail
    js.end_time = end_time if end_time is not None else ctx.now
    ctx.changed(item)
    ctx.emit(
        BuildChanged(
            item,
            js.name,
            js.build_uuid,
            create=create,
            voting=js.job.voting,
            nodeset=js.job.nodeset_name,
            result=result,
            start_time=js.start_time,
            end_time=js.end_time,
            log_url=log_url,
            error_detail=detail,
            final=True,
        )
    )
    suffix = f": {detail}" if detail else ""
    ctx.info(f"job {js.name} {result}{suffix}", item, build=js.build_uuid)
