"""Semaphores in the decision: when a job may take a slot, and when it gives
it back (Zuul's ``semaphore`` object and a job's ``semaphores``).

A job naming semaphores (``FrozenJob.semaphores``: ``{name,
resources_first}``) holds a slot of each from before its node request —
or, with ``resources-first``, from when its nodes are ready — until its
build ends.  The slots live in ZooKeeper (``lockgate.zk.semaphores``); the
decision sees them in ``snapshot.semaphores`` and keeps its own copy up to
date as it takes and frees slots, so two items of one pass never both take
the last one, and items ahead in the queue are served first.

Crash safety comes from naming and from ``collect``: a holder is named
after the pipeline, the item and the job (a decision made again names the
same holder, and taking a slot twice is harmless), and ``collect``, at the
end of every decision, frees the slots of this pipeline's holders that no
job needs any more (a scheduler that died between the save and the
release) and takes again the slots a job needs but does not have (one that
died between the save and the acquire).
"""

from __future__ import annotations

from lockgate.model.queue import JobState, JobStatus, QueueItem
from lockgate.scheduler.manager.actions import AcquireSemaphore, ReleaseSemaphore
from lockgate.scheduler.manager.context import Context

_VIEW = "semaphores"


def holder(item: QueueItem, js: JobState) -> str:
    """The holder name of ``js`` of ``item`` (stable across decisions)."""
    return f"{item.pipeline}/{item.uuid}/{js.name}"


def _wanted(js: JobState, *, resources_first: bool | None = None) -> list[str]:
    out = []
    for sem in js.job.semaphores:
        if resources_first is None or bool(sem.get("resources_first")) == resources_first:
            out.append(str(sem["name"]))
    return out


def _view(ctx: Context) -> dict[str, list[str]]:
    view: dict[str, list[str]] | None = ctx.scratch.get(_VIEW)
    if view is None:
        view = {name: list(state.holders) for name, state in ctx.snap.semaphores.items()}
        ctx.scratch[_VIEW] = view
    return view


def _max(ctx: Context, name: str) -> int:
    layout = ctx.snap.layout
    defined = getattr(layout, "semaphores", {}).get(name) if layout is not None else None
    if defined is not None:
        return int(defined.max)
    state = ctx.snap.semaphores.get(name)
    return state.max if state is not None else 1


def try_acquire(ctx: Context, item: QueueItem, js: JobState, *, resources_first: bool) -> bool:
    """Take the slots ``js`` needs at this stage (before its nodes:
    ``resources_first`` False; before its build: True).  False, and the
    job marked as waiting for the first full semaphore, if any is full."""
    wanted = _wanted(js, resources_first=resources_first)
    if not wanted:
        return True
    name = holder(item, js)
    view = _view(ctx)
    full = [
        s for s in wanted if name not in view.get(s, []) and len(view.get(s, [])) >= _max(ctx, s)
    ]
    if full:
        waiting = f"semaphore {full[0]}"
        if js.waiting_for != waiting:
            js.waiting_for = waiting
            ctx.changed(item)
            ctx.info(f"job {js.name} waits for semaphore {full[0]}", item)
        return False
    for sem in wanted:
        holders = view.setdefault(sem, [])
        if name not in holders:
            holders.append(name)
            ctx.emit(AcquireSemaphore(sem, name, _max(ctx, sem), item.event_id))
            ctx.debug(f"job {js.name} takes semaphore {sem}", item)
    if js.waiting_for is not None:
        js.waiting_for = None
        ctx.changed(item)
    return True


def release(ctx: Context, item: QueueItem, js: JobState) -> None:
    """Give back every slot ``js`` holds (its build ended, or it never ran)."""
    name = holder(item, js)
    view = _view(ctx)
    for sem in _wanted(js):
        holders = view.get(sem, [])
        if name in holders:
            holders.remove(name)
            ctx.emit(ReleaseSemaphore(sem, name, item.event_id))
            ctx.debug(f"job {js.name} releases semaphore {sem}", item)


def _needed(ctx: Context) -> dict[str, set[str]]:
    """Semaphore -> holders of this pipeline that need their slot now."""
    out: dict[str, set[str]] = {}
    for uuid, item in ctx.items.items():
        if uuid in ctx.decision.removed:
            continue
        for js in item.jobs:
            if js.status is JobStatus.BUILD_REQUESTED:
                sems = _wanted(js)
            elif js.status is JobStatus.NODES_REQUESTED:
                sems = _wanted(js, resources_first=False)
            else:
                continue
            for sem in sems:
                out.setdefault(sem, set()).add(holder(item, js))
    return out


def collect(ctx: Context) -> None:
    """Free the slots this pipeline's jobs no longer need; take again those
    they need but lost (see the module docstring)."""
    if not ctx.snap.semaphores and not ctx.scratch.get(_VIEW):
        if not any(js.job.semaphores for item in ctx.items.values() for js in item.jobs):
            return
    view = _view(ctx)
    needed = _needed(ctx)
    prefix = f"{ctx.snap.pipeline_name}/"
    for sem in sorted(view):
        for name in list(view[sem]):
            if name.startswith(prefix) and name not in needed.get(sem, set()):
                view[sem].remove(name)
                ctx.emit(ReleaseSemaphore(sem, name))
                ctx.debug(f"semaphore {sem}: releasing {name}, no job needs it")
    for sem in sorted(needed):
        holders = view.setdefault(sem, [])
        for name in sorted(needed[sem] - set(holders)):
            holders.append(name)
            ctx.emit(AcquireSemaphore(sem, name, _max(ctx, sem)))
            ctx.debug(f"semaphore {sem}: taking again the slot of {name}")
