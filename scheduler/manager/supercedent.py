"""The supercedent pipeline manager (Zuul's ``manager: supercedent``): only
the newest item per project-branch waits.

Items are grouped by project and branch (a ref without a branch, such as a
tag: by project and ref), one queue each, and run one at a time as in a
serial pipeline (``serial.py``).  When an item enters a queue, every item
between the running head and it is removed — it is superseded: a newer
state of the same branch will be tested instead.  A superseded item ran
nothing; it is recorded (SQL: DEQUEUED) and not reported to the review
system, as in Zuul.  Typical for post-merge pipelines where only the
branch's latest state matters (publishing documentation, images).  Pure.
"""

from __future__ import annotations

from lockgate.model.builds import BuildsetResult
from lockgate.model.queue import ItemState, QueueItem
from lockgate.scheduler.manager import items
from lockgate.scheduler.manager.context import Context
from lockgate.scheduler.manager.serial import SerialPipelineManager


class SupercedentPipelineManager(SerialPipelineManager):
    name = "supercedent"

    def queue_key(self, ctx: Context, item: QueueItem) -> tuple[str, bool]:
        return f"{item.project}@{item.branch or item.ref}", False

    def place(self, ctx: Context, item: QueueItem) -> None:
        super().place(ctx, item)
        queue = next(q for q in ctx.state.queues if item.uuid in q.items)
        for uuid in list(queue.items[1:-1]):
            older = ctx.items.get(uuid)
            if older is None or older.state is ItemState.COMPLETED:
                continue
            ctx.info(f"superseded by item {item.uuid[:12]} ({item.change_id[:12]})", older)
            items.cancel_jobs(ctx, older)
            items.report(
                ctx,
                older,
                BuildsetResult.DEQUEUED,
                f"Superseded by a newer item for {item.project} {item.branch or item.ref}.",
                send=False,
            )
            self._drop(ctx, older)
