"""The life of one job of an item: nodes, build, retries, result.

Called by the managers for each ACTIVE item (``advance_jobs``); pure.  A
job's ``JobStatus`` moves only forward, driven by what the snapshot shows
of its node request and build request:

- WAITING: when every dependency succeeded the job starts (the built-in
  ``noop`` succeeds at once; a job without nodes asks for a build
  directly; others ask for nodes); when a dependency did not succeed the
  job is SKIPPED.
- NODES_REQUESTED: the request is FULFILLED -> ask for a build on its
  nodes, in their executor zone (``zones.py``); FAILED -> NODE_FAILURE.
  A request submitted but not recorded (the scheduler died in between) is
  adopted; one never submitted is submitted again.
- BUILD_REQUESTED: the build uuid is recorded before the request is
  submitted, so a missing request is submitted again under the same uuid
  (never a second build).  RUNNING -> its start is recorded; COMPLETED ->
  its result; RETRY, or RUNNING with its executor's lock gone ("lost") ->
  the next attempt on fresh nodes, up to the job's ``attempts``
  (then RETRY_LIMIT).

What a build returns (``zuul_return``) is recorded on the job when it
pauses or completes (``returned.py``): its ``zuul.child_jobs`` skip the
children it leaves out.  A paused build counts as succeeded for the jobs
that depend on it; once every one of them is done it is asked to resume
(``ResumeBuildRequest``).  A paused build that is retried takes its
dependent jobs back to WAITING (they ran against a build that is gone).
A job that ``requires`` what jobs ahead ``provide`` waits for them
(``provides.py``).  A dependency that is skipped does not hold back a job
that depends on it softly.
"""

from __future__ import annotations

import uuid
from typing import Any

from lockgate.model.builds import BuildResult, BuildState
from lockgate.model.change import Change
from lockgate.model.nodes import NodeRequest, NodeRequestState
from lockgate.model.queue import BuildAttempt, JobState, JobStatus, QueueItem
from lockgate.scheduler.manager import provides, returned, semaphores
from lockgate.scheduler.manager.actions import (
    BuildChanged,
    ResumeBuildRequest,
    SubmitBuildRequest,
    SubmitNodeRequest,
)
from lockgate.scheduler.manager.build_request import make_build_request
from lockgate.scheduler.manager.context import Context
from lockgate.scheduler.manager.zones import build_zone

NOOP = "noop"
SUCCESS = BuildResult.SUCCESS
_BUILDS = uuid.UUID("c2d8a3f4-5e6b-4f70-8a91-b2c3d4e5f607")


def build_uuid(item: QueueItem, js: JobState) -> str:
    """The uuid of ``js``'s current attempt: derived from the buildset, the
    job and the attempt, so a decision made again after a crash names the
    same build (one SQL row, one build request) rather than a new one."""
    return uuid.uuid5(_BUILDS, f"{item.buildset_uuid}\0{js.name}\0{js.attempt}").hex


def advance_jobs(
    ctx: Context, item: QueueItem, *, post_review: bool = False, own: list[Change] | None = None
) -> None:
    """Move every job of ``item`` as far as the snapshot allows.  ``own``:
    the changes the item is of (its manager's ``own_changes``); the others it
    is tested with are changes it depends on (``requires`` looks there)."""
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
            if js.status is JobStatus.WAITING and _maybe_start(ctx, item, js, post_review, own):
                progressed = True
    _resume_paused(ctx, item)


def _satisfied(js: JobState, dep: JobState) -> bool | None:
    """Whether dependency ``dep`` lets ``js`` run: True (it succeeded or is
    paused), False (``js`` is skipped), None (not yet)."""
    if dep.paused and not dep.done:
        return True
    if not dep.done:
        return None
    if dep.result == SUCCESS:
        return True
    return dep.result == BuildResult.SKIPPED and returned.is_soft(js, dep.name)


def _maybe_start(
    ctx: Context, item: QueueItem, js: JobState, post_review: bool, own: list[Change] | None
) -> bool:
    deps = [item.job(name) for name in js.dependencies]
    verdicts = [(d, _satisfied(js, d)) for d in deps if d is not None]
    failed = [d for d, ok in verdicts if ok is False]
    if failed:
        js.build_uuid = build_uuid(item, js)
        reason = f"dependency {failed[0].name} {failed[0].result}"
        _complete(ctx, item, js, BuildResult.SKIPPED, detail=reason, create=True)
        return True
    if None in deps or any(ok is None for _, ok in verdicts):
        return False
    needs = provides.check(ctx, item, js, own)
    if needs.error is not None:
        js.build_uuid = build_uuid(item, js)
        _complete(ctx, item, js, BuildResult.FAILURE, detail=needs.error, create=True)
        return True
    if not needs.ready:
        return False
    if js.job.requires and js.requirement_artifacts != needs.artifacts:
        js.requirement_artifacts = needs.artifacts
        ctx.changed(item)
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
        zone = build_zone(req.executor_zone, ctx.snap.executor_zones)
        js.zone = zone.zone
        if zone.fallback:
            ctx.warning(f"job {js.name}: {zone.fallback}", item)
        if zone.unserved:
            ctx.warning(f"job {js.name}: {zone.unserved}", item)
        _request_build(ctx, item, js, post_review)
    elif req.state is NodeRequestState.FAILED:
        js.attempt += 1
        js.build_uuid = build_uuid(item, js)
        _complete(
            ctx,
            item,
            js,
            BuildResult.NODE_FAILURE,
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
            BuildResult.ERROR,
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
    elif req.state is BuildState.RUNNING and req.paused and not js.paused:
        _take_returned(js, req.result_data, req.secret_result_data, req.warnings)
        js.paused = True
        ctx.changed(item)
        ctx.emit(BuildChanged(item, js.name, js.build_uuid, event="PAUSED", event_time=ctx.now))
        ctx.info(f"build of job {js.name} paused", item, build=js.build_uuid)
        _skip_children(ctx, item, js)
    elif req.state is BuildState.RUNNING and js.paused and not req.paused:
        js.paused = False
        ctx.changed(item)
        ctx.emit(BuildChanged(item, js.name, js.build_uuid, event="RESUMED", event_time=ctx.now))
        ctx.info(f"build of job {js.name} resumed", item, build=js.build_uuid)
    elif req.state is BuildState.COMPLETED:
        result = req.result or BuildResult.ERROR
        if result == BuildResult.RETRY:
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
            js.paused = False
            _take_returned(js, req.result_data, req.secret_result_data, req.warnings)
            _complete(
                ctx,
                item,
                js,
                result,
                detail=req.error_detail,
                end_time=req.end_time,
                log_url=req.log_url,
                artifacts=tuple(returned.build_artifacts(js.result_data)),
                provides=tuple(js.job.provides),
            )
            if result == SUCCESS:
                _skip_children(ctx, item, js)


def _take_returned(
    js: JobState, data: dict[str, Any], secret: dict[str, Any], warnings: list[str]
) -> None:
    js.result_data = dict(data or {})
    js.secret_result_data = dict(secret or {})
    js.warnings = list(warnings or [])


def _skip_children(ctx: Context, item: QueueItem, js: JobState) -> None:
    """``zuul.child_jobs``: the children ``js`` leaves out are skipped."""
    for child in returned.children_to_skip(item, js):
        if child.status is not JobStatus.WAITING:
            continue
        child.build_uuid = build_uuid(item, child)
        _complete(
            ctx,
            item,
            child,
            BuildResult.SKIPPED,
            detail=f"Skipped due to child_jobs return value in job {js.name}",
            create=True,
        )


def _resume_paused(ctx: Context, item: QueueItem) -> None:
    """A paused build whose dependent jobs are all done may go on."""
    for js in item.jobs:
        if not js.paused or js.status is not JobStatus.BUILD_REQUESTED or not js.build_uuid:
            continue
        if not all(d.done for d in returned.descendants(item, js.name)):
            continue
        observed = ctx.snap.builds.get(js.build_uuid)
        if observed is None or observed.request.resume_requested or not observed.request.paused:
            continue
        ctx.emit(ResumeBuildRequest(js.zone, js.build_uuid, item.event_id))
        ctx.info(f"resuming build of job {js.name}: its dependent jobs are done", item)


def _reset_descendants(ctx: Context, item: QueueItem, js: JobState) -> None:
    """``js`` paused, and its build is gone: the jobs that ran against it
    start again once its next attempt pauses (their requests are released
    by the garbage collection)."""
    for other in returned.descendants(item, js.name):
        if other.status is JobStatus.WAITING:
            continue
        if other.build_uuid and not other.done:
            ctx.emit(
                BuildChanged(
                    item,
                    other.name,
                    other.build_uuid,
                    result=BuildResult.CANCELED,
                    end_time=ctx.now,
                    error_detail=f"{js.name} is retried",
                    final=False,
                )
            )
        semaphores.release(ctx, item, other)
        if other.node_request_id:
            other.released_node_requests.append(other.node_request_id)
        other.status = JobStatus.WAITING
        other.node_request_id = None
        other.node_ids = []
        other.build_uuid = None
        other.start_time = other.end_time = other.requested_time = None
        other.result = other.error_detail = other.log_url = other.worker = None
        other.paused = False
        other.requirement_artifacts = None
        other.reset_attempts = other.attempt
        _take_returned(other, {}, {}, [])
    ctx.info(f"jobs depending on {js.name} start again with its next attempt", item)


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
    if js.paused:
        js.paused = False
        _reset_descendants(ctx, item, js)
    _take_returned(js, {}, {}, [])
    if js.tries >= js.job.attempts:
        _complete(
            ctx,
            item,
            js,
            BuildResult.RETRY_LIMIT,
            detail=f"{why} (attempt {js.tries} of {js.job.attempts})",
            end_time=end_time,
            log_url=log_url,
        )
        return
    end = end_time if end_time is not None else ctx.now
    js.retries.append(
        BuildAttempt(js.build_uuid, js.attempt, BuildResult.RETRY, js.start_time, end, log_url, why)
    )
    ctx.emit(
        BuildChanged(
            item,
            js.name,
            js.build_uuid,
            result=BuildResult.RETRY,
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
    result: BuildResult,
    *,
    detail: str | None = None,
    end_time: float | None = None,
    log_url: str | None = None,
    create: bool = False,
    artifacts: tuple[dict[str, Any], ...] | None = None,
    provides: tuple[str, ...] | None = None,
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
            artifacts=artifacts,
            provides=provides,
        )
    )
    suffix = f": {detail}" if detail else ""
    ctx.info(f"job {js.name} {result}{suffix}", item, build=js.build_uuid)
