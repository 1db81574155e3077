"""The head of a dependent queue: items leave by merging or by failing.  Pure.

Called by ``dependent.py`` for an item whose jobs are done and that builds
on nothing (every item ahead of it merged: it is at the head of its
queue's speculative chain).

- A failing item (a voting job failed; a merge conflict or configuration
  error held since its merge) is reported with the failure reporters and
  removed; the window shrinks; items that need it leave too ("depends on a
  change that failed to merge"); items built on it were restarted already.
- A succeeding item is merged: it is recorded ``SubmitState.PENDING`` and
  the loop asked to submit it (``SubmitItem``, after the save, with the
  success reporters' votes and message).  The loop's answer comes back in
  ``snapshot.submits``: merged -> the item is reported SUCCESS (the review
  system already has the vote), the window grows, items built on it now
  build on the branch; refused -> reported MERGE_FAILURE (merge-conflict,
  else failure reporters) with what the review system said, and removed:
  the items built on it restart.  A PENDING item without an answer (the
  scheduler died after asking) asks again: the loop submits only changes
  not merged yet, so nothing merges twice.
"""

from __future__ import annotations

from lockgate.model.builds import BuildResult, BuildsetResult
from lockgate.model.queue import ChangeQueue, ItemState, QueueItem, SubmitState
from lockgate.scheduler.manager import changes, items, returned, window
from lockgate.scheduler.manager.actions import SubmitItem
from lockgate.scheduler.manager.context import Context
from lockgate.scheduler.manager.speculation import behind, live

NEEDED_FAILED = "This change depends on a change that failed to merge."


def failing(item: QueueItem) -> bool:
    """Whether ``item`` cannot merge as it is tested now."""
    if item.held_result is not None:
        return True
    return any(
        js.done and js.job.voting and js.result not in (BuildResult.SUCCESS, BuildResult.SKIPPED)
        for js in item.jobs
    )


def report_failure(ctx: Context, queue: ChangeQueue, item: QueueItem) -> None:
    result = item.held_result or BuildsetResult.FAILURE
    message = item.held_message or items.report_message(ctx, item, BuildsetResult.FAILURE)
    items.report(ctx, item, result, message, comments=item.held_comments)
    size = window.shrink(queue, ctx.snap.pipeline)
    ctx.info(f"{item.change_id} failed ({result}); window of queue {queue.name} now {size}", item)


def merge(ctx: Context, queue: ChangeQueue, item: QueueItem) -> bool:
    """Submit ``item`` or read how its submit went; True once it is reported
    (merged or refused) and may be removed."""
    if item.submit is None:
        item.submit = SubmitState.PENDING
        ctx.changed(item)
        _ask(ctx, item)
        ctx.info(f"{item.change_id} succeeded at the head of {queue.name}: submitting", item)
        return False
    outcome = ctx.snap.submits.get(item.uuid)
    if outcome is None:
        # Asked before, and the answer was lost (the scheduler stopped):
        # ask again; changes merged already are not submitted again.
        _ask(ctx, item)
        return False
    message = items.report_message(ctx, item, BuildsetResult.SUCCESS)
    if outcome.merged:
        item.submit = SubmitState.MERGED
        items.report(ctx, item, BuildsetResult.SUCCESS, message, send=False)
        size = window.grow(queue, ctx.snap.pipeline)
        for follower in behind(ctx, item):
            # Its state is now the branch's: it builds on nothing any more.
            follower.item_ahead = None
            ctx.changed(follower)
        ctx.info(f"{item.change_id} merged; window of queue {queue.name} now {size}", item)
        return True
    item.submit = SubmitState.REFUSED
    item.submit_detail = outcome.detail or "the review system did not merge it"
    text = changes.conflict_message(
        ctx, f"{item.change_id} could not be merged: {item.submit_detail}"
    )
    items.report(ctx, item, BuildsetResult.MERGE_FAILURE, text)
    ctx.warning(f"{item.change_id} was not merged: {item.submit_detail}", item)
    return True


def _ask(ctx: Context, item: QueueItem) -> None:
    ctx.emit(
        SubmitItem(
            item,
            tuple(item.changes),
            items.report_message(ctx, item, BuildsetResult.SUCCESS),
            items.reporters(ctx, "success"),
            comments=returned.file_comments(item)[0],
        )
    )


def dequeue_needers(ctx: Context, gone: QueueItem, why: str = NEEDED_FAILED) -> list[QueueItem]:
    """Items that need ``gone`` (which left without merging) leave too, and
    those that need them; returns them (reported, to be removed)."""
    out: list[QueueItem] = []
    for uuid in ctx.state.item_uuids():
        other = live(ctx, uuid)
        if other is None or other is gone or gone.uuid not in other.needs:
            continue
        if other.state is ItemState.COMPLETED:
            continue
        ctx.info(f"dequeuing {other.change_id}: it needs {gone.change_id}, which left", other)
        items.cancel_jobs(ctx, other)
        items.report(ctx, other, BuildsetResult.FAILURE, f"{_intro(ctx)}\n\n{why}".strip())
        out.append(other)
    return out


def _intro(ctx: Context) -> str:
    messages = dict(getattr(ctx.snap.pipeline, "messages", None) or {})
    return messages.get("failure-message") or "Build failed."
