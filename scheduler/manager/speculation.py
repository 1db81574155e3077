"""Who builds on whom in a dependent queue, and restarting items.  Pure.

Called by ``dependent.py``.  Each item of a dependent queue is tested on the
speculative state of the item it builds on (``QueueItem.item_ahead``; None:
the branch heads), which is that item's own state plus its changes — so
the whole chain shares one base, fixed by the first item's merge:

- ``base_of``: before an item asks the mergers, it takes the state it
  builds on (the changes ahead, in merge order, and the branch heads the
  first item's merge started from); it waits while that item's merge is
  not done yet.
- ``reset``: when what an item builds on changes (an item ahead failed,
  left, or a promote reordered the queue) it restarts on a new base: its
  builds are canceled, a new buildset begins (``resets`` + 1: new build,
  merge request and SQL ids, derived as always), and every item that was
  built on it restarts too.
"""

from __future__ import annotations

from lockgate.model.queue import ItemState, QueueItem
from lockgate.scheduler.manager import items
from lockgate.scheduler.manager.actions import BuildsetStarted
from lockgate.scheduler.manager.context import Context


def live(ctx: Context, uuid: str | None) -> QueueItem | None:
    """The item ``uuid`` if it is still in the pipeline."""
    if uuid is None or uuid in ctx.decision.removed:
        return None
    item = ctx.items.get(uuid)
    if item is None or item.state is ItemState.COMPLETED:
        return None
    return item


def base_of(ctx: Context, item: QueueItem) -> bool:
    """Give ``item`` the state it builds on; False while that is not known
    (the item ahead has no merge result yet)."""
    ahead = live(ctx, item.item_ahead)
    if ahead is None:
        changes_ahead: list = []
        repo_state: dict[str, dict[str, str]] = {}
    else:
        if ahead.state is ItemState.PREPARING:
            return False
        changes_ahead = ahead.speculative_changes
        repo_state = {p: dict(b) for p, b in ahead.repo_state.items()}
    if item.changes_ahead != changes_ahead or item.repo_state != repo_state:
        item.changes_ahead = list(changes_ahead)
        item.repo_state = repo_state
        ctx.changed(item)
    return True


def behind(ctx: Context, item: QueueItem) -> list[QueueItem]:
    """The live items built directly on ``item``."""
    return [
        other
        for uuid in ctx.state.item_uuids()
        if (other := live(ctx, uuid)) is not None and other.item_ahead == item.uuid
    ]


def reset(ctx: Context, item: QueueItem, ahead: str | None, why: str) -> None:
    """Restart ``item`` on ``ahead`` (None: the branch heads), and every item
    that was built on it (on it again, once it has its new state)."""
    followers = behind(ctx, item)
    items.cancel_jobs(ctx, item)
    item.resets += 1
    item.buildset_uuid = items.buildset_uuid(item.uuid, item.resets)
    item.item_ahead = ahead
    item.changes_ahead = []
    item.jobs = []
    item.state = ItemState.PREPARING
    item.merge_request = None
    item.merge_steps = []
    item.repo_state = {}
    item.merge_commits = {}
    item.repos = {}
    item.changed_files = None
    item.prepare_attempts = 0
    item.prepare_error = None
    item.prepare_retry_at = None
    item.held_result = None
    item.held_message = ""
    item.held_comments = {}
    item.submit = None
    item.submit_detail = None
    ctx.changed(item)
    ctx.emit(BuildsetStarted(item))
    ctx.info(f"restarting {item.change_id} (buildset {item.resets}): {why}", item)
    for follower in followers:
        reset(ctx, follower, item.uuid, f"the item it was tested on ({item.change_id}) restarted")
