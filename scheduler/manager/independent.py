"""The independent pipeline manager (Zuul's ``manager: independent``):
check, post, periodic, release pipelines.

Every item is tested on its own, against the branch as it is: each gets a
change queue of its own, nothing is speculated, a failure affects nobody
else.  A ref already in the pipeline (same project, ref and new revision;
for a timer item, the same branch still being tested) is not enqueued
again.  Pure, like the rest of ``lockgate.scheduler.manager``.
"""

from __future__ import annotations

from lockgate.model.queue import ChangeQueue, QueueItem
from lockgate.scheduler.manager.base import PipelineManager
from lockgate.scheduler.manager.context import Context
from lockgate.scheduler.manager.snapshot import PipelineEvent


class IndependentPipelineManager(PipelineManager):
    name = "independent"

    def _index(self, ctx: Context) -> dict[tuple[str, str, str | None], QueueItem]:
        # Built once per decision: a pipeline may hold thousands of items.
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
        ctx.state.queues.append(ChangeQueue(name=item.queue, items=[item.uuid], dynamic=True))
        self._index(ctx)[(item.project, item.ref, item.newrev)] = item

    def remove(self, ctx: Context, item: QueueItem) -> None:
        for queue in ctx.state.queues:
            if item.uuid in queue.items:
                queue.items.remove(item.uuid)
        # Dynamic queues live as long as their item; dropped in one pass at
        # the end (``finish``) rather than one list removal per item.
        ctx.scratch["compact"] = True

    def finish(self, ctx: Context) -> None:
        if ctx.scratch.get("compact"):
            ctx.state.queues = [q for q in ctx.state.queues if q.items or not q.dynamic]
