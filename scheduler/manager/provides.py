"""``requires`` and ``provides``: a job waits for the jobs ahead that provide
what it requires, and gets their artifacts.  Pure.

Called by ``jobs.py`` before a job whose dependencies are met starts.  As
Zuul does it, the providers are looked for:

1. in the items ahead of the job's item in its queue (a dependent
   pipeline's speculative chain), nearest first: every job there that
   provides a required name must have succeeded or be paused, else the job
   waits;
2. for each change the item depends on that no item ahead holds: in the
   live item of that change in this pipeline (same rule), else in the
   build history of this pipeline (SQL) — the loop looks it up when asked
   (``LookupProvides``; the answer is in the next snapshot's ``provided``).
   A provider found there that did not succeed fails the job, saying which
   build failed.

The artifacts (each marked with the project, change and job that made it)
are kept on the job (``JobState.requirement_artifacts``), farthest first,
and reach the build as ``zuul.artifacts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lockgate.model.builds import BuildResult
from lockgate.model.change import Change, ChangeKey
from lockgate.model.queue import JobState, QueueItem
from lockgate.scheduler.manager import returned
from lockgate.scheduler.manager.actions import LookupProvides
from lockgate.scheduler.manager.changes import same_patchset
from lockgate.scheduler.manager.context import Context

SUCCESS = BuildResult.SUCCESS


@dataclass
class Requirements:
    """Whether the job may start; its required artifacts; or why it fails."""

    ready: bool
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def check(
    ctx: Context, item: QueueItem, js: JobState, own: list[Change] | None = None
) -> Requirements:
    """``own``: the changes ``item`` is of (default: its change); the other
    changes it is tested with are the ones it depends on."""
    requires = set(js.job.requires)
    if not requires:
        return Requirements(True)
    found: list[dict[str, Any]] = []
    mine = own if own is not None else ([item.change] if item.change is not None else [])
    covered: set[ChangeKey] = {c.key for c in mine}
    # 1. The items ahead, nearest first.
    seen: set[str] = set()
    ahead = item.item_ahead
    while ahead and ahead not in seen:
        seen.add(ahead)
        other = ctx.items.get(ahead)
        if other is None:
            break
        if not _live(other, requires, found):
            return Requirements(False)
        covered.update(c.key for c in other.changes)
        ahead = other.item_ahead
    # 2. The changes the item depends on that no item ahead holds.
    needed = [c for c in item.speculative_changes if c.key not in covered]
    history: list[Change] = []
    for change in needed:
        other = _live_item_of(ctx, item, change)
        if other is not None:
            if not _live(other, requires, found):
                return Requirements(False)
        else:
            history.append(change)
    if history:
        answer = ctx.snap.provided.get((item.uuid, js.name))
        if answer is None:
            ctx.emit(
                LookupProvides(
                    item_uuid=item.uuid,
                    job_name=js.name,
                    tenant=item.tenant,
                    pipeline=item.pipeline,
                    requires=tuple(sorted(requires)),
                    changes=tuple(history),
                )
            )
            return Requirements(False)
        if answer.error:
            return Requirements(False, error=answer.error)
        found.extend(reversed([dict(a) for a in answer.artifacts]))
    found.reverse()
    return Requirements(True, found)


def _live_item_of(ctx: Context, item: QueueItem, change: Change) -> QueueItem | None:
    """The item of ``change`` (that patchset) in this pipeline, if one is
    queued (or was reported in this very decision: its results are final)."""
    for other in ctx.items.values():
        if other is item or other.change is None:
            continue
        if same_patchset(other.change, change):
            return other
    return None


def _live(other: QueueItem, requires: set[str], found: list[dict[str, Any]]) -> bool:
    """Add the artifacts of ``other``'s providing jobs (nearest first, so the
    caller's final reversal puts them farthest first); False while one of
    them has not succeeded (or paused)."""
    if other.change is None:
        return True  # a ref item provides nothing speculative
    for js in other.jobs:
        if not requires.intersection(js.job.provides):
            continue
        if js.paused or (js.done and js.result == SUCCESS):
            found.extend(reversed(returned.marked_artifacts(other, js)))
            continue
        return False
    return True
