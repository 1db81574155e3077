"""Queue items: made from events, frozen, prepared, reported.  Pure.

Called by the managers (``base.py``).  An item's uuid is derived from the
event that made it and its target (pipeline, project, branch, ref), so the
same event processed twice — after a crash between saving the item and
acknowledging the event — names the same item, and the pipeline's ``seen``
record turns the second time into a no-op.
"""

from __future__ import annotations

import uuid
from typing import Any

from lockgate.config.freeze import freeze_job_graph
from lockgate.config.layout_model import Layout
from lockgate.model.builds import BuildResult, BuildsetResult
from lockgate.model.queue import ItemState, JobState, JobStatus, QueueItem
from lockgate.scheduler.manager import returned
from lockgate.scheduler.manager.actions import (
    BuildChanged,
    BuildsetStarted,
    ItemReported,
    PrepareItem,
)
from lockgate.scheduler.manager.context import Context
from lockgate.scheduler.manager.snapshot import PipelineEvent

_ITEMS = uuid.UUID("1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b")
_BUILDSETS = uuid.UUID("6a0f3c1e-9b8d-4c2a-8e71-5d4f2b3a1c90")
PREPARE_ATTEMPTS = 3
PREPARE_BACKOFF = 10.0  # seconds, times the number of failures so far

# The pipeline reporter action (Zuul's pipeline attribute) of each result;
# any other is a ``failure``.
_ACTIONS = {
    BuildsetResult.SUCCESS: "success",
    BuildsetResult.CONFIG_ERROR: "config-error",
    BuildsetResult.NO_JOBS: "no-jobs",
    BuildsetResult.DEQUEUED: "dequeue",
    BuildsetResult.MERGE_CONFLICT: "merge-conflict",
    BuildsetResult.MERGE_FAILURE: "merge-conflict",
}


def report_action(result: BuildsetResult) -> str:
    return _ACTIONS.get(result, "failure")


def reporters(ctx: Context, action: str) -> dict[str, Any]:
    """The pipeline's reporters of ``action`` ({connection: config})."""
    pipeline = ctx.snap.pipeline
    if pipeline is None or not hasattr(pipeline, "reporters_for"):
        return {}
    if ctx.state.disabled and action not in ("start", "enqueue"):
        # disable-after-consecutive-failures: only the disabled reporters act.
        return dict(pipeline.reporters_for("disabled"))
    return dict(pipeline.reporters_for(action))


def count_failures(ctx: Context, action: str) -> None:
    """Zuul's ``disable-after-consecutive-failures``: a failure report counts
    (the pipeline is disabled after the report that reaches the limit), a
    success report resets the count."""
    limit = getattr(ctx.snap.pipeline, "disable_after_consecutive_failures", None)
    state = ctx.state
    if action == "success" and state.consecutive_failures:
        state.consecutive_failures = 0
        ctx.state_changed()
    elif action == "failure":
        state.consecutive_failures += 1
        ctx.state_changed()
        if limit and not state.disabled and state.consecutive_failures >= limit:
            state.disabled = True
            ctx.warning(
                f"pipeline {ctx.snap.pipeline_name} disabled after "
                f"{state.consecutive_failures} consecutive failures: "
                "only its disabled reporters act"
            )


def item_uuid(event_id: str, pev: PipelineEvent) -> str:
    t = pev.target
    key = "\0".join([event_id, t.pipeline, t.project, t.branch or "", t.ref])
    return uuid.uuid5(_ITEMS, key).hex


def buildset_uuid(item_uuid: str, resets: int = 0) -> str:
    """An item's buildset; a dependent pipeline restarting the item (a reset)
    starts buildset number ``resets``, whose builds are new builds."""
    key = item_uuid if resets == 0 else f"{item_uuid}\0{resets}"
    return uuid.uuid5(_BUILDSETS, key).hex


def new_item(ctx: Context, pev: PipelineEvent, uuid_: str) -> QueueItem:
    t = pev.target
    change = pev.change
    return QueueItem(
        change=change,
        changes=list(pev.changes),
        uuid=uuid_,
        tenant=ctx.snap.tenant,
        pipeline=ctx.snap.pipeline_name,
        queue=t.project,
        event_id=pev.event.event_id,
        event_type=pev.event.type,
        connection=t.connection,
        project=t.project,
        ref=t.ref,
        branch=t.branch,
        oldrev=t.oldrev,
        newrev=t.newrev,
        changed_files=list(pev.changed_files) if pev.changed_files is not None else None,
        event_timestamp=pev.event.timestamp,
        enqueue_time=ctx.now,
        buildset_uuid=buildset_uuid(uuid_),
        layout_uuid=ctx.snap.layout_uuid,
    )


def freeze(
    ctx: Context,
    item: QueueItem,
    *,
    layout: Layout | None = None,
    previous_layout: Layout | None = None,
) -> list[str]:
    """Freeze the item's job graph into ``item.jobs`` (with ``layout``, a
    speculative one, or the tenant's); returns configuration error messages
    (the item is then reported CONFIG_ERROR)."""
    frozen_with = layout if layout is not None else ctx.snap.layout
    try:
        assert frozen_with is not None, "the pipeline has no layout"
        graph = freeze_job_graph(
            frozen_with,
            item.pipeline,
            item.project,
            item.branch,
            item.changed_files,
            previous_layout=previous_layout,
        )
    except Exception as e:  # noqa: BLE001 - one bad item must not stop the pipeline
        # A bug in freezing, not the user's: reported on the item (and
        # logged by the caller) rather than failing every pass on this event.
        return [f"internal error while freezing the job graph: {type(e).__name__}: {e}"]
    if graph.errors:
        return [e.format() for e in graph.errors]
    item.jobs = [
        JobState(name=job.name, job=job, dependencies=list(graph.dependencies.get(job.name, ())))
        for job in graph.jobs
    ]
    return []


def needed_projects(ctx: Context, item: QueueItem) -> tuple[tuple[str, str], ...]:
    """(connection, project) of the triggering project and every required one."""
    out = {(item.connection, item.project)}
    layout = ctx.snap.layout
    for js in item.jobs:
        for req in js.job.required_projects:
            name = req.name
            if not name or name == item.project:
                continue
            view = layout.project_view(name) if layout is not None else None
            connection = (view.connection if view is not None else None) or item.connection
            out.add((connection, view.name if view is not None else name))
    return tuple(sorted(out))


def prepare(ctx: Context, item: QueueItem) -> bool:
    """Drive a PREPARING item; True once it is ACTIVE."""
    if item.state is not ItemState.PREPARING:
        return True
    result = ctx.snap.prepared.get(item.uuid)
    if result is None:
        if item.prepare_retry_at is None or ctx.now >= item.prepare_retry_at:
            ctx.emit(PrepareItem(item.uuid, item.event_id, needed_projects(ctx, item)))
        return False
    if result.error is not None or result.repos is None:
        item.prepare_attempts += 1
        item.prepare_error = result.error or "no repository state"
        ctx.changed(item)
        if item.prepare_attempts >= PREPARE_ATTEMPTS:
            report(
                ctx,
                item,
                BuildsetResult.ERROR,
                f"Could not prepare the repositories: {item.prepare_error}",
            )
            return False
        # A git server may be back in a moment: try again after a pause
        # (the loop's periodic tick brings the item back).
        item.prepare_retry_at = ctx.now + PREPARE_BACKOFF * item.prepare_attempts
        ctx.warning(
            f"preparing failed (attempt {item.prepare_attempts}, next in "
            f"{PREPARE_BACKOFF * item.prepare_attempts:.0f}s): {item.prepare_error}",
            item,
        )
        return False
    item.repos = dict(result.repos)
    item.state = ItemState.ACTIVE
    item.prepare_error = None
    ctx.changed(item)
    heads = ", ".join(f"{name}@{_short(_commit_of(item, name))}" for name in sorted(item.repos))
    ctx.info(f"repositories ready: {heads}", item)
    return True


def _commit_of(item: QueueItem, name: str) -> str | None:
    from lockgate.scheduler.manager.build_request import item_commit

    if name == item.project:
        return item_commit(item)
    repo = item.repos[name]
    return repo.heads.get(item.branch or "") or repo.heads.get(repo.default_branch)


def _short(sha: str | None) -> str:
    return (sha or "?")[:12]


def item_result(item: QueueItem) -> BuildsetResult:
    """SUCCESS when every voting job succeeded (or was skipped), else FAILURE."""
    for js in item.jobs:
        if js.job.voting and js.result not in (BuildResult.SUCCESS, BuildResult.SKIPPED):
            return BuildsetResult.FAILURE
    return BuildsetResult.SUCCESS


def _duration(js: Any) -> str:
    if js.start_time is None or js.end_time is None:
        return ""
    seconds = max(0, int(js.end_time - js.start_time))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    text = (
        f"{hours}h {minutes:02d}m {seconds:02d}s"
        if hours
        else (f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s")
    )
    return f" in {text}"


def report_message(ctx: Context, item: QueueItem, result: BuildsetResult) -> str:
    """The report text, as Zuul writes it: the pipeline's message, then one
    line per job with its log URL, result and duration."""
    pipeline = ctx.snap.pipeline
    messages: dict[str, str] = dict(getattr(pipeline, "messages", None) or {})
    success = result is BuildsetResult.SUCCESS
    intro = messages.get(
        "success-message" if success else "failure-message",
        "Build succeeded." if success else "Build failed.",
    )
    lines = [intro, ""]
    for js in item.jobs:
        url = f" {js.log_url}" if js.log_url else ""
        voting = "" if js.job.voting else " (non-voting)"
        lines.append(f"- {js.name}{url} : {js.result}{_duration(js)}{voting}")
    warnings = returned.warnings(item)
    if warnings:
        # As Zuul reports them: the builds' zuul.warnings, then problems
        # with their file comments.
        lines += ["", "Warning:", *(f"  {w}" for w in warnings)]
    footer = messages.get("footer-message")
    if footer:
        lines += ["", footer]
    return "\n".join(lines)


def report(
    ctx: Context,
    item: QueueItem,
    result: BuildsetResult,
    message: str,
    comments: dict[str, list[dict[str, Any]]] | None = None,
    *,
    send: bool = True,
) -> None:
    """Report the item (SQL, a log line, the pipeline's reporters) and mark
    it COMPLETED; the manager removes it from its queue.  ``send`` False:
    the review system was told already (a gate's submit carried the vote).
    A report of the jobs' results carries the file comments they returned
    (``zuul.file_comments``) besides ``comments``."""
    if result in (BuildsetResult.SUCCESS, BuildsetResult.FAILURE):
        built, _ = returned.file_comments(item)
        if built:
            merged = {path: list(entries) for path, entries in (comments or {}).items()}
            for path, entries in built.items():
                merged.setdefault(path, []).extend(entries)
            comments = merged
    item.result = result
    item.report_time = ctx.now
    item.state = ItemState.COMPLETED
    ctx.changed(item)
    action = report_action(result)
    ctx.emit(
        ItemReported(
            item,
            result,
            message,
            tuple((js.name, js.result) for js in item.jobs),
            action=action,
            reporters=reporters(ctx, action) if send else {},
            comments=dict(comments or {}),
        )
    )
    count_failures(ctx, action)


def report_new_item(ctx: Context, item: QueueItem, result: BuildsetResult, message: str) -> None:
    """Report an item that never entered a queue (no jobs, broken config)."""
    ctx.emit(BuildsetStarted(item))
    item.result = result
    item.report_time = ctx.now
    item.state = ItemState.COMPLETED
    action = report_action(result)
    ctx.emit(ItemReported(item, result, message, action=action, reporters=reporters(ctx, action)))


def cancel_jobs(ctx: Context, item: QueueItem) -> None:
    """Every unfinished job of ``item`` is CANCELED (the garbage collection
    that follows cancels its build and node requests)."""
    for js in item.jobs:
        if js.done:
            continue
        if js.build_uuid is not None:
            ctx.emit(
                BuildChanged(
                    item,
                    js.name,
                    js.build_uuid,
                    result=BuildResult.CANCELED,
                    end_time=ctx.now,
                    final=True,
                )
            )
        js.status, js.result, js.end_time = JobStatus.COMPLETED, BuildResult.CANCELED, ctx.now
        js.paused = False
    item.merge_request = None  # released by the garbage collection
    ctx.changed(item)
