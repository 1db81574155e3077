"""The serial pipeline manager (Zuul's ``manager: serial``): one item at a
time per queue, for deployments.

Projects sharing a ``queue`` share one queue, as in a dependent pipeline
(``dependent.queue_name``); a project without one has a queue of its own.
Only the head of each queue prepares and runs jobs; the items behind wait
their turn, untouched (no speculation: each is tested on its branch as it
is when its turn comes).  The head is reported and removed when its jobs
are done — a failure affects nobody else — and the next item starts in
the same decision.  Nothing is merged: serial pipelines run after review
(``post-review``) or report like an independent pipeline.

``supercedent.py`` builds on this walk.  Pure, like the rest of
``lockgate.scheduler.manager``.
"""

from __future__ import annotations

from lockgate.model.queue import ChangeQueue, QueueItem
from lockgate.scheduler.manager.base import PipelineManager
from lockgate.scheduler.manager.context import Context
from lockgate.scheduler.manager.dependent import queue_name
from lockgate.scheduler.manager.snapshot import PipelineEvent


class SerialPipelineManager(PipelineManager):
    name = "serial"

    # --- queues -----------------------------------------------------------------------

    def queue_key(self, ctx: Context, item: QueueItem) -> tuple[str, bool]:
        """The queue ``item`` joins, and whether it outlives its last item."""
        return queue_name(ctx.snap.layout, item.project, item.branch)

    def _index(self, ctx: Context) -> dict[tuple[str, str, str | None], QueueItem]:
        index = ctx.scratch.get("refs")
        if index is None:
            index = ctx.scratch["refs"] = {}
            for uuid in ctx.state.item_uuids():
                item = ctx.items.get(uuid)
                if item is not None:
                    index[(item.project, item.ref, item.newrev)] = item
        return index

    def is_in_pipeline(self, ctx: Context, pev: PipelineEvent) -> QueueItem | None:
        t = pev.target
        item = self._index(ctx).get((t.project, t.ref, t.newrev))
        if item is None or item.uuid in ctx.decision.removed:
            return None
        return item

    def place(self, ctx: Context, item: QueueItem) -> None:
        name, shared = self.queue_key(ctx, item)
        item.queue = name
        queue = next((q for q in ctx.state.queues if q.name == name), None)
        if queue is None:
            queue = ChangeQueue(name=name, dynamic=not shared, window=1)
            ctx.state.queues.append(queue)
        queue.items.append(item.uuid)
        self._index(ctx)[(item.project, item.ref, item.newrev)] = item

    def remove(self, ctx: Context, item: QueueItem) -> None:
        for queue in ctx.state.queues:
            if item.uuid in queue.items:
                queue.items.remove(item.uuid)
        ctx.scratch["compact"] = True

    def finish(self, ctx: Context) -> None:
        if ctx.scratch.get("compact"):
            ctx.state.queues = [q for q in ctx.state.queues if q.items or not q.dynamic]

    # --- the walk -----------------------------------------------------------------------

    def process_items(self, ctx: Context) -> None:
        for queue in list(ctx.state.queues):
            for uuid in list(queue.items):
                if uuid in ctx.decision.removed:
                    continue
                item = ctx.items.get(uuid)
                if item is None:
                    queue.items.remove(uuid)
                    ctx.state_changed()
                    continue
                self.process_item(ctx, item)
                if uuid not in ctx.decision.removed:
                    break  # the head is still running: the rest wait
