"""The dependent pipeline manager (Zuul's ``manager: dependent``): the gate.

Projects sharing a ``queue`` (per branch where the queue says
``per-branch``) share one change queue; a project without one has a queue
of its own.  Each item is tested on the speculative state of the items
ahead of it plus itself (``speculation.py``), merges only from the head
(``merging.py``), and only the first ``window`` items of a queue run jobs
(``window.py``).

Walking a queue from its head, the manager keeps the *nearest non-failing
item* (Zuul's NNFI): an item must build on it; one that builds on anything
else (an item ahead failed, left, or a promote moved things) restarts on
it.  A failing item stays where it is, built on what it was tested on,
until it reaches the head: then it is reported and removed — if an item
ahead of it fails first, it restarts without that item and may pass.

Enqueueing a change also enqueues the open changes it needs (git parents,
``Depends-On:``; the event carries them in merge order) as items ahead of
it, each merging on its own, provided each could be enqueued itself (it
meets the pipeline's requirements: ``PipelineEvent.unmet``) and shares
the queue; a dependency cycle is one item (``cycles.py``).  Items that
need an item that leaves without merging leave too.  Pure.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from lockgate.config.layout_model import Layout
from lockgate.model.builds import BuildsetResult
from lockgate.model.change import Change, ChangeKey
from lockgate.model.queue import ChangeQueue, ItemState, QueueItem, SubmitState
from lockgate.scheduler.manager import changes, items, merging, window
from lockgate.scheduler.manager.base import PipelineManager
from lockgate.scheduler.manager.context import Context
from lockgate.scheduler.manager.jobs import advance_jobs
from lockgate.scheduler.manager.snapshot import PipelineEvent, Target
from lockgate.scheduler.manager.speculation import base_of, live, reset

_NEEDED = uuid.UUID("9a3e5c71-2b4d-4f68-8e0a-7c1d3b5f9e24")


def queue_name(layout: Layout | None, project: str, branch: str | None) -> tuple[str, bool]:
    """The change queue of ``project`` on ``branch`` and whether it is shared
    (named by a ``queue``) rather than the project's own."""
    meta = layout.get_project_metadata(project) if layout is not None else None
    if meta is None or not meta.queue_name:
        return project, False
    if meta.queue is not None and meta.queue.per_branch and branch:
        return f"{meta.queue_name}@{branch}", True
    return meta.queue_name, True


def fail_fast(layout: Layout | None, pipeline: str, project: str, branch: str | None) -> bool:
    """The project's ``fail-fast`` in ``pipeline`` (the last stanza saying wins)."""
    value = False
    if layout is None:
        return value
    for section in layout.pipeline_sections(project, branch).get(pipeline, ()):
        if section.fail_fast is not None:
            value = bool(section.fail_fast)
    return value


def units_of(pev: PipelineEvent) -> list[tuple[Change, ...]]:
    """The event's changes grouped into what becomes one item each, in merge
    order: a dependency cycle together, every other change alone."""
    cycle_of: dict[ChangeKey, tuple[ChangeKey, ...]] = {}
    for cycle in pev.cycles:
        for key in cycle:
            cycle_of[key] = tuple(cycle)
    triggering = pev.change
    assert triggering is not None, "units_of is given a change's event"
    out: list[tuple[Change, ...]] = []
    done: set[ChangeKey] = set()
    for change in pev.changes:
        if change.key in done:
            continue
        members = cycle_of.get(change.key)
        if members is None:
            unit: tuple[Change, ...] = (change,)
        else:
            unit = tuple(c for c in pev.changes if c.key in members)
        done.update(c.key for c in unit)
        out.append(unit)
    # The triggering change's unit goes last, whatever the order found.
    last = next(i for i, u in enumerate(out) if any(c.key == triggering.key for c in u))
    out.append(out.pop(last))
    return out


class DependentPipelineManager(PipelineManager):
    name = "dependent"
    enqueues_behind = True

    # --- queues ---------------------------------------------------------------------

    def _queue(self, ctx: Context, name: str, shared: bool) -> ChangeQueue:
        for queue in ctx.state.queues:
            if queue.name == name:
                return queue
        queue = ChangeQueue(name=name, dynamic=not shared, window=window.initial(ctx.snap.pipeline))
        ctx.state.queues.append(queue)
        ctx.state_changed()
        return queue

    def _queue_of(self, ctx: Context, item: QueueItem) -> ChangeQueue | None:
        for queue in ctx.state.queues:
            if item.uuid in queue.items:
                return queue
        return None

    def place(self, ctx: Context, item: QueueItem) -> None:
        name, shared = queue_name(ctx.snap.layout, item.project, item.branch)
        item.queue = name
        queue = self._queue(ctx, name, shared)
        # It builds on the last item that is not failing (the walk corrects
        # this if anything ahead changes).
        item.item_ahead = None
        for uuid_ in reversed(queue.items):
            other = live(ctx, uuid_)
            if other is not None and not merging.failing(other):
                item.item_ahead = other.uuid
                break
        queue.items.append(item.uuid)

    def remove(self, ctx: Context, item: QueueItem) -> None:
        queue = self._queue_of(ctx, item)
        if queue is not None:
            queue.items.remove(item.uuid)
        ctx.scratch["compact"] = True

    def finish(self, ctx: Context) -> None:
        if ctx.scratch.get("compact"):
            ctx.state.queues = [q for q in ctx.state.queues if q.items or not q.dynamic]

    # --- enqueue ----------------------------------------------------------------------

    def _in_pipeline(self, ctx: Context, change: Change) -> QueueItem | None:
        for uuid_ in ctx.state.item_uuids():
            item = live(ctx, uuid_)
            if item is None:
                continue
            for c in item.changes:
                if changes.same_patchset(c, change):
                    return item
        return None

    def enqueue(self, ctx: Context, pev: PipelineEvent) -> None:
        if pev.change is None:
            # A ref (not a change) in a dependent pipeline: as any manager.
            super().enqueue(ctx, pev)
            return
        event_id = pev.event.event_id
        uuid_ = items.item_uuid(event_id, pev)
        if uuid_ in ctx.state.seen or uuid_ in ctx.items:
            ctx.debug(f"event already enqueued as item {uuid_[:12]}", event_id=event_id)
            return
        ctx.state.seen[uuid_] = ctx.now
        ctx.state_changed()
        change = pev.change
        if pev.not_ready:
            ctx.info(
                f"change {change.describe()} not enqueued in {ctx.snap.pipeline_name}: "
                f"{pev.not_ready}",
                event_id=event_id,
            )
            return
        refusal = self._refusal(ctx, pev)
        if refusal is not None:
            self._refuse(ctx, pev, uuid_, refusal)
            return
        needs: list[str] = []
        units = units_of(pev)
        for position, unit in enumerate(units):
            found = self._in_pipeline(ctx, unit[-1])
            if found is not None:
                if position == len(units) - 1:
                    ctx.info(
                        f"change {change.describe()} is already in pipeline "
                        f"{ctx.snap.pipeline_name} as item {found.uuid[:12]}",
                        event_id=event_id,
                    )
                    return
                needs.append(found.uuid)
                continue
            if position == len(units) - 1:
                unit_uuid = uuid_
            else:
                key = f"{event_id}\0{ctx.snap.pipeline_name}\0{unit[-1].key}\0{unit[-1].patchset}"
                unit_uuid = uuid.uuid5(_NEEDED, key).hex
                ctx.state.seen[unit_uuid] = ctx.now
            item = items.new_item(ctx, self._unit_event(pev, unit), unit_uuid)
            item.needs = list(needs)
            self._enqueued(ctx, item)
            needs.append(item.uuid)

    def _unit_event(self, pev: PipelineEvent, unit: tuple[Change, ...]) -> PipelineEvent:
        last = unit[-1]
        target = Target(
            pipeline=pev.target.pipeline,
            project=last.project,
            connection=last.connection,
            ref=last.ref,
            branch=last.branch,
            newrev=last.commit,
        )
        return replace(pev, target=target, changes=unit)

    def _refusal(self, ctx: Context, pev: PipelineEvent) -> tuple[str, bool] | None:
        """Why the event's change cannot be enqueued, and whether to tell
        the change's review system (a cycle split across queues) rather than
        only the log (needed changes not ready yet)."""
        layout = ctx.snap.layout
        change = pev.change
        assert change is not None
        mine = queue_name(layout, change.project, change.branch)[0]
        unmet = dict(pev.unmet)
        units = units_of(pev)
        for unit in units:
            names = {queue_name(layout, c.project, c.branch)[0] for c in unit}
            if len(names) > 1:
                listed = ", ".join(f"{c.describe()} ({c.project})" for c in unit)
                return (
                    f"The changes of a dependency cycle must share a change queue in "
                    f"{ctx.snap.pipeline_name}: {listed} are in queues "
                    f"{', '.join(sorted(names))}.",
                    True,
                )
        for unit in units[:-1]:
            for c in unit:
                if self._in_pipeline(ctx, c) is not None:
                    continue
                if c.key in unmet:
                    return (
                        f"change {change.describe()} needs change {c.describe()}, "
                        f"which cannot be enqueued: {unmet[c.key]}",
                        False,
                    )
                theirs = queue_name(layout, c.project, c.branch)[0]
                if theirs != mine:
                    return (
                        f"change {change.describe()} needs change {c.describe()} of "
                        f"{c.project}, which does not share a change queue with "
                        f"{change.project} in {ctx.snap.pipeline_name}",
                        False,
                    )
        return None

    def _refuse(
        self, ctx: Context, pev: PipelineEvent, uuid_: str, refusal: tuple[str, bool]
    ) -> None:
        message, tell = refusal
        ctx.info(
            f"not enqueued in {ctx.snap.pipeline_name}: {message}", event_id=pev.event.event_id
        )
        if tell:
            item = items.new_item(ctx, pev, uuid_)
            items.report_new_item(ctx, item, BuildsetResult.FAILURE, message)

    # --- management -------------------------------------------------------------------

    def manage(self, ctx: Context) -> None:
        for promote in ctx.snap.promotes:
            self._promote(ctx, promote.changes, promote.event_id)

    def _promote(self, ctx: Context, keys: tuple[ChangeKey, ...], event_id: str) -> None:
        wanted: list[QueueItem] = []
        for key in keys:
            for uuid_ in ctx.state.item_uuids():
                item = live(ctx, uuid_)
                if item is not None and any(c.key == key for c in item.changes):
                    if item not in wanted:
                        wanted.append(item)
        if not wanted:
            ctx.info(f"promote: no item of {', '.join(map(str, keys))}", event_id=event_id)
            return
        for queue in ctx.state.queues:
            moved = [i for i in wanted if i.uuid in queue.items]
            if not moved:
                continue
            order: list[str] = []
            # What is being merged stays ahead; what a promoted item needs
            # goes ahead of it.
            for uuid_ in queue.items:
                item = ctx.items.get(uuid_)
                if item is not None and item.submit is SubmitState.PENDING:
                    order.append(uuid_)
            for item in moved:
                for need in item.needs:
                    if need in queue.items and need not in order:
                        order.append(need)
                if item.uuid not in order:
                    order.append(item.uuid)
            order += [u for u in queue.items if u not in order]
            if order != queue.items:
                queue.items = order
                ctx.state_changed()
            ctx.info(
                f"promoted {', '.join(i.change_id for i in moved)} to the head of "
                f"queue {queue.name}",
                event_id=event_id,
            )

    def own_changes(self, item: QueueItem) -> list[Change]:
        # Needed changes are items of their own: ``changes`` is the unit.
        return list(item.changes)

    def dequeue_changes(self, ctx: Context) -> None:
        before = set(ctx.decision.removed)
        super().dequeue_changes(ctx)
        for uuid_ in sorted(ctx.decision.removed - before):
            gone = ctx.items.get(uuid_)
            if gone is not None:
                self._cascade(ctx, gone, f"A change it needs ({gone.change_id}) was dequeued.")

    def _cascade(self, ctx: Context, gone: QueueItem, why: str = merging.NEEDED_FAILED) -> None:
        for other in merging.dequeue_needers(ctx, gone, why):
            self._drop(ctx, other)
            self._cascade(ctx, other, why)

    # --- the walk -----------------------------------------------------------------------

    def process_items(self, ctx: Context) -> None:
        for queue in list(ctx.state.queues):
            nnfi: str | None = None
            position = 0
            for uuid_ in list(queue.items):
                if uuid_ in ctx.decision.removed:
                    continue
                item = ctx.items.get(uuid_)
                if item is None:
                    queue.items.remove(uuid_)
                    ctx.state_changed()
                    continue
                nnfi, stays = self._process(ctx, queue, item, position, nnfi)
                position += 1 if stays else 0

    def _process(
        self, ctx: Context, queue: ChangeQueue, item: QueueItem, position: int, nnfi: str | None
    ) -> tuple[str | None, bool]:
        """One item; returns the nearest non-failing item after it and
        whether the item is still in the queue."""
        if item.state is ItemState.COMPLETED:
            self._drop(ctx, item)
            return nnfi, False
        failing_need = next(
            (n for n in item.needs if (o := live(ctx, n)) is not None and merging.failing(o)),
            None,
        )
        if item.item_ahead != nnfi and item.submit is not SubmitState.PENDING:
            ahead = ctx.items.get(item.item_ahead or "")
            why = (
                "it is now at the head of its queue"
                if nnfi is None
                else f"it now builds on {ctx.items[nnfi].change_id}"
            )
            if ahead is not None and ahead.uuid not in ctx.decision.removed:
                why += f" (the item it was tested on, {ahead.change_id}, is failing or moved)"
            reset(ctx, item, nnfi, why)
        if failing_need is not None:
            # It cannot merge before what it needs; it leaves with it.
            if any(not js.done for js in item.jobs):
                ctx.info("a change it needs is failing: canceling its jobs", item)
                items.cancel_jobs(ctx, item)
            return nnfi, True
        if window.actionable(queue, position) and self._prepare(ctx, item):
            if item.held_result is None:
                advance_jobs(
                    ctx,
                    item,
                    post_review=bool(getattr(ctx.snap.pipeline, "post_review", False)),
                    own=self.own_changes(item),
                )
                if merging.failing(item) and any(not js.done for js in item.jobs):
                    if fail_fast(ctx.snap.layout, item.pipeline, item.project, item.branch):
                        ctx.info("fail-fast: a job failed, canceling the others", item)
                        items.cancel_jobs(ctx, item)
        if item.state is ItemState.COMPLETED:
            # Reported while preparing (no jobs, an error of the mergers).
            self._drop(ctx, item)
            self._cascade(ctx, item)
            return nnfi, False
        done = item.state is ItemState.ACTIVE and all(js.done for js in item.jobs)
        if item.item_ahead is None and done:
            if merging.failing(item):
                merging.report_failure(ctx, queue, item)
                self._drop(ctx, item)
                self._cascade(ctx, item)
                return nnfi, False
            if merging.merge(ctx, queue, item):
                self._drop(ctx, item)
                if item.submit is SubmitState.REFUSED:
                    self._cascade(ctx, item)
                return nnfi, False
        if merging.failing(item):
            return nnfi, True
        return item.uuid, True

    def _prepare(self, ctx: Context, item: QueueItem) -> bool:
        if item.state is not ItemState.PREPARING:
            return True
        if item.merge_request is None and not base_of(ctx, item):
            return False
        return changes.prepare(ctx, item, hold=True)
