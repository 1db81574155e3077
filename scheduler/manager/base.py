"""What every pipeline manager does; the managers differ in how items queue.

``PipelineManager.decide(snapshot) -> Decision`` is the whole decision
core for one pipeline: no I/O, no clock (``snapshot.now``), no randomness
(ids derive from the event's).  In order:

1. trigger events become items (``enqueue``): each is frozen at once; a
   broken job graph reports CONFIG_ERROR, an empty one NO_JOBS;
2. each item in queue order is prepared (its repository state resolved),
   its jobs advanced (``jobs.py``) and, when every job is done, reported
   and removed;
3. requests nobody references are released (``garbage.py``).

Subclasses say where an item goes (``place``), when a new one is a
duplicate (``is_in_pipeline``) and how it leaves (``remove``); the
independent manager is the first (``independent.py``).  The dependent
manager (``dependent.py``) adds speculation (items build on the ones
ahead) through the ``manage`` and ``process_items`` hooks.
"""

from __future__ import annotations

from lockgate.model.builds import BuildsetResult
from lockgate.model.change import Change
from lockgate.model.queue import SEEN_TTL, ItemState, QueueItem
from lockgate.scheduler.manager import changes, garbage, items, semaphores
from lockgate.scheduler.manager.actions import BuildsetStarted, Decision
from lockgate.scheduler.manager.context import Context
from lockgate.scheduler.manager.jobs import advance_jobs
from lockgate.scheduler.manager.snapshot import PipelineEvent, PipelineSnapshot


class PipelineManager:
    name = "base"
    # Whether changes that need an entering change follow it in (the loop
    # asks the review systems: ``lockgate.scheduler.behind``).
    enqueues_behind = False

    # --- the decision ---------------------------------------------------------------

    def decide(self, snap: PipelineSnapshot) -> Decision:
        ctx = Context(snap)
        if snap.state.layout_uuid != snap.layout_uuid and snap.layout_uuid is not None:
            snap.state.layout_uuid = snap.layout_uuid
            ctx.state_changed()
        if snap.pipeline is None:
            self.dequeue_all(ctx)
        else:
            self.dequeue_changes(ctx)
            self.manage(ctx)
            for pev in snap.events:
                self.enqueue(ctx, pev)
            self.process_items(ctx)
        self.finish(ctx)
        semaphores.collect(ctx)
        garbage.collect(ctx)
        self.prune_seen(ctx)
        return ctx.decision

    def manage(self, ctx: Context) -> None:
        """Management events for this pipeline (a dependent one's promotes)."""

    def process_items(self, ctx: Context) -> None:
        """Each item in queue order (a dependent manager walks queue by queue,
        keeping the nearest non-failing item)."""
        for item in list(self.ordered(ctx)):
            self.process_item(ctx, item)

    def ordered(self, ctx: Context) -> list[QueueItem]:
        out = []
        for uuid in ctx.state.item_uuids():
            item = ctx.items.get(uuid)
            if item is not None:
                out.append(item)
        return out

    # --- events -> items --------------------------------------------------------------

    def enqueue(self, ctx: Context, pev: PipelineEvent) -> None:
        uuid = items.item_uuid(pev.event.event_id, pev)
        if uuid in ctx.state.seen or uuid in ctx.items:
            ctx.debug(f"event already enqueued as item {uuid[:12]}", event_id=pev.event.event_id)
            return
        ctx.state.seen[uuid] = ctx.now
        ctx.state_changed()
        if pev.not_ready:
            ctx.info(
                f"{pev.target.project} {pev.target.ref} not enqueued in "
                f"{ctx.snap.pipeline_name}: {pev.not_ready}",
                event_id=pev.event.event_id,
            )
            return
        duplicate = self.is_in_pipeline(ctx, pev)
        if duplicate is not None:
            ctx.info(
                f"{pev.target.project} {pev.target.ref} is already in pipeline "
                f"{ctx.snap.pipeline_name} as item {duplicate.uuid[:12]}",
                event_id=pev.event.event_id,
            )
            return
        item = items.new_item(ctx, pev, uuid)
        if item.change is not None:
            # Frozen once merged (the files and configuration it changes).
            self._enqueued(ctx, item)
            return
        errors = items.freeze(ctx, item)
        if errors:
            ctx.warning("configuration error: " + "; ".join(errors), item)
            items.report_new_item(
                ctx,
                item,
                BuildsetResult.CONFIG_ERROR,
                "This change has a configuration error:\n\n" + "\n".join(errors),
            )
            return
        if not item.jobs:
            ctx.info(f"no jobs for {item.project} {item.ref} in {item.pipeline}", item)
            items.report_new_item(ctx, item, BuildsetResult.NO_JOBS, "No jobs to run.")
            return
        self._enqueued(ctx, item)

    def _enqueued(self, ctx: Context, item: QueueItem) -> None:
        self.place(ctx, item)
        ctx.items[item.uuid] = item
        ctx.changed(item)
        ctx.state_changed()
        ctx.emit(BuildsetStarted(item))
        if item.change is not None:
            ctx.info(
                f"enqueued change {item.change_id} of {item.project} in "
                f"{item.tenant}/{item.pipeline}"
                + (
                    " with " + ", ".join(c.describe() for c in item.changes[:-1])
                    if len(item.changes) > 1
                    else ""
                ),
                item,
                buildset=item.buildset_uuid,
            )
            return
        newrev = (item.newrev or "")[:12] or "(branch head)"
        ctx.info(
            f"enqueued {item.project} {item.ref} {newrev} in {item.tenant}/{item.pipeline} "
            f"with jobs {', '.join(js.name for js in item.jobs)}",
            item,
            buildset=item.buildset_uuid,
        )

    def dequeue_changes(self, ctx: Context) -> None:
        """Items whose change got a new patchset (if the pipeline says so) or
        was abandoned leave the pipeline; their builds are canceled."""
        if not ctx.snap.dequeues:
            return
        on_new_patchset = bool(getattr(ctx.snap.pipeline, "dequeue_on_new_patchset", True))
        for dequeue in ctx.snap.dequeues:
            if dequeue.new_patchset and not on_new_patchset:
                continue
            if not dequeue.applies_to(ctx.snap.pipeline_name):
                continue
            for item in list(self.ordered(ctx)):
                if item.state is ItemState.COMPLETED:
                    continue
                if not changes.matches(dequeue, item, self.own_changes(item)):
                    continue
                ctx.info(f"dequeuing {item.change_id}: {dequeue.reason}", item)
                items.cancel_jobs(ctx, item)
                items.report(
                    ctx,
                    item,
                    BuildsetResult.DEQUEUED,
                    changes.dequeue_message(ctx, dequeue.reason),
                    send=dequeue.report,
                )
                self._drop(ctx, item)

    def own_changes(self, item: QueueItem) -> list[Change]:
        """The changes ``item`` is *of* (not merely tested with): its change."""
        return [item.change] if item.change is not None else []

    def is_in_pipeline(self, ctx: Context, pev: PipelineEvent) -> QueueItem | None:
        """An item already in the pipeline that this event would duplicate."""
        return None

    def place(self, ctx: Context, item: QueueItem) -> None:
        raise NotImplementedError

    def remove(self, ctx: Context, item: QueueItem) -> None:
        raise NotImplementedError

    def finish(self, ctx: Context) -> None:
        """Tidy the queues once every item was processed."""

    # --- items --------------------------------------------------------------------------

    def process_item(self, ctx: Context, item: QueueItem) -> None:
        if item.state is ItemState.COMPLETED:
            # Reported already (the removal did not reach ZooKeeper): remove.
            self._drop(ctx, item)
            return
        prepare = changes.prepare if item.change is not None else items.prepare
        if not prepare(ctx, item):
            if item.state is ItemState.COMPLETED:
                self._drop(ctx, item)
            return
        post_review = bool(getattr(ctx.snap.pipeline, "post_review", False))
        advance_jobs(ctx, item, post_review=post_review, own=self.own_changes(item))
        if all(js.done for js in item.jobs):
            result = items.item_result(item)
            items.report(ctx, item, result, items.report_message(ctx, item, result))
            self._drop(ctx, item)

    def _drop(self, ctx: Context, item: QueueItem) -> None:
        self.remove(ctx, item)
        ctx.decision.removed.add(item.uuid)
        ctx.decision.changed.discard(item.uuid)
        ctx.state_changed()

    def dequeue_all(self, ctx: Context) -> None:
        """The pipeline left the layout: every item is dequeued (its builds
        are canceled by the garbage collection that follows)."""
        for item in list(self.ordered(ctx)):
            if item.state is not ItemState.COMPLETED:
                ctx.warning(
                    f"pipeline {ctx.snap.pipeline_name} is no longer in the layout: dequeuing", item
                )
                items.cancel_jobs(ctx, item)
                items.report(ctx, item, BuildsetResult.DEQUEUED, "The pipeline was removed.")
            self._drop(ctx, item)
        self.finish(ctx)

    def prune_seen(self, ctx: Context) -> None:
        cutoff = ctx.now - SEEN_TTL
        old = [u for u, t in ctx.state.seen.items() if t < cutoff]
        for uuid in old:
            del ctx.state.seen[uuid]
        if old:
            ctx.state_changed()
